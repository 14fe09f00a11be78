"""NASNet-A and PNASNet-5 (research/slim): their declared facts."""

from typing import Tuple

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import Minimum
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import UNIT_RANGE

_minimum_input_size = Minimum(3, 'conv0 is a 3x3 VALID convolution and every later layer pads SAME (the auxiliary '
                                 'head of training needs 67: its 5x5 VALID pool at stride 16)')


def _spec(name: str, module: str, size: int, cells: Tuple[int, int, int], channels: int, archive_name: str
          ) -> NetworkSpec:
  """The levels are the last cell at strides 8, 16 and 32 (research/slim names no end point before 'Stem', at
  stride 8, and no cell output lies on every path: each cell reads the two before it)."""
  return NetworkSpec(
      name, f'nets.nasnet.{module}:build_{name}', f'nets.nasnet.{module}:{name}_arg_scope', default_image_size=size,
      nominal_stride=32, output_strides=(), preprocessing='inception', value_range=UNIT_RANGE,
      minimum_input_size=_minimum_input_size,
      levels=tuple(Level(f'C{k}', f'Cell_{cell}', 2 ** k, channels * 2 ** (k - 3))
                   for k, cell in enumerate(cells, start=3)),
      input_variables=('conv0/weights',),
      # The auxiliary head ('aux_N/aux_logits/FC') follows the classes too; it exists only in training builds.
      class_variables=('final_layer/FC/weights', 'final_layer/FC/biases'),
      num_classes=1001,
      archive=archive(f'{TF_MODELS}{archive_name}.tar.gz', 'model.ckpt', 1001), training_build_size=67)


SPECS = (
    _spec('nasnet_mobile', 'nasnet', 224, (3, 7, 11), 264, 'nasnet-a_mobile_04_10_2017'),
    _spec('nasnet_large', 'nasnet', 331, (5, 11, 17), 1008, 'nasnet-a_large_04_10_2017'),
    _spec('pnasnet_mobile', 'pnasnet', 224, (2, 5, 8), 270, 'pnasnet-5_mobile_2017_12_13'),
    _spec('pnasnet_large', 'pnasnet', 331, (3, 7, 11), 1080, 'pnasnet-5_large_2017_12_13'),
)
