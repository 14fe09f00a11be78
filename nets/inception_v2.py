"""Inception v2 (Ioffe and Szegedy, "Batch Normalization", arXiv:1502.03167; research/slim's "6a2") with
research/slim's API, scopes and names.

The network is data (`nets.inception_utils`): a root block (a 7x7/2 separable convolution, max pool, 1x1 and
3x3 convolutions, max pool: stride 8), then Mixed blocks of four branches (1x1; 1x1 then 3x3; 1x1 then two 3x3;
a 3x3 pool then 1x1), with the strided Mixed_4a and Mixed_5a between them. Every convolution and pool pads
SAME, so the base builds at any size and Mixed_5c is ceil(H / 32) x ceil(W / 32).

    with slim.arg_scope(inception.inception_v2_arg_scope()):
      logits, end_points = inception.inception_v2(images, num_classes=1001, is_training=False)  # 224x224
      features, end_points = inception.inception_v2_base(images_513, final_endpoint='Mixed_4e')

The first layer, Conv2d_1a_7x7, is a separable convolution (8 depthwise filters per input channel, then a 1x1 to
64 channels) outside the Inception arg scope, as in research/slim and its checkpoint: biases, ReLU, no batch norm
and no weight decay. `use_separable_conv=False` makes it an ordinary convolution (other variables).
`data_format='NCHW'` takes channels-first inputs and gives channels-first end points, with the same variables:
the layers compute channels-last, the layout TensorFlow's CPU kernels have.

The head averages Mixed_5c with a 7x7/2 VALID pool, shrunk to the map where that is smaller (research/slim's
choice), so every size builds and sizes up to 256 give 1x1 logits; larger ones give a map of logits
(`spatial_squeeze=False`), or one prediction per image with `global_pool=True`. Logits that `spatial_squeeze`
cannot squeeze are a `ValueError` before anything is built.
"""

from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import inception_utils
from nets import layers

_conv, _pool = inception_utils.conv, inception_utils.pool

# research/slim's truncated normal initializers: Conv2d_1a_7x7 1.0, the 1x1 reductions before 3x3s 0.09, the
# pooling branches' 1x1 (and Conv2d_2b_1x1) 0.1; the others keep the arg scope's.
_FIRST = _conv(64, 7, 'Conv2d_1a_7x7', stride=2, stddev=1.0)
_ROOT = [
    _FIRST,
    _pool('max', 3, 'MaxPool_2a_3x3', stride=2),
    _conv(64, 1, 'Conv2d_2b_1x1', stddev=0.1),
    _conv(192, 3, 'Conv2d_2c_3x3'),
    _pool('max', 3, 'MaxPool_3a_3x3', stride=2),
]


def _mixed(b0: int, b1: tuple, b2: tuple, b3: int, pool: str = 'avg') -> list:
  pool_name = 'AvgPool_0a_3x3' if pool == 'avg' else 'MaxPool_0a_3x3'
  return [[_conv(b0, 1, 'Conv2d_0a_1x1')],
          [_conv(b1[0], 1, 'Conv2d_0a_1x1', stddev=0.09), _conv(b1[1], 3, 'Conv2d_0b_3x3')],
          [_conv(b2[0], 1, 'Conv2d_0a_1x1', stddev=0.09), _conv(b2[1], 3, 'Conv2d_0b_3x3'),
           _conv(b2[1], 3, 'Conv2d_0c_3x3')],
          [_pool(pool, 3, pool_name), _conv(b3, 1, 'Conv2d_0b_1x1', stddev=0.1)]]


def _reduction(b0: tuple, b1: tuple) -> list:
  """Mixed_4a and Mixed_5a: two strided convolution branches and a strided max pool."""
  return [[_conv(b0[0], 1, 'Conv2d_0a_1x1', stddev=0.09), _conv(b0[1], 3, 'Conv2d_1a_3x3', stride=2)],
          [_conv(b1[0], 1, 'Conv2d_0a_1x1', stddev=0.09), _conv(b1[1], 3, 'Conv2d_0b_3x3'),
           _conv(b1[1], 3, 'Conv2d_1a_3x3', stride=2)],
          [_pool('max', 3, 'MaxPool_1a_3x3', stride=2)]]


_BODY = [
    ('Mixed_3b', _mixed(64, (64, 64), (64, 96), 32)),
    ('Mixed_3c', _mixed(64, (64, 96), (64, 96), 64)),
    ('Mixed_4a', _reduction((128, 160), (64, 96))),
    ('Mixed_4b', _mixed(224, (64, 96), (96, 128), 128)),
    ('Mixed_4c', _mixed(192, (96, 128), (96, 128), 128)),
    ('Mixed_4d', _mixed(160, (128, 160), (128, 160), 96)),
    ('Mixed_4e', _mixed(96, (128, 192), (160, 192), 96)),
    ('Mixed_5a', _reduction((128, 192), (192, 256))),
    ('Mixed_5b', _mixed(352, (192, 320), (160, 224), 128)),
    ('Mixed_5c', _mixed(352, (192, 320), (192, 224), 128, pool='max')),
]

END_POINTS = [inception_utils.item_name(item) for item in _ROOT + _BODY]
_HEAD_POOL = (7, 2)  # kernel and stride of the head's VALID average pool; the kernel shrinks to smaller maps
_DATA_FORMATS = ('NHWC', 'NCHW')


def end_point_sizes(size: int, axis: int = 0, include_root_block: bool = True) -> dict:
  """Sizes along one axis of the base end points for an input of `size`, from the specs (all SAME)."""
  return inception_utils.stack_sizes((_ROOT if include_root_block else []) + _BODY, size, axis)


def minimum_input_size() -> int:
  """The smallest input height (or width) `inception_v2` builds at: every layer pads SAME and the head's pool
  shrinks to the map, so 1."""
  size = 1
  while end_point_sizes(size)['Mixed_5c'] < 1:
    size += 1
  return size


def _depthwise_multiplier(depth: Callable[[int], int]) -> int:
  """Depthwise filters per input channel of the separable Conv2d_1a_7x7: at most 8, and no more than a third of
  its output channels (research/slim's rule, computed for 3 input channels whatever the inputs have)."""
  return min(int(depth(64) / 3), 8)


def _check_base(inputs, final_endpoint, depth_multiplier, min_depth, use_separable_conv, data_format,
                include_root_block, caller: str) -> None:
  names = END_POINTS if include_root_block else END_POINTS[len(_ROOT):]
  if final_endpoint not in names:
    raise ValueError(f'{caller}: final_endpoint must be one of {names}, got {final_endpoint!r}')
  if data_format not in _DATA_FORMATS:
    raise ValueError(f"{caller}: data_format must be 'NHWC' or 'NCHW', got {data_format!r}")
  if data_format == 'NCHW' and use_separable_conv:
    raise ValueError(f"{caller}: data_format='NCHW' needs use_separable_conv=False: Conv2d_1a_7x7 as a separable "
                     "convolution is channels-last only (research/slim's rule, kept for its checkpoints' users)")
  checks.check_images(inputs, caller)
  checks.check_depth_multiplier(depth_multiplier, caller)
  checks.check_int(f'{caller}: min_depth', checks.as_int(min_depth), minimum=1)
  if use_separable_conv and include_root_block:
    depth = inception_utils.depth_rule(depth_multiplier, min_depth)
    multiplier = _depthwise_multiplier(depth)
    if multiplier < 1:
      raise ValueError(f'{caller}: the separable Conv2d_1a_7x7 would have {multiplier} depthwise filters per input '
                       f'channel (min(int(channels / 3), 8) of its {depth(64)} output channels) with '
                       f'depth_multiplier={depth_multiplier!r} and min_depth={min_depth!r}; it needs at least 3 '
                       'output channels, or use_separable_conv=False')


def _to_channels_last(inputs: tf.Tensor) -> tf.Tensor:
  return tf.transpose(inputs, [0, 2, 3, 1], name='ToChannelsLast')


def inception_v2_base(inputs: tf.Tensor, final_endpoint: str = 'Mixed_5c', min_depth: int = 16,
                      depth_multiplier: float = 1.0, use_separable_conv: bool = True, data_format: str = 'NHWC',
                      include_root_block: bool = True, scope: Optional[str] = None):
  """Inception v2 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor (`[batch, channels, height, width]` with
      `data_format='NCHW'`), any size.
    final_endpoint: the last end point to build, one of `END_POINTS` (without the root block's five with
      `include_root_block=False`).
    min_depth: smallest number of channels of a convolution under `depth_multiplier`.
    depth_multiplier: scales the channels of every convolution.
    use_separable_conv: Conv2d_1a_7x7 as research/slim's separable convolution (True) or an ordinary one.
    data_format: 'NHWC', or 'NCHW' (with `use_separable_conv=False`) for channels-first inputs and end points.
    include_root_block: build the root (Conv2d_1a_7x7 to MaxPool_3a_3x3, stride 8) before Mixed_3b.
    scope: variable scope, default 'InceptionV2'.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 7, 7, 1024]` for Mixed_5c at 224x224) and an
    ordered dict of the end points built.

  Raises:
    ValueError: on an unknown `final_endpoint` or `data_format`, NCHW with the separable convolution, a
      `depth_multiplier` <= 0, a separable convolution left without filters, or bad inputs; nothing is
      created then.
  """
  _check_base(inputs, final_endpoint, depth_multiplier, min_depth, use_separable_conv, data_format,
              include_root_block, 'inception_v2_base')
  depth = inception_utils.depth_rule(depth_multiplier, min_depth)
  end_points = {}
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV2', [inputs]):
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
      net = _to_channels_last(inputs) if data_format == 'NCHW' else inputs
      items = (_ROOT if include_root_block else []) + _BODY
      if include_root_block and use_separable_conv:
        net = end_points[_FIRST[3]] = layers.separable_conv2d(
            net, depth(64), 7, depth_multiplier=_depthwise_multiplier(depth), stride=2, padding='SAME',
            weights_initializer=tf.compat.v1.truncated_normal_initializer(0.0, 1.0), scope=_FIRST[3])
        items = items[1:]
      if final_endpoint not in end_points:
        net, _ = inception_utils.build_stack(items, net, depth, end_points, final_endpoint)
  if data_format == 'NCHW':
    end_points = {name: tf.transpose(point, [0, 3, 1, 2], name=f'{name}_NCHW') for name, point in end_points.items()}
    net = end_points[final_endpoint]
  return net, end_points


def _check_head(inputs, num_classes, global_pool: bool, spatial_squeeze: bool) -> None:
  if not num_classes or global_pool or not spatial_squeeze:
    return
  axes = checks.static_shape(inputs)[1:3]
  mixed_5c = [None if n is None else end_point_sizes(n, axis)['Mixed_5c'] for axis, n in enumerate(axes)]
  logits = [None if n is None else (n - min(n, _HEAD_POOL[0])) // _HEAD_POOL[1] + 1 for n in mixed_5c]
  if any(n not in (None, 1) for n in logits):
    text = lambda values: 'x'.join('?' if n is None else str(n) for n in values)
    raise ValueError(f'inception_v2: inputs of {text(axes)} give {text(logits)} logits without global pooling '
                     f'(Mixed_5c above 8x8, inputs above 256), which spatial_squeeze=True cannot squeeze to '
                     '[batch, num_classes]; pass global_pool=True (1x1 logits at any size, same variables) or '
                     'spatial_squeeze=False')


def inception_v2(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training: bool = True,
                 dropout_keep_prob: float = 0.8, min_depth: int = 16, depth_multiplier: float = 1.0,
                 prediction_fn: Callable = layers.softmax, spatial_squeeze: bool = True, reuse=None,
                 scope: str = 'InceptionV2', global_pool: bool = False):
  """Inception v2 for classification, or its pooled features with `num_classes` None or 0.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, 224x224 by default, any size.
    num_classes: number of classes; None or 0 returns the pooled features ('AvgPool_1a' or 'global_pool').
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    min_depth, depth_multiplier: see `inception_v2_base`.
    prediction_fn: maps the logits to 'Predictions'.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average Mixed_5c over all positions instead of the (shrunk) 7x7/2 VALID pool.

  Returns:
    (logits, end_points), or (pooled features, end_points) without classes.

  Raises:
    ValueError: for logits `spatial_squeeze` cannot squeeze at a known size (above 256 without `global_pool`)
      or a bad argument; nothing is created then.
  """
  num_classes = checks.check_num_classes(num_classes, 'inception_v2')
  _check_base(inputs, 'Mixed_5c', depth_multiplier, min_depth, True, 'NHWC', True, 'inception_v2')
  _check_head(inputs, num_classes, global_pool, spatial_squeeze)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV2', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_v2_base(inputs, scope=sc, min_depth=min_depth, depth_multiplier=depth_multiplier)
      with tf.compat.v1.variable_scope('Logits'):
        if global_pool:
          net = end_points['global_pool'] = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
        else:
          height, width = checks.static_shape(net)[1:3]
          kernel = [_HEAD_POOL[0] if n is None else min(n, _HEAD_POOL[0]) for n in (height, width)]
          net = end_points['AvgPool_1a'] = layers.avg_pool2d(net, kernel, stride=_HEAD_POOL[1], padding='VALID',
                                                             scope='AvgPool_1a_{}x{}'.format(*kernel))
        if not num_classes:
          return net, end_points
        net = layers.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
        logits = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                               scope='Conv2d_1c_1x1')
        if spatial_squeeze:
          logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
      end_points['Logits'] = logits
      end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


inception_v2.default_image_size = 224

inception_v2_arg_scope = inception_utils.inception_arg_scope
