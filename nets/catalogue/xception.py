"""Xception 41/65/71 (DeepLab's): their declared facts."""

from typing import Tuple

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import UNIT_RANGE


def _xception_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally or is 1x1
  return 1, ('every strided convolution pads explicitly by its kernel extent and the others pad SAME, so a layer of '
             'stride s maps n pixels to ceil(n / s) >= 1: any size builds')


_XCEPTION_ARCHIVES = {41: 'xception_41_2018_05_09.tar.gz', 65: 'deeplabv3_xception_2018_01_04.tar.gz',
                      71: 'xception_71_2018_05_09.tar.gz'}


def _xception(layers_count: int) -> NetworkSpec:
  name = f'xception_{layers_count}'
  # The last entry flow block at strides 4 and 8: Xception-71 has a stride-1 block after each strided one.
  c2, c3 = (('block2', 256), ('block4', 728)) if layers_count == 71 else (('block1', 128), ('block2', 256))
  levels = (Level('C1', f'{name}/entry_flow/conv1_2', 2, 64),
            Level('C2', f'{name}/entry_flow/{c2[0]}', 4, c2[1]),
            Level('C3', f'{name}/entry_flow/{c3[0]}', 8, c3[1]),
            Level('C4', f'{name}/middle_flow/block1', 16, 728),
            Level('C5', f'{name}/exit_flow/block2', 32, 2048))
  return NetworkSpec(
      name, f'nets.xception:{name}', 'nets.xception:xception_arg_scope', default_image_size=299, nominal_stride=32,
      multi_grid=3,
      output_strides=(2, 4, 8, 16, 32), preprocessing='inception', value_range=UNIT_RANGE,
      minimum_input_size=_xception_minimum_input_size, levels=levels,
      input_variables=(f'{name}/entry_flow/conv1_1/weights',),
      class_variables=(f'{name}/logits/weights', f'{name}/logits/biases'), num_classes=1001,
      # DeepLab's ImageNet-pretrained backbones; its model zoo does not say whether the logits are kept.
      archive=archive(TF_MODELS + _XCEPTION_ARCHIVES[layers_count], 'model.ckpt', None),
      decoder_end_points=tuple(
          (stride, f'{name}/{flow}/unit_1/xception_module/separable_conv2_pointwise') for stride, flow in zip(
              (4, 8, 16), (('entry_flow/block3', 'entry_flow/block5') if layers_count == 71 else
                           ('entry_flow/block2', 'entry_flow/block3')) + ('exit_flow/block1',))))


SPECS = tuple(_xception(layers_count) for layers_count in (41, 65, 71))
