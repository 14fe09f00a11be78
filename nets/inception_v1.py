"""Inception v1 (GoogLeNet; Szegedy et al., "Going deeper with convolutions", arXiv:1409.4842) with
research/slim's API, scopes and names (batch norm after every convolution, as in research/slim's checkpoint).

The network is data (`nets.inception_utils`): a root block of single layers, then Mixed blocks of four
branches with max pools between them. Every convolution and pool of the base pads SAME, so the base builds at
any size and Mixed_5c is ceil(H / 32) x ceil(W / 32). The head averages Mixed_5c with a 7x7 VALID pool of
stride 1, as research/slim does: it needs Mixed_5c of at least 7x7 (inputs of at least 193x193), and larger
inputs give a map of logits (1x1 only from 193 to 224); `global_pool=True` averages over all positions instead,
for 1x1 logits at any size with the same variables. Sizes the head cannot take, and logits `spatial_squeeze`
cannot squeeze, are a `ValueError` before anything is built.

    with slim.arg_scope(inception.inception_v1_arg_scope()):
      logits, end_points = inception.inception_v1(images, num_classes=1001, is_training=False)  # 224x224
      features, end_points = inception.inception_v1_base(images_513, final_endpoint='Mixed_4f')

Added, keyword only (research/slim has neither): `depth_multiplier` and `min_depth`, for thin networks.
"""

from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import inception_utils
from nets import layers

_conv, _pool = inception_utils.conv, inception_utils.pool

_ROOT = [
    _conv(64, 7, 'Conv2d_1a_7x7', stride=2),
    _pool('max', 3, 'MaxPool_2a_3x3', stride=2),
    _conv(64, 1, 'Conv2d_2b_1x1'),
    _conv(192, 3, 'Conv2d_2c_3x3'),
    _pool('max', 3, 'MaxPool_3a_3x3', stride=2),
]


def _mixed(b0: int, b1: tuple, b2: tuple, b3: int, b2_second: str = 'Conv2d_0b_3x3') -> list:
  """A Mixed block: 1x1; 1x1 then 3x3; 1x1 then 3x3 (GoogLeNet's 5x5, as research/slim has it); 3x3 max pool
  then 1x1."""
  return [[_conv(b0, 1, 'Conv2d_0a_1x1')],
          [_conv(b1[0], 1, 'Conv2d_0a_1x1'), _conv(b1[1], 3, 'Conv2d_0b_3x3')],
          [_conv(b2[0], 1, 'Conv2d_0a_1x1'), _conv(b2[1], 3, b2_second)],
          [_pool('max', 3, 'MaxPool_0a_3x3'), _conv(b3, 1, 'Conv2d_0b_1x1')]]


# After the root: Mixed blocks (name, branches) and single layers, in order.
_BODY = [
    ('Mixed_3b', _mixed(64, (96, 128), (16, 32), 32)),
    ('Mixed_3c', _mixed(128, (128, 192), (32, 96), 64)),
    _pool('max', 3, 'MaxPool_4a_3x3', stride=2),
    ('Mixed_4b', _mixed(192, (96, 208), (16, 48), 64)),
    ('Mixed_4c', _mixed(160, (112, 224), (24, 64), 64)),
    ('Mixed_4d', _mixed(128, (128, 256), (24, 64), 64)),
    ('Mixed_4e', _mixed(112, (144, 288), (32, 64), 64)),
    ('Mixed_4f', _mixed(256, (160, 320), (32, 128), 128)),
    _pool('max', 2, 'MaxPool_5a_2x2', stride=2),
    ('Mixed_5b', _mixed(256, (160, 320), (32, 128), 128, b2_second='Conv2d_0a_3x3')),  # research/slim's name
    ('Mixed_5c', _mixed(384, (192, 384), (48, 128), 128)),
]


END_POINTS = [inception_utils.item_name(item) for item in _ROOT + _BODY]
_HEAD_POOL = 7  # the head's VALID average pool, stride 1


def end_point_sizes(size: int, axis: int = 0, include_root_block: bool = True) -> dict:
  """Sizes along one axis of the base end points for an input of `size`, from the specs (all SAME)."""
  return inception_utils.stack_sizes((_ROOT if include_root_block else []) + _BODY, size, axis)


def minimum_input_size(global_pool: bool = False) -> int:
  """The smallest input height (or width) `inception_v1` builds at: Mixed_5c must fit the 7x7 VALID pool."""
  if global_pool:
    return 1
  size = 1
  while end_point_sizes(size)['Mixed_5c'] < _HEAD_POOL:
    size += 1
  return size


def _check_head(inputs, num_classes, global_pool: bool, spatial_squeeze: bool) -> None:
  axes = checks.static_shape(inputs)[1:3]
  text = lambda values: 'x'.join('?' if n is None else str(n) for n in values)
  if global_pool:
    return
  mixed_5c = [end_point_sizes(n, axis)['Mixed_5c'] if n is not None else None for axis, n in enumerate(axes)]
  minimum = minimum_input_size()
  if any(n is not None and n < _HEAD_POOL for n in mixed_5c):
    raise ValueError(f'inception_v1: inputs of {text(axes)} are too small for the head: they give a '
                     f'{text(mixed_5c)} Mixed_5c, and its average pool AvgPool_0a_7x7 is 7x7 VALID, which needs '
                     f'inputs of at least {minimum}x{minimum}; pass global_pool=True (any size, same variables), '
                     'or use inception_v1_base for the features')
  logits = [n - _HEAD_POOL + 1 if n is not None else None for n in mixed_5c]
  if num_classes and spatial_squeeze and any(n not in (None, 1) for n in logits):
    raise ValueError(f'inception_v1: inputs of {text(axes)} give {text(logits)} logits without global pooling, '
                     'which spatial_squeeze=True cannot squeeze to [batch, num_classes]; pass global_pool=True '
                     '(1x1 logits at any size, same variables) or spatial_squeeze=False')


def inception_v1_base(inputs: tf.Tensor, final_endpoint: str = 'Mixed_5c', include_root_block: bool = True,
                      scope: str = 'InceptionV1', *, depth_multiplier: float = 1.0, min_depth: int = 16):
  """Inception v1 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, any size (every layer pads SAME).
    final_endpoint: the last end point to build, one of `END_POINTS` (without the root block's five with
      `include_root_block=False`).
    include_root_block: build the root (Conv2d_1a_7x7 to MaxPool_3a_3x3, stride 8) before Mixed_3b.
    scope: variable scope.
    depth_multiplier: scales the channels of every convolution (at least `min_depth`).
    min_depth: smallest number of channels under `depth_multiplier`.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 7, 7, 1024]` for Mixed_5c at 224x224) and an
    ordered dict of the end points built.

  Raises:
    ValueError: on an unknown `final_endpoint`, a `depth_multiplier` <= 0 or bad inputs.
  """
  names = END_POINTS if include_root_block else END_POINTS[len(_ROOT):]
  if final_endpoint not in names:
    raise ValueError(f'inception_v1_base: final_endpoint must be one of {names}, got {final_endpoint!r}')
  checks.check_images(inputs, 'inception_v1_base')
  checks.check_depth_multiplier(depth_multiplier, 'inception_v1_base')
  depth = inception_utils.depth_rule(depth_multiplier, min_depth)
  end_points = {}
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV1', [inputs]):
    with slim.arg_scope([layers.conv2d], weights_initializer=tf.compat.v1.truncated_normal_initializer(0.0, 0.01)):
      with slim.arg_scope([layers.conv2d, layers.max_pool2d], stride=1, padding='SAME'):
        net, _ = inception_utils.build_stack((_ROOT if include_root_block else []) + _BODY, inputs, depth,
                                             end_points, final_endpoint)
  return net, end_points


def inception_v1(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training: bool = True,
                 dropout_keep_prob: float = 0.8, prediction_fn: Callable = layers.softmax,
                 spatial_squeeze: bool = True, reuse=None, scope: str = 'InceptionV1', global_pool: bool = False, *,
                 depth_multiplier: float = 1.0, min_depth: int = 16):
  """Inception v1 for classification, or its pooled features with `num_classes` None or 0.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, 224x224 by default, at least 193x193 without
      `global_pool`.
    num_classes: number of classes; None or 0 returns the pooled features ('AvgPool_0a_7x7' or 'global_pool').
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    prediction_fn: maps the logits to 'Predictions'.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average Mixed_5c over all positions instead of the 7x7 VALID pool.
    depth_multiplier, min_depth: see `inception_v1_base`.

  Returns:
    (logits, end_points), or (pooled features, end_points) without classes.

  Raises:
    ValueError: for a known input size the head cannot pool (below 193 without `global_pool`), logits that
      `spatial_squeeze` cannot squeeze, or a bad argument; nothing is created then.
  """
  checks.check_images(inputs, 'inception_v1')
  num_classes = checks.check_num_classes(num_classes, 'inception_v1')
  checks.check_depth_multiplier(depth_multiplier, 'inception_v1')
  _check_head(inputs, num_classes, global_pool, spatial_squeeze)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV1', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_v1_base(inputs, scope=sc, depth_multiplier=depth_multiplier, min_depth=min_depth)
      with tf.compat.v1.variable_scope('Logits'):
        if global_pool:
          net = end_points['global_pool'] = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
        else:
          net = end_points['AvgPool_0a_7x7'] = layers.avg_pool2d(net, _HEAD_POOL, stride=1, padding='VALID',
                                                                 scope='AvgPool_0a_7x7')
        if not num_classes:
          return net, end_points
        net = layers.dropout(net, dropout_keep_prob, scope='Dropout_0b')
        logits = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                               scope='Conv2d_0c_1x1')
        if spatial_squeeze:
          logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
        end_points['Logits'] = logits
        end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


inception_v1.default_image_size = 224

inception_v1_arg_scope = inception_utils.inception_arg_scope
