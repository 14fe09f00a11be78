"""Inception v4 (Szegedy et al., "Inception-v4, Inception-ResNet and the Impact of Residual Connections on
Learning", arXiv:1602.07261) with research/slim's API, scopes and names.

The network is data (`nets.inception_utils`): a VALID stem (Conv2d_1a..2b, then the two-branch Mixed_3a,
Mixed_4a and Mixed_5a), 4 Inception-A blocks (Mixed_5b..e), Reduction-A (Mixed_6a, stride 16), 7 Inception-B
blocks (Mixed_6b..h), Reduction-B (Mixed_7a, stride 32) and 3 Inception-C blocks (Mixed_7b..d).

    with slim.arg_scope(inception.inception_v4_arg_scope()):
      logits, end_points = inception.inception_v4(images, num_classes=1001, is_training=False)  # 299x299

Sizes: the stem and the reductions are VALID; `minimum_input_size` walks the specs: 75 for a 1x1 Mixed_7d,
107 with the auxiliary head (its 5x5/3 VALID pool needs Mixed_6h of at least 5x5; its last convolution covers
the pooled map, so it needs a known size too). The classifier pools Mixed_7d over its whole extent, so any size
from the minimum gives [batch, num_classes]. Added, keyword only (research/slim has neither):
`depth_multiplier` and `min_depth`, for thin networks, and `global_pool=False` (features only: the unpooled
Mixed_7d).
"""

from typing import Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import inception_utils
from nets import layers

_conv, _pool, _fork = inception_utils.conv, inception_utils.pool, inception_utils.fork

_STEM = [
    _conv(32, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID'),
    _conv(32, 3, 'Conv2d_2a_3x3', padding='VALID'),
    _conv(64, 3, 'Conv2d_2b_3x3'),
]
_INCEPTION_A = [[_conv(96, 1, 'Conv2d_0a_1x1')],
                [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_0b_3x3')],
                [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_0b_3x3'), _conv(96, 3, 'Conv2d_0c_3x3')],
                [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(96, 1, 'Conv2d_0b_1x1')]]
_INCEPTION_B = [[_conv(384, 1, 'Conv2d_0a_1x1')],
                [_conv(192, 1, 'Conv2d_0a_1x1'), _conv(224, [1, 7], 'Conv2d_0b_1x7'),
                 _conv(256, [7, 1], 'Conv2d_0c_7x1')],
                [_conv(192, 1, 'Conv2d_0a_1x1'), _conv(192, [7, 1], 'Conv2d_0b_7x1'),
                 _conv(224, [1, 7], 'Conv2d_0c_1x7'), _conv(224, [7, 1], 'Conv2d_0d_7x1'),
                 _conv(256, [1, 7], 'Conv2d_0e_1x7')],
                [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(128, 1, 'Conv2d_0b_1x1')]]
_INCEPTION_C = [[_conv(256, 1, 'Conv2d_0a_1x1')],
                [_conv(384, 1, 'Conv2d_0a_1x1'),
                 _fork(_conv(256, [1, 3], 'Conv2d_0b_1x3'), _conv(256, [3, 1], 'Conv2d_0c_3x1'))],
                [_conv(384, 1, 'Conv2d_0a_1x1'), _conv(448, [3, 1], 'Conv2d_0b_3x1'),
                 _conv(512, [1, 3], 'Conv2d_0c_1x3'),
                 _fork(_conv(256, [1, 3], 'Conv2d_0d_1x3'), _conv(256, [3, 1], 'Conv2d_0e_3x1'))],
                [_pool('avg', 3, 'AvgPool_0a_3x3'), _conv(256, 1, 'Conv2d_0b_1x1')]]
_BLOCKS = [
    ('Mixed_3a', [[_pool('max', 3, 'MaxPool_0a_3x3', stride=2, padding='VALID')],
                  [_conv(96, 3, 'Conv2d_0a_3x3', stride=2, padding='VALID')]]),
    ('Mixed_4a', [[_conv(64, 1, 'Conv2d_0a_1x1'), _conv(96, 3, 'Conv2d_1a_3x3', padding='VALID')],
                  [_conv(64, 1, 'Conv2d_0a_1x1'), _conv(64, [1, 7], 'Conv2d_0b_1x7'),
                   _conv(64, [7, 1], 'Conv2d_0c_7x1'), _conv(96, 3, 'Conv2d_1a_3x3', padding='VALID')]]),
    ('Mixed_5a', [[_conv(192, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding='VALID')]]),
    *((f'Mixed_5{letter}', _INCEPTION_A) for letter in 'bcde'),
    ('Mixed_6a', [[_conv(384, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_conv(192, 1, 'Conv2d_0a_1x1'), _conv(224, 3, 'Conv2d_0b_3x3'),
                   _conv(256, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding='VALID')]]),
    *((f'Mixed_6{letter}', _INCEPTION_B) for letter in 'bcdefgh'),
    ('Mixed_7a', [[_conv(192, 1, 'Conv2d_0a_1x1'), _conv(192, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_conv(256, 1, 'Conv2d_0a_1x1'), _conv(256, [1, 7], 'Conv2d_0b_1x7'),
                   _conv(320, [7, 1], 'Conv2d_0c_7x1'), _conv(320, 3, 'Conv2d_1a_3x3', stride=2, padding='VALID')],
                  [_pool('max', 3, 'MaxPool_1a_3x3', stride=2, padding='VALID')]]),
    *((f'Mixed_7{letter}', _INCEPTION_C) for letter in 'bcd'),
]
END_POINTS = [inception_utils.item_name(item) for item in _STEM + _BLOCKS]
AUX_ON = 'Mixed_6h'


def end_point_sizes(size: int, axis: int = 0) -> dict:
  """Sizes along one axis of the base end points for an input of `size` (below 1: cannot be built)."""
  return inception_utils.stack_sizes(_STEM + _BLOCKS, size, axis)


def minimum_input_size(final_endpoint: str = 'Mixed_7d', aux_logits: bool = False) -> int:
  """Smallest input height (or width) at which the base up to `final_endpoint` (and the aux head) build."""
  return inception_utils.minimum_input_size(end_point_sizes, END_POINTS, final_endpoint, AUX_ON if aux_logits else None)


def inception_v4_base(inputs: tf.Tensor, final_endpoint: str = 'Mixed_7d', scope: Optional[str] = None, *,
                      depth_multiplier: float = 1.0, min_depth: int = 16):
  """Inception v4 from the input to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least `minimum_input_size(final_endpoint)`.
    final_endpoint: the last end point to build, one of `END_POINTS`.
    scope: variable scope, default 'InceptionV4'.
    depth_multiplier: scales the channels of every convolution (at least `min_depth`).
    min_depth: smallest number of channels under `depth_multiplier`.

  Returns:
    (net, end_points): the output of `final_endpoint` (`[batch, 8, 8, 1536]` for Mixed_7d at 299x299) and an
    ordered dict of the end points built.

  Raises:
    ValueError: for an unknown `final_endpoint`, a known input size too small, or bad inputs; nothing is
      created then.
  """
  minimum = minimum_input_size(final_endpoint) if final_endpoint in END_POINTS else 1  # else refused below
  inception_utils.check_base(inputs, final_endpoint, END_POINTS, depth_multiplier, minimum, 'inception_v4_base')
  depth = inception_utils.depth_rule(depth_multiplier, min_depth)
  end_points = {}
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV4', [inputs]):
    with slim.arg_scope([layers.conv2d, layers.max_pool2d, layers.avg_pool2d], stride=1, padding='SAME'):
      net, _ = inception_utils.build_stack(_STEM + _BLOCKS, inputs, depth, end_points, final_endpoint)
  return net, end_points


def inception_v4(inputs: tf.Tensor, num_classes: Optional[int] = 1001, is_training: bool = True,
                 dropout_keep_prob: float = 0.8, reuse=None, scope: str = 'InceptionV4',
                 create_aux_logits: bool = True, *, global_pool: bool = True, depth_multiplier: float = 1.0,
                 min_depth: int = 16):
  """Inception v4 for classification, or its pooled features with `num_classes` None or 0.

  Args:
    inputs: `[batch, height, width, channels]` float tensor, 299x299 by default, at least 75x75 (107x107 with
      the auxiliary head); height and width may be unknown without the auxiliary head.
    num_classes: number of classes; None or 0 returns the pooled features ('global_pool').
    is_training: batch norm and dropout mode.
    dropout_keep_prob: keep probability of the dropout before the logits.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    create_aux_logits: build the auxiliary classifier ('AuxLogits') on Mixed_6h when there are classes.
    global_pool: (keyword only) False, without classes only, returns the unpooled Mixed_7d.
    depth_multiplier, min_depth: see `inception_v4_base`.

  Returns:
    (logits `[batch, num_classes]`, end_points), or (pooled features `[batch, 1, 1, 1536]`, end_points), or
    Mixed_7d with `global_pool=False`.

  Raises:
    ValueError: for a known input size below the minimum, an auxiliary head on an unknown size, or a bad
      argument; nothing is created then.
  """
  checks.check_images(inputs, 'inception_v4')
  num_classes = checks.check_num_classes(num_classes, 'inception_v4')
  aux_logits = bool(create_aux_logits and num_classes)
  inception_utils.check_head(inputs, num_classes, global_pool, aux_logits, minimum_input_size(),
                             minimum_input_size(aux_logits=True), AUX_ON, 'inception_v4')
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'InceptionV4', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = inception_v4_base(inputs, scope=sc, depth_multiplier=depth_multiplier, min_depth=min_depth)
      depth = inception_utils.depth_rule(depth_multiplier, min_depth)
      if aux_logits:
        end_points['AuxLogits'] = inception_utils.aux_logits(
            end_points[AUX_ON], num_classes, depth, ('AvgPool_1a_5x5', 'Conv2d_1b_1x1', 'Conv2d_2a', 'Aux_logits'))
      if global_pool:
        net = inception_utils.pooled_logits(net, num_classes, dropout_keep_prob, end_points, 'AvgPool_1a',
                                            'Dropout_1b', flatten_first=False, flatten_scope='PreLogitsFlatten')
  return net, end_points


inception_v4.default_image_size = 299

inception_v4_arg_scope = inception_utils.inception_arg_scope
