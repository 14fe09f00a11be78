"""ResNet v1 and v2 (research/slim) and ResNet v1 beta (DeepLab): their declared facts."""

from typing import Tuple

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import UNIT_RANGE
from nets.catalogue.spec import VGG_RANGE


def _resnet_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally or is 1x1
  return 1, ('every convolution and pool pads SAME, so a layer of stride s maps n pixels to ceil(n / s) >= 1: '
             'any size builds, and below the nominal stride the last feature maps stay 1x1')


def _resnet_levels(scope: str, unit: str, units: Tuple[int, int, int], stem: Tuple[str, int]) -> Tuple[Level, ...]:
  """ResNet levels: the stem, then the unit before each block's strided last one, then block4 (v1), or its
  normalization 'postnorm' (v2: the pre-activation design normalizes only after the last block).

  research/slim strides the last unit of blocks 1-3, so `blockN` itself is at twice the stride of its units.
  """
  levels = [Level('C1', f'{scope}/{stem[0]}', 2, stem[1])]
  for k, (count, depth) in enumerate(zip(units, (256, 512, 1024)), start=2):
    levels.append(Level(f'C{k}', f'{scope}/block{k - 1}/unit_{count - 1}/{unit}', 2 ** k, depth))
  last = 'postnorm' if unit == 'bottleneck_v2' else 'block4'
  return tuple(levels + [Level('C5', f'{scope}/{last}', 32, 2048)])


_RESNET_UNITS = {50: (3, 4, 6), 101: (3, 4, 23), 152: (3, 8, 36), 200: (3, 24, 36)}
_RESNET_ARCHIVES = {('v1', 50): '2016_08_28', ('v1', 101): '2016_08_28', ('v1', 152): '2016_08_28',
                    ('v2', 50): '2017_04_14', ('v2', 101): '2017_04_14', ('v2', 152): '2017_04_14'}


def _resnet(version: str, depth: int) -> NetworkSpec:
  name = f'resnet_{version}_{depth}'
  num_classes = 1000 if version == 'v1' else 1001
  date = _RESNET_ARCHIVES.get((version, depth))
  return NetworkSpec(
      name, f'nets.resnet_{version}:{name}', f'nets.resnet_{version}:resnet_arg_scope', default_image_size=224,
      nominal_stride=32, multi_grid=3,
      output_strides=(4, 8, 16, 32), preprocessing='vgg' if version == 'v1' else 'inception',
      value_range=VGG_RANGE if version == 'v1' else UNIT_RANGE, minimum_input_size=_resnet_minimum_input_size,
      levels=_resnet_levels(name, f'bottleneck_{version}', _RESNET_UNITS[depth], ('conv1', 64)),
      input_variables=(f'{name}/conv1/weights',), class_variables=(f'{name}/logits/weights', f'{name}/logits/biases'),
      num_classes=num_classes,
      archive=archive(f'{TF_MODELS}{name}_{date}.tar.gz', f'{name}.ckpt', num_classes) if date else None,
      decoder_end_points=_resnet_decoder_end_points(name, depth) if version == 'v1' and depth <= 101 else ())


def _resnet_decoder_end_points(scope: str, depth: int) -> Tuple[Tuple[int, str], ...]:
  """DeepLab's decoder features of ResNet v1 (and beta): the last conv of the unit before each strided one."""
  units = _RESNET_UNITS[depth]
  return tuple((2 ** k, f'{scope}/block{k - 1}/unit_{units[k - 2] - 1}/bottleneck_v1/conv3') for k in (2, 3, 4))


def _resnet_beta(depth: int) -> NetworkSpec:
  name, scope = f'resnet_v1_{depth}_beta', f'resnet_v1_{depth}'
  return NetworkSpec(
      name, f'nets.resnet_v1_beta:{name}', 'nets.resnet_v1_beta:resnet_arg_scope', default_image_size=224,
      multi_grid=3,
      nominal_stride=32, output_strides=(4, 8, 16, 32), preprocessing='inception', value_range=UNIT_RANGE,
      minimum_input_size=_resnet_minimum_input_size,
      levels=_resnet_levels(scope, 'bottleneck_v1', _RESNET_UNITS[depth], ('conv1_3', 128)),
      input_variables=(f'{scope}/conv1_1/weights',),
      class_variables=(f'{scope}/logits/weights', f'{scope}/logits/biases'), num_classes=1000,
      # DeepLab's ImageNet-pretrained backbone; its model zoo does not say whether the logits are kept.
      archive=archive(f'{TF_MODELS}resnet_v1_{depth}_2018_05_04.tar.gz', 'model.ckpt', None),
      decoder_end_points=_resnet_decoder_end_points(scope, depth))


SPECS = (
    *(_resnet('v1', depth) for depth in (50, 101, 152, 200)),
    *(_resnet('v2', depth) for depth in (50, 101, 152, 200)),
    *(_resnet_beta(depth) for depth in (50, 101)),
)
