"""Inception-ResNet v2 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections
on Learning", arXiv:1602.07261) with research/slim's API, scopes and names (the Faster R-CNN backbone of the
detection model zoo).

The network is data (`nets.inception_utils`): a VALID stem, Mixed_5b, 10 residual Block35 units (scope
'Repeat/block35_<i>'), Mixed_6a (stride 16), 20 Block17 units ('Repeat_1/block17_<i>'; 'PreAuxLogits'),
Mixed_7a (stride 32), 9 Block8 units ('Repeat_2/block8_<i>'), a last 'Block8' without activation and
Conv2d_7b_1x1. Each residual unit adds `scale` times a linear 1x1 projection of its concatenated branches.

    with slim.arg_scope(inception_resnet_v2.inception_resnet_v2_arg_scope()):
      logits, end_points = inception_resnet_v2.inception_resnet_v2(images, num_classes=1001, is_training=False)
      # dense features: stride 16 after Mixed_6a, or 8 (Mixed_6a unstrided, Block17 atrous) up to PreAuxLogits
      features, end_points = inception_resnet_v2.inception_resnet_v2_base(images, final_endpoint='PreAuxLogits',
                                                                          output_stride=8)

Sizes: the stem, Mixed_6a and Mixed_7a are VALID (`align_feature_maps=True` makes them SAME, so every map is
ceil(size / stride)); `minimum_input_size` walks the specs: 75 for Conv2d_7b_1x1 (Mixed_7a 1x1), 107 with the
auxiliary head, whose 5x5/3 VALID pool needs PreAuxLogits of at least 5x5. The classifier pools Conv2d_7b_1x1
over its whole extent, so any size from the minimum gives 1x1 logits. Sizes below the minimum, an auxiliary
head on an unknown size (its kernel is the map's size), `output_stride` other than 8 and 16, and
`output_stride=8` past PreAuxLogits are a `ValueError` before anything is built.

Added, keyword only (research/slim has neither): `depth_multiplier` and `min_depth`, for thin networks.
"""

from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import inception_utils
from nets import layers

_conv, _pool = inception_utils.conv, inception_utils.pool
_ALIGNED = 'ALIGNED'  # the network's padding: VALID, or SAME with align_feature_maps

_STEM = [
    _conv(32, 3, 'Conv2d_1a_3x3', stride=2, padding=_ALIGNED),
    _conv(32, 3, 'Conv2d_2a_3x3', padding=_ALIGNED),
    _conv(64, 3, 'Conv2d_2b_3x3'),
    _pool('max', 3, 'MaxPool_3a_3x3', stride=2, padding=_ALIGNED),
    _conv(80, 1, 'Conv2d_3b_1x1', padding=_ALIGNED),
    _conv(192, 3, 'Conv2d_4a_3x3', padding=_ALIGNED),
    _pool('max', 3, 'MaxPool_5a_3x3', stride=2, padding=_ALIGNED),
]
_MIXED_5B = [[_conv(96, 1, 'Conv2d_1x1')],
             [_conv(48, 1, 'Conv2d_0a_1x1'), _conv(64, 5, 'Conv2d_0b_5x5')],
             [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_0b_3x3'), _conv(96, 3, 'Conv2d_0c_3x3')],
             [_pool('avg', 3, 'AvgPool_0a_3x3', padding='SAME'), _conv(64, 1, 'Conv2d_0b_1x1')]]


def _mixed_6a(stride: int) -> list:
  return [[_conv(384, 3, 'Conv2d_1a_3x3', stride=stride, padding=_ALIGNED)],
          [_conv(256, 1, 'Conv2d_0a_1x1'), _conv(256, 3, 'Conv2d_0b_3x3'),
           _conv(384, 3, 'Conv2d_1a_3x3', stride=stride, padding=_ALIGNED)],
          [_pool('max', 3, 'MaxPool_1a_3x3', stride=stride, padding=_ALIGNED)]]


_MIXED_7A = [[_conv(256, 1, 'Conv2d_0a_1x1'), _conv(384, 3, 'Conv2d_1a_3x3', stride=2, padding=_ALIGNED)],
             [_conv(256, 1, 'Conv2d_0a_1x1'), _conv(288, 3, 'Conv2d_1a_3x3', stride=2, padding=_ALIGNED)],
             [_conv(256, 1, 'Conv2d_0a_1x1'), _conv(288, 3, 'Conv2d_0b_3x3'),
              _conv(320, 3, 'Conv2d_1a_3x3', stride=2, padding=_ALIGNED)],
             [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding=_ALIGNED)]]

# The residual units' branches (all SAME, stride 1).
_BLOCK35 = [[_conv(32, 1, 'Conv2d_1x1')],
            [_conv(32, 1, 'Conv2d_0a_1x1'), _conv(32, 3, 'Conv2d_0b_3x3')],
            [_conv(32, 1, 'Conv2d_0a_1x1'), _conv(48, 3, 'Conv2d_0b_3x3'), _conv(64, 3, 'Conv2d_0c_3x3')]]
_BLOCK17 = [[_conv(192, 1, 'Conv2d_1x1')],
            [_conv(128, 1, 'Conv2d_0a_1x1'), _conv(160, [1, 7], 'Conv2d_0b_1x7'), _conv(192, [7, 1], 'Conv2d_0c_7x1')]]
_BLOCK8 = [[_conv(192, 1, 'Conv2d_1x1')],
           [_conv(192, 1, 'Conv2d_0a_1x1'), _conv(224, [1, 3], 'Conv2d_0b_1x3'), _conv(256, [3, 1], 'Conv2d_0c_3x1')]]

END_POINTS = [inception_utils.name_of(layer) for layer in _STEM] + [
    'Mixed_5b', 'Mixed_6a', 'PreAuxLogits', 'Mixed_7a', 'Conv2d_7b_1x1']
_OUTPUT_STRIDES = (8, 16)
AUX_ON = 'PreAuxLogits'


def _padded(specs, padding: str):
  """`specs` (a layer, or lists of them) with the network's padding in place of `_ALIGNED`."""
  if isinstance(specs, list):
    return [_padded(one, padding) for one in specs]
  if specs[0] == 'fork':
    return ('fork', tuple(_padded(one, padding) for one in specs[1]))
  return specs[:5] + (padding if specs[5] == _ALIGNED else specs[5],) + specs[6:]


def end_point_sizes(size: int, axis: int = 0, output_stride: int = 16, align_feature_maps: bool = False) -> dict:
  """Sizes along one axis of the base end points for an input of `size` (below 1: cannot be built)."""
  padding = 'SAME' if align_feature_maps else 'VALID'
  sizes = {}
  for layer in _padded(_STEM, padding):
    size = sizes[inception_utils.name_of(layer)] = inception_utils.layer_size(layer, size, axis, 'SAME')
  size = sizes['Mixed_5b'] = inception_utils.block_size(_MIXED_5B, size, axis)
  size = sizes['Mixed_6a'] = inception_utils.block_size(_padded(_mixed_6a(1 if output_stride == 8 else 2), padding),
                                                        size, axis)
  sizes['PreAuxLogits'] = size
  size = sizes['Mixed_7a'] = inception_utils.block_size(_padded(_MIXED_7A, padding), size, axis)
  sizes['Conv2d_7b_1x1'] = size
  return sizes


def minimum_input_size(final_endpoint: str = 'Conv2d_7b_1x1', aux_logits: bool = False,
                       align_feature_maps: bool = False) -> int:
  """Smallest input height (or width) at which the base up to `final_endpoint` (and the aux head) build."""
  return inception_utils.minimum_input_size(lambda size: end_point_sizes(size, align_feature_maps=align_feature_maps),
                                            END_POINTS, final_endpoint, AUX_ON if aux_logits else None)


def _check_base(inputs, final_endpoint, output_stride, align_feature_maps, depth_multiplier, caller: str) -> int:
  hint = '' if align_feature_maps else ', or pass align_feature_maps=True (SAME padding)'
  known = final_endpoint in END_POINTS  # an unknown one is refused by check_base
  minimum = minimum_input_size(final_endpoint, align_feature_maps=align_feature_maps) if known else 1
  inception_utils.check_base(inputs, final_endpoint, END_POINTS, depth_multiplier, minimum, caller, hint)
  output_stride = checks.as_int(output_stride)
  if output_stride not in _OUTPUT_STRIDES or isinstance(output_stride, bool):
    raise ValueError(f'{caller}: output_stride must be 8 or 16, got {output_stride!r}')
  if output_stride == 8 and END_POINTS.index(final_endpoint) > END_POINTS.index('PreAuxLogits'):
    raise ValueError(f"{caller}: output_stride=8 builds up to final_endpoint='PreAuxLogits' only (Mixed_6a "
                     f"unstrided, Block17 at rate 2), got final_endpoint={final_endpoint!r}")
  return output_stride


def _residual(net: tf.Tensor, specs, scale: float, activation_fn: Optional[Callable], depth, scope: str):
  """A residual unit: `net` plus `scale` times the linear 1x1 projection of its branches, then the activation."""
  with tf.compat.v1.variable_scope(scope):
    mixed = inception_utils.branches(specs, net, depth)
    up = layers.conv2d(mixed, int(net.shape[3]), 1, normalizer_fn=None, activation_fn=None, scope='Conv2d_1x1')
    scaled = up * scale
    if activation_fn is tf.nn.relu6:  # research/slim's band-pass: the residual is clipped to the ReLU6 range
      scaled = tf.clip_by_value(scaled, -6.0, 6.0)
    net = net + scaled
    return activation_fn(net) if activation_fn else net


def _repeat(net, count: int, specs, scale: float, activation_fn, depth, scope: str, unit: str):
  """`count` residual units in scope `scope` named '<unit>_1'.. (research/slim's `slim.repeat`)."""
  with tf.compat.v1.variable_scope(scope):
    for i in range(1, count + 1):
      net = _residual(net, specs, scale, activation_fn, depth, f'{unit}_{i}')
  return net


def inception_resnet_v2_base(inputs: tf.Tensor, final_endpoint: str = 'Conv2d_7b_1x1', output_stride: int = 16,
                             align_feature_maps: bool = False, scope: Optional[str] = None,
                             activation_fn: Callable = tf.nn.relu, *, depth_multiplier: float = 1.0,
                             min_depth: int = 16):
  """Inception-ResNet v2 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least `minimum_input_size(final_endpoint)`.
    final_endpoint: the last end point to build, one of `END_POINTS`.
    output_stride: 16 (Mixed_6a strided; the nominal network) or 8 (Mixed_6a at stride 1 and the Block17 units
      atrous at rate 2, up to 'PreAuxLogits' only).
    align_feature_maps: SAME instead of VALID padding in the stem, Mixed_6a and Mixed_7a.
    scope: variable scope, default 'InceptionResnetV2'.
    activation_fn: the activation closing each residual unit.
    depth_multiplier: scales the channels of every convolution but the residual projections (at least
      `min_depth`).
    min_depth: smallest number of channels under `depth_multiplier`.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 8, 8, 1536]` for Conv2d_7b_1x1 at 299x299) and
    an ordered dict of the end points built.

  Raises:
    ValueError: for an unknown `final_endpoint`, an `output_stride` other than 8 and 16 (or 8 past
      PreAuxLogits), a known input size too small, or bad inputs; nothing is created then.
  """
  output_stride = _check_base(inputs, final_endpoint, output_stride, align_feature_maps, depth_multiplier,
                              'inception_resnet_v2_base')
  padding = 'SAME' if align_feature_maps else 'VALID'
  depth = inception_utils.depth_rule(depth_multiplier, min_depth)
  atrous = output_stride == 8
  end_points = {}

  def done(name: str, net: tf.Tensor) -> bool:
    end_points[name] = net
    return name == final_endpoint

  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionResnetV2', [inputs]):
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
      net = inputs
      for layer in _padded(_STEM, padding):
        net = inception_utils.apply(layer, net, depth)
        if done(inception_utils.name_of(layer), net):
          return net, end_points
      net = inception_utils.block('Mixed_5b', _MIXED_5B, net, depth)
      if done('Mixed_5b', net):
        return net, end_points
      net = _repeat(net, 10, _BLOCK35, 0.17, activation_fn, depth, 'Repeat', 'block35')
      net = inception_utils.block('Mixed_6a', _padded(_mixed_6a(1 if atrous else 2), padding), net, depth)
      if done('Mixed_6a', net):
        return net, end_points
      with slim.arg_scope([layers.conv2d], rate=2 if atrous else 1):
        net = _repeat(net, 20, _BLOCK17, 0.10, activation_fn, depth, 'Repeat_1', 'block17')
      if done('PreAuxLogits', net):
        return net, end_points
      net = inception_utils.block('Mixed_7a', _padded(_MIXED_7A, padding), net, depth)
      if done('Mixed_7a', net):
        return net, end_points
      net = _repeat(net, 9, _BLOCK8, 0.20, activation_fn, depth, 'Repeat_2', 'block8')
      net = _residual(net, _BLOCK8, 1.0, None, depth, 'Block8')
      net = layers.conv2d(net, depth(1536), 1, scope='Conv2d_7b_1x1')
      done('Conv2d_7b_1x1', net)
  return net, end_points


def inception_resnet_v2(inputs: tf.Tensor, num_classes: Optional[int] = 1001, is_training: bool = True,
                        dropout_keep_prob: float = 0.8, reuse=None, scope: str = 'InceptionResnetV2',
                        create_aux_logits: bool = True, activation_fn: Callable = tf.nn.relu, *,
                        global_pool: bool = True, depth_multiplier: float = 1.0, min_depth: int = 16):
  """Inception-ResNet v2 for classification, or its pooled features with `num_classes` None or 0.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, 299x299 by default, at least 75x75 (107x107 with
      the auxiliary head); height and width may be unknown without the auxiliary head.
    num_classes: number of classes; None or 0 returns the pooled features ('global_pool').
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    create_aux_logits: build the auxiliary classifier ('AuxLogits') on PreAuxLogits when there are classes.
    activation_fn: the activation closing each residual unit.
    global_pool: (keyword only, not in research/slim) the head always averages Conv2d_7b_1x1 over its whole
      extent, as research/slim does; False, without classes only, returns the unpooled Conv2d_7b_1x1 (the
      factory's dense features).
    depth_multiplier, min_depth: see `inception_resnet_v2_base`.

  Returns:
    (logits `[batch, num_classes]`, end_points), or (pooled features `[batch, 1, 1, 1536]`, end_points), or
    Conv2d_7b_1x1 with `global_pool=False`.

  Raises:
    ValueError: for a known input size below the minimum, an auxiliary head on an unknown size, or a bad
      argument; nothing is created then.
  """
  checks.check_images(inputs, 'inception_resnet_v2')
  num_classes = checks.check_num_classes(num_classes, 'inception_resnet_v2')
  aux_logits = bool(create_aux_logits and num_classes)
  _check_base(inputs, 'Conv2d_7b_1x1', 16, False, depth_multiplier, 'inception_resnet_v2')
  inception_utils.check_head(inputs, num_classes, global_pool, aux_logits, minimum_input_size(),
                             minimum_input_size(aux_logits=True), AUX_ON, 'inception_resnet_v2')
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionResnetV2', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_resnet_v2_base(inputs, scope=sc, activation_fn=activation_fn,
                                                 depth_multiplier=depth_multiplier, min_depth=min_depth)
      if aux_logits:
        end_points['AuxLogits'] = inception_utils.aux_logits(
            end_points[AUX_ON], num_classes, inception_utils.depth_rule(depth_multiplier, min_depth),
            ('Conv2d_1a_3x3', 'Conv2d_1b_1x1', 'Conv2d_2a_5x5', 'Logits'))
      if global_pool:
        net = inception_utils.pooled_logits(net, num_classes, dropout_keep_prob, end_points, 'AvgPool_1a_8x8',
                                            'Dropout', flatten_first=True)
  return net, end_points


inception_resnet_v2.default_image_size = 299


def inception_resnet_v2_arg_scope(weight_decay: float = 0.00004, batch_norm_decay: float = 0.9997,
                                  batch_norm_epsilon: float = 0.001, activation_fn: Callable = tf.nn.relu,
                                  batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                                  batch_norm_scale: bool = False) -> dict:
  """The arg scope of Inception-ResNet v2: L2 weight decay on the kernels and the biases of the convolutions and
  fully connected layers, batch norm (without scale by default) and `activation_fn` after each convolution.

  Args:
    weight_decay: L2 regularization weight.
    batch_norm_decay: decay of the batch norm moving averages.
    batch_norm_epsilon: added to the variance in batch norm.
    activation_fn: activation after each convolution.
    batch_norm_updates_collections: collection for the moving average updates (None: update in place).
    batch_norm_scale: whether batch norm learns a scale `gamma`.

  Returns:
    An arg scope to use with `slim.arg_scope`.
  """
  regularizer = slim.l2_regularizer(weight_decay)
  batch_norm_params = {'decay': batch_norm_decay, 'epsilon': batch_norm_epsilon,
                       'updates_collections': batch_norm_updates_collections, 'fused': None,
                       'scale': batch_norm_scale}
  with layers.BUILD_LOCK, slim.arg_scope([layers.conv2d, layers.fully_connected], weights_regularizer=regularizer,
                                         biases_regularizer=regularizer):
    with slim.arg_scope([layers.conv2d], activation_fn=activation_fn, normalizer_fn=layers.batch_norm,
                        normalizer_params=batch_norm_params) as scope:
      return scope
