"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", arXiv:1512.00567).

The network is written as data: a stem of single layers, then "Mixed" blocks, each a list of parallel
branches whose outputs are concatenated on the channel axis. Scope and end point names are those of
research/slim (and of the published checkpoints), including their irregular ones such as
`Mixed_5c/Branch_1/Conv_1_0c_5x5`.

The stem's VALID convolutions and the stride-2 reductions make 75x75 the smallest input the base accepts
(Mixed_7a is then 1x1); the auxiliary head needs its 5x5 average pool to fit on Mixed_6e.
"""

from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import layers


def _conv(depth: int, kernel, name: str, stride: int = 1, padding: Optional[str] = None) -> tuple:
  return ('conv', depth, kernel, name, stride, padding)


def _pool(kind: str, kernel: int, name: str, stride: int = 1, padding: Optional[str] = None) -> tuple:
  return (kind, None, kernel, name, stride, padding)


def _fork(*convs: tuple) -> tuple:
  """Parallel convolutions on the same input, concatenated on the channel axis."""
  return ('fork', convs)


# The stem: layers whose scope names are also their end point names, under stride 1 and VALID padding
# unless a layer says otherwise.
_STEM = [
    _conv(32, 3, 'Conv2d_1a_3x3', stride=2),
    _conv(32, 3, 'Conv2d_2a_3x3'),
    _conv(64, 3, 'Conv2d_2b_3x3', padding='SAME'),
    _pool('max', 3, 'MaxPool_3a_3x3', stride=2),
    _conv(80, 1, 'Conv2d_3b_1x1'),
    _conv(192, 3, 'Conv2d_4a_3x3'),
    _pool('max', 3, 'MaxPool_5a_3x3', stride=2),
]


def _mixed_35(pool_depth: int, second_branch: list) -> list:
  return [[_conv(64, 1, 'Conv2d_0a_1x1')],
          second_branch,
          [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_0b_3x3'), _conv(96, 3, 'Conv2d_0c_3x3')],
          [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(pool_depth, 1, 'Conv2d_0b_1x1')]]


def _mixed_17(depth: int) -> list:
  return [[_conv(192, 1, 'Conv2d_0a_1x1')],
          [_conv(depth, 1, 'Conv2d_0a_1x1'), _conv(depth, [1, 7], 'Conv2d_0b_1x7'),
           _conv(192, [7, 1], 'Conv2d_0c_7x1')],
          [_conv(depth, 1, 'Conv2d_0a_1x1'), _conv(depth, [7, 1], 'Conv2d_0b_7x1'),
           _conv(depth, [1, 7], 'Conv2d_0c_1x7'), _conv(depth, [7, 1], 'Conv2d_0d_7x1'),
           _conv(192, [1, 7], 'Conv2d_0e_1x7')],
          [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(192, 1, 'Conv2d_0b_1x1')]]


def _mixed_8(second_3x1: str) -> list:
  return [[_conv(320, 1, 'Conv2d_0a_1x1')],
          [_conv(384, 1, 'Conv2d_0a_1x1'),
           _fork(_conv(384, [1, 3], 'Conv2d_0b_1x3'), _conv(384, [3, 1], second_3x1))],
          [_conv(448, 1, 'Conv2d_0a_1x1'), _conv(384, 3, 'Conv2d_0b_3x3'),
           _fork(_conv(384, [1, 3], 'Conv2d_0c_1x3'), _conv(384, [3, 1], 'Conv2d_0d_3x1'))],
          [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(192, 1, 'Conv2d_0b_1x1')]]


# The Mixed blocks, under stride 1 and SAME padding unless a layer says otherwise.
_MIXED = [
    ('Mixed_5b', _mixed_35(32, [_conv(48, 1, 'Conv2d_0a_1x1'), _conv(64, 5, 'Conv2d_0b_5x5')])),
    ('Mixed_5c', _mixed_35(64, [_conv(48, 1, 'Conv2d_0b_1x1'), _conv(64, 5, 'Conv_1_0c_5x5')])),
    ('Mixed_5d', _mixed_35(64, [_conv(48, 1, 'Conv2d_0a_1x1'), _conv(64, 5, 'Conv2d_0b_5x5')])),
    ('Mixed_6a', [[_conv(384, 3, 'Conv2d_1a_1x1', stride=2, padding='VALID')],
                  [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_0b_3x3'),
                   _conv(96, 3, 'Conv2d_1a_1x1', stride=2, padding='VALID')],
                  [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding='VALID')]]),
    ('Mixed_6b', _mixed_17(128)),
    ('Mixed_6c', _mixed_17(160)),
    ('Mixed_6d', _mixed_17(160)),
    ('Mixed_6e', _mixed_17(192)),
    ('Mixed_7a', [[_conv(192, 1, 'Conv2d_0a_1x1'), _conv(320, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_conv(192, 1, 'Conv2d_0a_1x1'), _conv(192, [1, 7], 'Conv2d_0b_1x7'),
                   _conv(192, [7, 1], 'Conv2d_0c_7x1'), _conv(192, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding='VALID')]]),
    ('Mixed_7b', _mixed_8('Conv2d_0b_3x1')),
    ('Mixed_7c', _mixed_8('Conv2d_0c_3x1')),
]

END_POINTS = [layer[3] for layer in _STEM] + [name for name, _ in _MIXED]


def _depth_rule(depth_multiplier: float, min_depth: int) -> Callable[[int], int]:
  """Maps a convolution's nominal channels to its channels under `depth_multiplier`, at least `min_depth`."""
  return lambda channels: max(int(channels * depth_multiplier), min_depth)


def _apply(layer: tuple, net: tf.Tensor, depth: Callable[[int], int]) -> tf.Tensor:
  """Applies one layer spec to `net`; stride and padding default to the enclosing arg scope."""
  if layer[0] == 'fork':
    return tf.concat([_apply(conv, net, depth) for conv in layer[1]], axis=3)
  kind, channels, kernel, name, stride, padding = layer
  options = {'stride': stride, 'scope': name}
  if padding is not None:
    options['padding'] = padding
  if kind == 'conv':
    return layers.conv2d(net, depth(channels), kernel, **options)
  pool = layers.max_pool2d if kind == 'max' else layers.avg_pool2d
  return pool(net, kernel, **options)


def inception_v3_base(inputs: tf.Tensor, final_endpoint: str = 'Mixed_7c', min_depth: int = 16,
                      depth_multiplier: float = 1.0, scope: Optional[str] = None):
  """Inception v3 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least 75x75.
    final_endpoint: the last end point to build, one of `END_POINTS`.
    min_depth: smallest number of channels of a convolution after `depth_multiplier`.
    depth_multiplier: scales the channels of every convolution.
    scope: variable scope, default 'InceptionV3'.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 8, 8, 2048]` for Mixed_7c at 299x299) and an
    ordered dict of the end points built.

  Raises:
    ValueError: on an unknown `final_endpoint` or a `depth_multiplier` <= 0.
  """
  if final_endpoint not in END_POINTS:
    raise ValueError(f'final_endpoint must be one of {END_POINTS}, got {final_endpoint!r}')
  if depth_multiplier <= 0:
    raise ValueError(f'depth_multiplier must be > 0, got {depth_multiplier!r}')
  depth = _depth_rule(depth_multiplier, min_depth)
  end_points = {}
  with tf.compat.v1.variable_scope(scope, 'InceptionV3', [inputs]):
    net = inputs
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='VALID'):
      for layer in _STEM:
        net = end_points[layer[3]] = _apply(layer, net, depth)
        if layer[3] == final_endpoint:
          return net, end_points
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
      for name, branches in _MIXED:
        with tf.compat.v1.variable_scope(name):
          outputs = []
          for i, branch in enumerate(branches):
            with tf.compat.v1.variable_scope('Branch_%d' % i):
              branch_net = net
              for layer in branch:
                branch_net = _apply(layer, branch_net, depth)
              outputs.append(branch_net)
          net = end_points[name] = tf.concat(outputs, axis=3)
        if name == final_endpoint:
          return net, end_points
  raise AssertionError('unreachable: final_endpoint was checked against END_POINTS')


def _reduced_kernel(net: tf.Tensor, kernel: list) -> list:
  """`kernel` shrunk to the spatial size of `net` where that is known and smaller."""
  height, width = net.shape[1], net.shape[2]
  if height is None or width is None:
    return kernel
  return [min(height, kernel[0]), min(width, kernel[1])]


def _aux_logits(net: tf.Tensor, num_classes: int, depth: Callable[[int], int]) -> tf.Tensor:
  """The auxiliary classifier on Mixed_6e: 5x5/3 average pool, 1x1 and (up to) 5x5 convolutions, logits."""
  with tf.compat.v1.variable_scope('AuxLogits'):
    net = layers.avg_pool2d(net, [5, 5], stride=3, padding='VALID', scope='AvgPool_1a_5x5')
    net = layers.conv2d(net, depth(128), [1, 1], scope='Conv2d_1b_1x1')
    kernel = _reduced_kernel(net, [5, 5])
    net = layers.conv2d(net, depth(768), kernel, weights_initializer=tf.compat.v1.truncated_normal_initializer(0.01),
                        padding='VALID', scope='Conv2d_2a_{}x{}'.format(*kernel))
    net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                        weights_initializer=tf.compat.v1.truncated_normal_initializer(0.001), scope='Conv2d_2b_1x1')
    return tf.squeeze(net, [1, 2], name='SpatialSqueeze')


def inception_v3(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training: bool = True,
                 dropout_keep_prob: float = 0.8, min_depth: int = 16, depth_multiplier: float = 1.0,
                 prediction_fn: Callable = layers.softmax, spatial_squeeze: bool = True, reuse=None,
                 create_aux_logits: bool = True, scope: str = 'InceptionV3', global_pool: bool = False):
  """Inception v3 for classification, or its pooled features with `num_classes` None or 0.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, 299x299 by default.
    num_classes: number of classes; None or 0 returns the pooled features ('AvgPool_1a' or 'global_pool').
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    min_depth, depth_multiplier: see `inception_v3_base`.
    prediction_fn: maps the logits to 'Predictions'.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    reuse: reuse the variables of `scope`.
    create_aux_logits: build the auxiliary classifier ('AuxLogits') on Mixed_6e when there are classes.
    scope: variable scope.
    global_pool: average Mixed_7c over all positions instead of an 8x8 VALID pool, so that any input size
      gives 1x1 logits.

  Returns:
    (logits, end_points), or (pooled features, end_points) without classes.
  """
  with tf.compat.v1.variable_scope(scope, 'InceptionV3', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_v3_base(inputs, min_depth=min_depth, depth_multiplier=depth_multiplier, scope=sc)
      if create_aux_logits and num_classes:
        with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
          end_points['AuxLogits'] = _aux_logits(end_points['Mixed_6e'], num_classes,
                                                _depth_rule(depth_multiplier, min_depth))
      with tf.compat.v1.variable_scope('Logits'):
        if global_pool:
          net = end_points['global_pool'] = tf.reduce_mean(net, [1, 2], keepdims=True, name='GlobalPool')
        else:
          kernel = _reduced_kernel(net, [8, 8])
          net = end_points['AvgPool_1a'] = layers.avg_pool2d(net, kernel, padding='VALID',
                                                             scope='AvgPool_1a_{}x{}'.format(*kernel))
        if not num_classes:
          return net, end_points
        net = end_points['PreLogits'] = layers.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
        logits = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                               scope='Conv2d_1c_1x1')
        if spatial_squeeze:
          logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
      end_points['Logits'] = logits
      end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


inception_v3.default_image_size = 299


def inception_v3_arg_scope(weight_decay: float = 0.00004, use_batch_norm: bool = True,
                           batch_norm_decay: float = 0.9997, batch_norm_epsilon: float = 0.001,
                           activation_fn: Callable = tf.nn.relu,
                           batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                           batch_norm_scale: bool = False) -> dict:
  """The arg scope of Inception v3: He initialization, L2 weight decay, batch norm without scale.

  Args:
    weight_decay: L2 regularization weight of the convolution kernels.
    use_batch_norm: follow each convolution by batch norm.
    batch_norm_decay: decay of the batch norm moving averages.
    batch_norm_epsilon: added to the variance in batch norm.
    activation_fn: activation after each convolution.
    batch_norm_updates_collections: collection for the moving average updates (None: update in place).
    batch_norm_scale: whether batch norm learns a scale `gamma`.

  Returns:
    An arg scope to use with `slim.arg_scope`.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'updates_collections': batch_norm_updates_collections,
      'fused': None,
      'scale': batch_norm_scale,
  }
  with slim.arg_scope([layers.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay)):
    with slim.arg_scope(
        [layers.conv2d],
        weights_initializer=tf.compat.v1.variance_scaling_initializer(
            scale=2.0, mode='fan_in', distribution='truncated_normal'),
        activation_fn=activation_fn,
        normalizer_fn=layers.batch_norm if use_batch_norm else None,
        normalizer_params=batch_norm_params) as sc:
      return sc
