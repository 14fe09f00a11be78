"""Inception v3 (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", arXiv:1512.00567).

The network is written as data: a stem of single layers, then "Mixed" blocks, each a list of parallel
branches whose outputs are concatenated on the channel axis. Scope and end point names are those of
research/slim (and of the published checkpoints), including their irregular ones such as
`Mixed_5c/Branch_1/Conv_1_0c_5x5`.

Sizes: the stem, Mixed_6a and Mixed_7a convolve and pool VALID, so each of their layers shrinks the map by its
kernel before striding; `minimum_input_size` walks the same layer specs the network is built from and gives 75
(Mixed_7a is then 1x1), or 107 with the auxiliary head, whose 5x5/3 VALID average pool needs Mixed_6e of at
least 5x5. Smaller inputs are a `ValueError` before anything is built, as is a `spatial_squeeze` that cannot
hold; `global_pool=True` gives `[batch, num_classes]` logits at any size of at least the minimum, with the
variables of the default size.
"""

from typing import Callable, Dict, Optional, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import inception_utils
from nets import layers


_conv, _pool, _fork = inception_utils.conv, inception_utils.pool, inception_utils.fork


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

END_POINTS = [inception_utils.item_name(item) for item in _STEM + _MIXED]


_AUX_POOL = (5, 3)  # kernel and stride of the auxiliary head's VALID average pool
_AUX_KERNEL = 5  # kernel of the auxiliary head's VALID convolution at the default size
_LOGITS_POOL = (8, 2)  # kernel and stride of the main head's VALID average pool 'AvgPool_1a'


def end_point_sizes(size: int, axis: int = 0) -> Dict[str, int]:
  """Sizes along one axis of every base end point for an input of `size`, from the layer specs.

  A value below 1 means that the end point cannot be built at that input size.
  """
  sizes = inception_utils.stack_sizes(_STEM, size, axis, 'VALID')
  return {**sizes, **inception_utils.stack_sizes(_MIXED, sizes[END_POINTS[len(_STEM) - 1]], axis)}


def _aux_pool_size(mixed_6e: int) -> int:
  return (mixed_6e - _AUX_POOL[0]) // _AUX_POOL[1] + 1


def minimum_input_size(final_endpoint: str = 'Mixed_7c', aux_logits: bool = False) -> int:
  """Smallest input height (or width) at which the base up to `final_endpoint` (and the auxiliary head) build.

  Computed from the layer specs: every end point up to `final_endpoint` must be at least 1x1, and with
  `aux_logits` Mixed_6e must fit the auxiliary head's 5x5 VALID pool.
  """
  names = END_POINTS[:END_POINTS.index(final_endpoint) + 1]
  size = 1
  while True:
    sizes = end_point_sizes(size)
    if all(sizes[name] >= 1 for name in names) and (not aux_logits or _aux_pool_size(sizes['Mixed_6e']) >= 1):
      return size
    size += 1


def _static_axes(inputs) -> Tuple[Optional[int], Optional[int]]:
  """(height, width) of the inputs, each None where unknown."""
  shape = checks.static_shape(getattr(inputs, 'shape', None))
  if shape is None or len(shape) != 4:
    return None, None
  return shape[1], shape[2]


def _size_text(axes) -> str:
  return 'x'.join('?' if n is None else str(n) for n in axes)


def _check_input_size(inputs, final_endpoint: str, aux_logits: bool, caller: str) -> None:
  """Raises a ValueError when a known input height or width is below what the base (and the aux head) need."""
  axes = _static_axes(inputs)
  known = [n for n in axes if n is not None]
  base_minimum = minimum_input_size(final_endpoint)
  minimum = minimum_input_size(final_endpoint, aux_logits)
  if not known or min(known) >= minimum:
    return
  size = _size_text(axes)
  if min(known) >= base_minimum:
    raise ValueError(f'{caller}: inputs of {size} are too small for the auxiliary head (create_aux_logits=True), '
                     f'whose 5x5/3 VALID average pool needs Mixed_6e of at least 5x5, i.e. inputs of at least '
                     f'{minimum}x{minimum}; pass create_aux_logits=False to go down to {base_minimum}x{base_minimum}')
  aux_note = (f', and the auxiliary head (create_aux_logits=True) needs {minimum}x{minimum}' if aux_logits
              else '')
  raise ValueError(f'{caller}: inputs of {size} are too small: the VALID convolutions and pools up to '
                   f'{final_endpoint} need at least {base_minimum}x{base_minimum}{aux_note}; resize or pad the '
                   'images')


def _head_size(size: int, kernel: int, stride: int) -> int:
  """Output size of a VALID pool or conv whose kernel is shrunk to the map, as the heads do by default."""
  return (size - min(size, kernel)) // stride + 1


def _check_spatial_squeeze(inputs, aux_logits: bool) -> None:
  """Raises a ValueError when the logits of a head without global pooling would not be 1x1 on a known axis."""
  axes = _static_axes(inputs)
  heads = {'Logits': [], 'AuxLogits': []}
  for axis, n in enumerate(axes):
    if n is None:
      heads['Logits'].append(None)
      heads['AuxLogits'].append(None)
      continue
    sizes = end_point_sizes(n, axis)
    heads['Logits'].append(_head_size(sizes['Mixed_7c'], *_LOGITS_POOL))
    heads['AuxLogits'].append(_head_size(_aux_pool_size(sizes['Mixed_6e']), _AUX_KERNEL, 1))
  if not aux_logits:
    del heads['AuxLogits']
  for name, sizes in heads.items():
    if any(n not in (None, 1) for n in sizes):
      raise ValueError(f'inception_v3: inputs of {_size_text(axes)} give {_size_text(sizes)} {name} without global '
                       f'pooling, which spatial_squeeze=True cannot squeeze to [batch, num_classes]; pass '
                       f'global_pool=True (1x1 logits at any size, same variables) or spatial_squeeze=False')


def inception_v3_base(inputs: tf.Tensor, final_endpoint: str = 'Mixed_7c', min_depth: int = 16,
                      depth_multiplier: float = 1.0, scope: Optional[str] = None):
  """Inception v3 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least `minimum_input_size(final_endpoint)`
      (75x75 for Mixed_7c).
    final_endpoint: the last end point to build, one of `END_POINTS`.
    min_depth: smallest number of channels of a convolution after `depth_multiplier`.
    depth_multiplier: scales the channels of every convolution.
    scope: variable scope, default 'InceptionV3'.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 8, 8, 2048]` for Mixed_7c at 299x299) and an
    ordered dict of the end points built.

  Raises:
    ValueError: on an unknown `final_endpoint`, a `depth_multiplier` <= 0, or a known input size too small.
  """
  if final_endpoint not in END_POINTS:
    raise ValueError(f'final_endpoint must be one of {END_POINTS}, got {final_endpoint!r}')
  checks.check_images(inputs, 'inception_v3_base')
  checks.check_depth_multiplier(depth_multiplier, 'inception_v3_base')
  _check_input_size(inputs, final_endpoint, False, 'inception_v3_base')
  depth = inception_utils.depth_rule(depth_multiplier, min_depth)
  end_points = {}
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV3', [inputs]):
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='VALID'):
      net, done = inception_utils.build_stack(_STEM, inputs, depth, end_points, final_endpoint)
    if not done:
      with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
        net, _ = inception_utils.build_stack(_MIXED, net, depth, end_points, final_endpoint)
  return net, end_points


def _reduced_kernel(net: tf.Tensor, kernel: list) -> list:
  """`kernel` shrunk to the spatial size of `net` where that is known and smaller."""
  height, width = checks.static_shape(net)[1:3]
  if height is None or width is None:
    return kernel
  return [min(height, kernel[0]), min(width, kernel[1])]


def _padded_to(net: tf.Tensor, size: int) -> tf.Tensor:
  """`net` zero-padded evenly (the extra row and column at the end) to at least `size` x `size`."""
  pads = []
  for axis in (1, 2):
    static = checks.static_shape(net)[axis]
    total = max(size - static, 0) if static is not None else tf.maximum(size - tf.shape(net)[axis], 0)
    pads.append([total // 2, total - total // 2])
  if all(isinstance(p, int) and p == 0 for pair in pads for p in pair):
    return net
  return tf.pad(net, [[0, 0]] + pads + [[0, 0]])


def _aux_logits(net: tf.Tensor, num_classes: int, depth: Callable[[int], int], global_pool: bool,
                spatial_squeeze: bool) -> tf.Tensor:
  """The auxiliary classifier on Mixed_6e: 5x5/3 average pool, 1x1 and 5x5 convolutions, logits.

  By default (as in research/slim) the 5x5 convolution shrinks to the map where the map is smaller, which
  changes its variable's shape. With `global_pool` it keeps the 5x5 variable of the default size: smaller maps
  are zero-padded to 5x5, larger ones are averaged after it, so the logits are 1x1 at any size.
  """
  with tf.compat.v1.variable_scope('AuxLogits'):
    net = layers.avg_pool2d(net, _AUX_POOL[0], stride=_AUX_POOL[1], padding='VALID', scope='AvgPool_1a_5x5')
    net = layers.conv2d(net, depth(128), [1, 1], scope='Conv2d_1b_1x1')
    if global_pool:
      net = _padded_to(net, _AUX_KERNEL)
      kernel = [_AUX_KERNEL, _AUX_KERNEL]
    else:
      kernel = _reduced_kernel(net, [_AUX_KERNEL, _AUX_KERNEL])
    net = layers.conv2d(net, depth(768), kernel, weights_initializer=tf.compat.v1.truncated_normal_initializer(0.01),
                        padding='VALID', scope='Conv2d_2a_{}x{}'.format(*kernel))
    if global_pool and checks.static_shape(net)[1:3] != [1, 1]:
      net = tf.reduce_mean(net, [1, 2], keepdims=True, name='GlobalPool')
    net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                        weights_initializer=tf.compat.v1.truncated_normal_initializer(0.001), scope='Conv2d_2b_1x1')
    if spatial_squeeze:
      net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
    return net


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
    global_pool: average Mixed_7c over all positions instead of an 8x8 VALID pool, and let the auxiliary head
      pool globally too (see `_aux_logits`), so that any input size from the minimum up gives 1x1 logits with
      the variables of the default size.

  Returns:
    (logits, end_points), or (pooled features, end_points) without classes.

  Raises:
    ValueError: when a known input size is below `minimum_input_size` (75, or 107 with the auxiliary head),
      or when `spatial_squeeze` cannot squeeze the logits of a head without `global_pool` at that size.
  """
  checks.check_images(inputs, 'inception_v3')
  num_classes = checks.check_num_classes(num_classes, 'inception_v3')
  checks.check_depth_multiplier(depth_multiplier, 'inception_v3')
  aux_logits = bool(create_aux_logits and num_classes)
  _check_input_size(inputs, 'Mixed_7c', aux_logits, 'inception_v3')
  if num_classes and spatial_squeeze and not global_pool:
    _check_spatial_squeeze(inputs, aux_logits)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV3', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_v3_base(inputs, min_depth=min_depth, depth_multiplier=depth_multiplier, scope=sc)
      if aux_logits:
        with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
          end_points['AuxLogits'] = _aux_logits(end_points['Mixed_6e'], num_classes,
                                                inception_utils.depth_rule(depth_multiplier, min_depth), global_pool,
                                                spatial_squeeze)
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


inception_v3_arg_scope = inception_utils.inception_arg_scope
