"""MobileNet v1, v2, v3 and MobileNet-EdgeTPU (research/slim): their declared facts."""

import dataclasses
from typing import Tuple

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import Minimum
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import UNIT_RANGE


_SAME_PADDING = ('every convolution pads SAME (or explicitly, the same amount), so a layer of stride s maps n pixels '
                 'to ceil(n / s) >= 1')
_mobilenet_minimum_input_size = Minimum(1, _SAME_PADDING, 1, 'the 7x7 average pool of the head shrinks to the '
                                                             'feature map when that is smaller')
_mobilenet_v2_minimum_input_size = Minimum(1, _SAME_PADDING + ': any size builds')  # the head pools globally
_mobilenet_v3_minimum_input_size = Minimum(1, _SAME_PADDING + ': any size builds', 1,
                                           'the head pool narrows its 7x7 window to a smaller map')


def _mobilenet_v1(multiplier: float, suffix: str, archive_multiplier: str) -> NetworkSpec:
  name = 'mobilenet_v1' + suffix
  depth = lambda d: max(int(d * multiplier), 8)
  end_points = (('C1', 'Conv2d_1_pointwise', 64), ('C2', 'Conv2d_3_pointwise', 128),
                ('C3', 'Conv2d_5_pointwise', 256), ('C4', 'Conv2d_11_pointwise', 512),
                ('C5', 'Conv2d_13_pointwise', 1024))
  checkpoint = f'mobilenet_v1_{archive_multiplier}_224'
  return NetworkSpec(
      name, f'nets.mobilenet_v1:{name}', 'nets.mobilenet_v1:mobilenet_v1_arg_scope', default_image_size=224,
      nominal_stride=32, output_strides=(8, 16, 32), preprocessing='inception', value_range=UNIT_RANGE,
      minimum_input_size=_mobilenet_minimum_input_size,
      levels=tuple(Level(level, point, 2 ** (k + 1), depth(d)) for k, (level, point, d) in enumerate(end_points)),
      input_variables=('MobilenetV1/Conv2d_0/weights',),
      class_variables=('MobilenetV1/Logits/Conv2d_1c_1x1/weights', 'MobilenetV1/Logits/Conv2d_1c_1x1/biases'),
      num_classes=1001,
      archive=archive(f'{TF_MODELS}mobilenet_v1_2018_08_02/{checkpoint}.tgz', f'{checkpoint}.ckpt', 1001),
      base_function='nets.mobilenet_v1:mobilenet_v1_base', base_defaults=(('depth_multiplier', multiplier),))


def _mobilenet_v2(multiplier: float, suffix: str, channels: Tuple[int, ...]) -> NetworkSpec:
  name = 'mobilenet_v2' + suffix
  # The last block at each stride (the first conv's block included), and the 1x1 convolution at stride 32.
  points = ('layer_2', 'layer_4', 'layer_7', 'layer_14', 'layer_19')
  checkpoint = f'mobilenet_v2_{multiplier}_224'
  return NetworkSpec(
      name, f'nets.mobilenet.mobilenet_v2:{"mobilenet" if not suffix else name}',
      'nets.mobilenet.mobilenet_v2:training_scope', default_image_size=224, nominal_stride=32,
      output_strides=(1, 2, 4, 8, 16, 32), preprocessing='inception', value_range=UNIT_RANGE,
      minimum_input_size=_mobilenet_v2_minimum_input_size,
      levels=tuple(Level(f'C{k}', point, 2 ** k, depth) for k, (point, depth) in enumerate(zip(points, channels), 1)),
      input_variables=('MobilenetV2/Conv/weights',),
      class_variables=('MobilenetV2/Logits/Conv2d_1c_1x1/weights', 'MobilenetV2/Logits/Conv2d_1c_1x1/biases'),
      num_classes=1001,
      archive=archive(f'https://storage.googleapis.com/mobilenet_v2/checkpoints/{checkpoint}.tgz',
                      f'{checkpoint}.ckpt', 1001),
      base_function='nets.mobilenet.mobilenet_v2:mobilenet_base', base_defaults=(('depth_multiplier', multiplier),),
      # DeepLab's 'mobilenet_v2' model variant; its other depths are `ModelOptions.depth_multiplier`.
      decoder_end_points=((4, 'layer_4/depthwise_output'), (8, 'layer_7/depthwise_output'),
                          (16, 'layer_14/depthwise_output')) if not suffix else ())


# research/slim's MobileNet v3 archives hold an 'ema' checkpoint (the moving averages of the weights, under the
# weights' names: the published accuracy) and a 'pristine' one; the ema checkpoints' names inside them.
_V3_ARCHIVES = {'mobilenet_v3_large': ('v3-large_224_1.0_float', 'ema/model-540000'),
                'mobilenet_v3_small': ('v3-small_224_1.0_float', 'ema/model-388500'),
                'mobilenet_v3_large_minimalistic': ('v3-large-minimalistic_224_1.0_float', 'ema/model-342500'),
                'mobilenet_v3_small_minimalistic': ('v3-small-minimalistic_224_1.0_float', 'ema/model-498000')}


def _mobilenet_v3(name: str, function: str, scope: str, base: str, points: Tuple[str, ...],
                  channels: Tuple[int, ...], multiplier: float = 1.0) -> NetworkSpec:
  """MobileNet v3 and EdgeTPU: the last layer at each stride, C5 the last before the head pool (large, small)."""
  archives = ('https://storage.googleapis.com/mobilenet_edgetpu/checkpoints/' if 'edgetpu' in name else
              'https://storage.googleapis.com/mobilenet_v3/checkpoints/')
  published = None
  if name in _V3_ARCHIVES:
    file, checkpoint = _V3_ARCHIVES[name]
    published = archive(f'{archives}{file}.tgz', checkpoint, 1001)
  return NetworkSpec(
      name, f'nets.mobilenet.mobilenet_v3:{function}', 'nets.mobilenet.mobilenet_v3:training_scope',
      default_image_size=224, nominal_stride=32, output_strides=(1, 2, 4, 8, 16, 32), preprocessing='inception',
      value_range=UNIT_RANGE, minimum_input_size=_mobilenet_v3_minimum_input_size,
      levels=tuple(Level(f'C{k}', point, 2 ** k, depth) for k, (point, depth) in enumerate(zip(points, channels), 1)),
      input_variables=(f'{scope}/Conv/weights',),
      class_variables=(f'{scope}/Logits/Conv2d_1c_1x1/weights', f'{scope}/Logits/Conv2d_1c_1x1/biases'),
      num_classes=1001,
      # The EdgeTPU archives' checkpoint names are not on record here: not declared until checked.
      archive=published, unlisted_archive='' if published else archives,
      base_function=f'nets.mobilenet.mobilenet_v3:{base}',
      base_defaults=(('depth_multiplier', multiplier),) + ((('finegrain_classification_mode', True),)
                                                            if multiplier != 1.0 else ()))


_V3_LARGE_POINTS = ('layer_2', 'layer_4', 'layer_7', 'layer_13', 'layer_17')
_V3_SMALL_POINTS = ('layer_1', 'layer_2', 'layer_4', 'layer_9', 'layer_13')
_EDGETPU_POINTS = ('layer_2', 'layer_6', 'layer_10', 'layer_18', 'layer_24')

SPECS = (
    _mobilenet_v1(1.0, '', '1.0'), _mobilenet_v1(0.75, '_075', '0.75'), _mobilenet_v1(0.5, '_050', '0.5'),
    _mobilenet_v1(0.25, '_025', '0.25'),
    _mobilenet_v2(1.0, '', (16, 24, 32, 96, 1280)), _mobilenet_v2(1.4, '_140', (24, 32, 48, 136, 1792)),
    # Fine-grain classification mode keeps the last layer's 1280 channels.
    _mobilenet_v2(0.35, '_035', (8, 8, 16, 32, 1280)),
    _mobilenet_v3('mobilenet_v3_large', 'large', 'MobilenetV3', 'large_base', _V3_LARGE_POINTS,
                  (16, 24, 40, 112, 960)),
    _mobilenet_v3('mobilenet_v3_small', 'small', 'MobilenetV3', 'small_base', _V3_SMALL_POINTS,
                  (16, 16, 24, 48, 576)),
    _mobilenet_v3('mobilenet_v3_large_minimalistic', 'large_minimalistic', 'MobilenetV3', 'large_minimalistic_base',
                  _V3_LARGE_POINTS, (16, 24, 40, 112, 960)),
    _mobilenet_v3('mobilenet_v3_small_minimalistic', 'small_minimalistic', 'MobilenetV3', 'small_minimalistic_base',
                  _V3_SMALL_POINTS, (16, 16, 24, 48, 576)),
    _mobilenet_v3('mobilenet_edgetpu', 'edge_tpu', 'MobilenetEdgeTPU', 'edge_tpu_base', _EDGETPU_POINTS,
                  (16, 32, 48, 96, 1280)),
    # Fine-grain classification mode keeps the last layer's 1280 channels.
    _mobilenet_v3('mobilenet_edgetpu_075', 'edge_tpu_075', 'MobilenetEdgeTPU', 'edge_tpu_base', _EDGETPU_POINTS,
                  (16, 24, 40, 72, 1280), multiplier=0.75),
)


def _deeplab_seg(name: str, function: str, points: Tuple[str, ...], channels: Tuple[int, ...],
                 decoder_points: Tuple[str, str, str]) -> NetworkSpec:
  """DeepLab's MobileNet v3 segmentation backbones (`nets.mobilenet.mobilenet_v3.V3_*_SEG`): research/slim's
  network with its last stage halved; DeepLab's decoder features at strides 4, 8 and 16."""
  spec = _mobilenet_v3(name, function, 'MobilenetV3', function + '_base', points, channels)
  return dataclasses.replace(
      spec, archive=None, decoder_end_points=tuple(zip((4, 8, 16), decoder_points)),
      # DeepLab's model zoo publishes its Cityscapes models on these; not declared here yet.
      unlisted_archive='https://github.com/tensorflow/models/blob/master/research/deeplab/g3doc/model_zoo.md')


DEEPLAB_SEG = (
    _deeplab_seg('mobilenet_v3_large_seg', 'large_seg', _V3_LARGE_POINTS, (16, 24, 40, 112, 480),
                 ('layer_4/depthwise_output', 'layer_7/depthwise_output', 'layer_13/depthwise_output')),
    _deeplab_seg('mobilenet_v3_small_seg', 'small_seg', _V3_SMALL_POINTS, (16, 16, 24, 48, 288),
                 ('layer_2/depthwise_output', 'layer_4/depthwise_output', 'layer_9/depthwise_output')),
)
