"""VGG, AlexNet v2 and OverFeat (research/slim): their declared facts."""

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import Minimum
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import VGG_RANGE


_MINIMUMS = {}
for _name, _kernel, _minimum, _what in (('vgg', 7, 224, 'max pools'),
                                        ('alexnet_v2', 5, 195, 'convolutions and max pools'),
                                        ('overfeat', 6, 231, 'convolutions and max pools')):
  _MINIMUMS[_name] = Minimum(_minimum, f'the VALID {_what} of the trunk leave pool5 at least {_kernel}x{_kernel} only '
                                       f'from {_minimum}x{_minimum} up, and fc6 is a {_kernel}x{_kernel} VALID '
                                       'convolution on it')

_VGG_CONVS = {'vgg_a': (1, 1, 2, 2, 2), 'vgg_16': (2, 2, 3, 3, 3), 'vgg_19': (2, 2, 4, 4, 4)}


def _vgg(name: str) -> NetworkSpec:
  convs = _VGG_CONVS[name]
  # The last convolution before each pool from pool1 on (stride 2..16), and fc7, what FCN predicts from.
  levels = tuple(Level(f'C{k}', f'{name}/conv{k + 1}/conv{k + 1}_{convs[k]}', 2 ** k, (128, 256, 512, 512)[k - 1])
                 for k in range(1, 5)) + (Level('C5', f'{name}/fc7', 32, 4096),)
  return NetworkSpec(
      name, f'nets.vgg:{name}', 'nets.vgg:vgg_arg_scope', default_image_size=224, nominal_stride=32,
      output_strides=(), preprocessing='vgg', value_range=VGG_RANGE,
      minimum_input_size=_MINIMUMS['vgg'], levels=levels,
      input_variables=(f'{name}/conv1/conv1_1/weights',), class_variables=(f'{name}/fc8/weights', f'{name}/fc8/biases'),
      num_classes=1000,
      archive=(archive(f'{TF_MODELS}{name}_2016_08_28.tar.gz', f'{name}.ckpt', 1000) if name != 'vgg_a' else None))


def _strided_stem(name: str, function: str) -> NetworkSpec:
  """AlexNet v2 and OverFeat: conv1 is 11x11/4, so there is no stride-2 level; no published checkpoints, and
  research/slim builds them with ImageNet's 1001 classes."""
  module, _, function_name = function.partition(':')
  channels = {'alexnet_v2': (64, 192, 256), 'overfeat': (64, 256, 1024)}[name]
  return NetworkSpec(
      name, function, f'{module}:{function_name}_arg_scope', default_image_size=224 if name == 'alexnet_v2' else 231,
      nominal_stride=32, output_strides=(), preprocessing='vgg', value_range=VGG_RANGE,
      minimum_input_size=_MINIMUMS[name],
      levels=(Level('C2', f'{name}/conv1', 4, channels[0]), Level('C3', f'{name}/conv2', 8, channels[1]),
              Level('C4', f'{name}/conv5', 16, channels[2]), Level('C5', f'{name}/fc7', 32, 4096)),
      input_variables=(f'{name}/conv1/weights',), class_variables=(f'{name}/fc8/weights', f'{name}/fc8/biases'),
      num_classes=1001)


SPECS = (
    *(_vgg(name) for name in _VGG_CONVS),
    _strided_stem('alexnet_v2', 'nets.alexnet:alexnet_v2'),
    _strided_stem('overfeat', 'nets.overfeat:overfeat'),
)
