"""MobileNet v3 (Howard et al., "Searching for MobileNetV3", arXiv:1905.02244) and MobileNet-EdgeTPU, with
research/slim's API (nets/mobilenet/mobilenet_v3.py), definitions, scope, end point and variable names.

The networks are conv defs of `nets.mobilenet.mobilenet`: `V3_LARGE`, `V3_SMALL`, their `_MINIMALISTIC` forms
(no squeeze-excite, no hard-swish, 3x3 kernels only) and `V3_EDGETPU` (full convolutions in place of the
expansion and depthwise pair in the early blocks, `mbv3_fused`), built by `mobilenet` under scope 'MobilenetV3'
('MobilenetEdgeTPU' for `edge_tpu`). The large and small heads pool with `reduce_to_1x1` before their last 1x1
convolution; their features for dense prediction end before it ('layer_17' of large, 'layer_13' of small, as
DeepLab takes them), which is what `mobilenet(..., num_classes=None, global_pool=False)` returns. Every output
stride the layers reach works (research/slim's base fails at any `output_stride` when it builds the head pool):

    with slim.arg_scope(mobilenet_v3.training_scope(is_training=False)):
      logits, end_points = mobilenet_v3.large(images, num_classes=1001)
      features, end_points = mobilenet_v3.mobilenet_base(images, conv_defs=mobilenet_v3.V3_LARGE,
                                                         output_stride=16, final_endpoint='layer_17')

The published checkpoints have 1001 classes (background first) and expect images scaled to [-1, 1].
"""

import copy
import functools
from typing import Callable, Optional, Tuple

import numpy as np
import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers
from nets.mobilenet import conv_blocks as ops
from nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor
reduce_to_1x1 = ops.reduce_to_1x1


def hard_swish(x: tf.Tensor) -> tf.Tensor:
  """x * relu6(x + 3) / 6 (under name scope 'hard_swish')."""
  with tf.compat.v1.name_scope('hard_swish'):
    return x * tf.nn.relu6(x + 3.0) * (1.0 / 6.0)


def _hard_sigmoid_gate(x: tf.Tensor) -> tf.Tensor:
  """The squeeze-excite gate of MobileNet v3: relu6(x + 3) * 0.16667 (research/slim's rounded constant)."""
  return tf.nn.relu6(x + 3.0) * 0.16667


squeeze_excite = functools.partial(ops.squeeze_excite, squeeze_factor=4, inner_activation_fn=tf.nn.relu,
                                   gating_fn=_hard_sigmoid_gate)


def _se4(expansion_tensor: tf.Tensor, input_tensor: tf.Tensor) -> tf.Tensor:
  """Squeeze-excite as an `expanded_conv` expansion transform (on the depthwise output)."""
  del input_tensor
  return squeeze_excite(expansion_tensor)


def mbv3_op(ef: float, n: int, k: int, s: int = 1, act: Callable = tf.nn.relu, se: Optional[Callable] = None,
            **kwargs) -> lib.Op:
  """A MobileNet v3 block: `expanded_conv` with expansion factor `ef`, `n` outputs, a k x k depthwise kernel of
  stride `s`, inner activation `act` and expansion transform `se` (squeeze-excite or None)."""
  return op(ops.expanded_conv, expansion_size=expand_input(ef), kernel_size=(k, k), stride=s, num_outputs=n,
            inner_activation_fn=act, expansion_transform=se, **kwargs)


def mbv3_fused(ef: float, n: int, k: int, s: int = 1, **kwargs) -> lib.Op:
  """A fused block (MobileNet-EdgeTPU): one k x k convolution of stride `s` expands, no depthwise convolution,
  then the 1x1 projection."""
  expansion_fn = functools.partial(layers.conv2d, kernel_size=k, stride=s)
  return mbv3_op(ef, n, k=1, s=s, depthwise_location=None, expansion_fn=expansion_fn, **kwargs)


mbv3_op_se = functools.partial(mbv3_op, se=_se4)

DEFAULTS = {
    (ops.expanded_conv,): {'normalizer_fn': layers.batch_norm, 'residual': True},
    (layers.conv2d, layers.fully_connected, layers.separable_conv2d): {
        'normalizer_fn': layers.batch_norm, 'activation_fn': tf.nn.relu},
    (layers.batch_norm,): {'center': True, 'scale': True},
}


def _head(channels: int, last: int, activation: Optional[Callable]) -> list:
  """The large and small heads: 1x1 convolution, pool to 1x1, 1x1 convolution without normalizer."""
  extra = {} if activation is None else {'activation_fn': activation}
  return [op(layers.conv2d, stride=1, kernel_size=[1, 1], num_outputs=channels, **extra),
          op(reduce_to_1x1, default_size=7, stride=1, padding='VALID'),
          op(layers.conv2d, stride=1, kernel_size=[1, 1], num_outputs=last, normalizer_fn=None, **extra)]


def _stem(activation: Optional[Callable], channels: int = 16) -> lib.Op:
  extra = {} if activation is None else {'activation_fn': activation}
  return op(layers.conv2d, stride=2, num_outputs=channels, kernel_size=(3, 3), **extra)


V3_LARGE = dict(defaults=dict(DEFAULTS), spec=[
    _stem(hard_swish),
    mbv3_op(ef=1, n=16, k=3),
    mbv3_op(ef=4, n=24, k=3, s=2),
    mbv3_op(ef=3, n=24, k=3, s=1),
    mbv3_op_se(ef=3, n=40, k=5, s=2),
    mbv3_op_se(ef=3, n=40, k=5, s=1),
    mbv3_op_se(ef=3, n=40, k=5, s=1),
    mbv3_op(ef=6, n=80, k=3, s=2, act=hard_swish),
    mbv3_op(ef=2.5, n=80, k=3, s=1, act=hard_swish),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=112, k=3, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=160, k=5, s=1, act=hard_swish),
    *_head(960, 1280, hard_swish),
])

V3_LARGE_MINIMALISTIC = dict(defaults=dict(DEFAULTS), spec=[
    _stem(None),
    mbv3_op(ef=1, n=16, k=3),
    mbv3_op(ef=4, n=24, k=3, s=2),
    mbv3_op(ef=3, n=24, k=3, s=1),
    mbv3_op(ef=3, n=40, k=3, s=2),
    mbv3_op(ef=3, n=40, k=3, s=1),
    mbv3_op(ef=3, n=40, k=3, s=1),
    mbv3_op(ef=6, n=80, k=3, s=2),
    mbv3_op(ef=2.5, n=80, k=3, s=1),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1),
    mbv3_op(ef=184 / 80., n=80, k=3, s=1),
    mbv3_op(ef=6, n=112, k=3, s=1),
    mbv3_op(ef=6, n=112, k=3, s=1),
    mbv3_op(ef=6, n=160, k=3, s=2),
    mbv3_op(ef=6, n=160, k=3, s=1),
    mbv3_op(ef=6, n=160, k=3, s=1),
    *_head(960, 1280, None),
])

V3_SMALL = dict(defaults=dict(DEFAULTS), spec=[
    _stem(hard_swish),
    mbv3_op_se(ef=1, n=16, k=3, s=2),
    mbv3_op(ef=72. / 16, n=24, k=3, s=2),
    mbv3_op(ef=88. / 24, n=24, k=3, s=1),
    mbv3_op_se(ef=4, n=40, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=40, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=3, n=48, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=2, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
    mbv3_op_se(ef=6, n=96, k=5, s=1, act=hard_swish),
    *_head(576, 1024, hard_swish),
])

V3_SMALL_MINIMALISTIC = dict(defaults=dict(DEFAULTS), spec=[
    _stem(None),
    mbv3_op(ef=1, n=16, k=3, s=2),
    mbv3_op(ef=72. / 16, n=24, k=3, s=2),
    mbv3_op(ef=88. / 24, n=24, k=3, s=1),
    mbv3_op(ef=4, n=40, k=3, s=2),
    mbv3_op(ef=6, n=40, k=3, s=1),
    mbv3_op(ef=6, n=40, k=3, s=1),
    mbv3_op(ef=3, n=48, k=3, s=1),
    mbv3_op(ef=3, n=48, k=3, s=1),
    mbv3_op(ef=6, n=96, k=3, s=2),
    mbv3_op(ef=6, n=96, k=3, s=1),
    mbv3_op(ef=6, n=96, k=3, s=1),
    *_head(576, 1024, None),
])

V3_EDGETPU = dict(defaults=dict(DEFAULTS), spec=[
    _stem(None, channels=32),
    mbv3_fused(k=3, s=1, ef=1, n=16),
    mbv3_fused(k=3, s=2, ef=8, n=32),
    *(mbv3_fused(k=3, s=1, ef=4, n=32) for _ in range(3)),
    mbv3_fused(k=3, s=2, ef=8, n=48),
    *(mbv3_fused(k=3, s=1, ef=4, n=48) for _ in range(3)),
    mbv3_op(k=3, s=2, ef=8, n=96),
    *(mbv3_op(k=3, s=1, ef=4, n=96) for _ in range(3)),
    mbv3_op(k=3, s=1, ef=8, n=96, residual=False),
    *(mbv3_op(k=3, s=1, ef=4, n=96) for _ in range(3)),
    mbv3_op(k=5, s=2, ef=8, n=160),
    *(mbv3_op(k=5, s=1, ef=4, n=160) for _ in range(3)),
    mbv3_op(k=3, s=1, ef=8, n=192),
    op(layers.conv2d, stride=1, num_outputs=1280, kernel_size=(1, 1)),
])


def _keep_last_layer(params: dict, multiplier: float) -> dict:
  """The fine-grain classification mode's channel rule for the last layer: not scaled."""
  del multiplier
  return params


@slim.add_arg_scope
def mobilenet(input_tensor: tf.Tensor, num_classes: Optional[int] = 1001, depth_multiplier: float = 1.0,
              scope: str = 'MobilenetV3', conv_defs: Optional[dict] = None,
              finegrain_classification_mode: bool = False, *, is_training: Optional[bool] = None,
              prediction_fn: Optional[Callable] = layers.softmax, reuse=None, base_only: bool = False,
              final_endpoint: Optional[str] = None, output_stride: Optional[int] = None,
              use_explicit_padding: bool = False, global_pool: bool = True):
  """A MobileNet v3 (default `V3_LARGE`) for classification, or with `base_only` its features.

  Args:
    input_tensor: `[batch, height, width, channels]`.
    num_classes: classes of the logits; None or 0 returns the globally pooled features ('global_pool').
    depth_multiplier: scales every layer's channels (> 0), rounded to multiples of 8.
    scope: variable scope.
    conv_defs: the network definition, default `V3_LARGE`.
    finegrain_classification_mode: the last layer keeps its channels whatever the multiplier.
    is_training: batch norm and dropout mode; None leaves it to the arg scope (`training_scope`), else inference.
    prediction_fn, reuse, base_only: as for `mobilenet.mobilenet`.
    final_endpoint, output_stride, use_explicit_padding: as for `mobilenet.mobilenet_base`; output_stride is
      None (nominal, 32) or one of 1, 2, 4, 8, 16, 32.
    global_pool: (not in research/slim) False keeps the feature map, the head pool included (see
      `mobilenet.mobilenet`): without classes the features end before the head pool.

  Returns:
    (logits or features, end points).

  Raises:
    ValueError: for bad inputs or arguments, before anything is built.
  """
  caller = scope if isinstance(scope, str) else 'mobilenet_v3'
  checks.check_images(input_tensor, caller)
  checks.check_depth_multiplier(depth_multiplier, caller)
  conv_defs = V3_LARGE if conv_defs is None else conv_defs
  if finegrain_classification_mode:
    conv_defs = copy.deepcopy(conv_defs)
    conv_defs['spec'][-1] = conv_defs['spec'][-1]._replace(multiplier_func=_keep_last_layer)
  base_args = {'final_endpoint': final_endpoint, 'output_stride': output_stride,
               'use_explicit_padding': use_explicit_padding}
  if is_training is not None:
    base_args['is_training'] = is_training
  return lib.mobilenet(input_tensor, num_classes=num_classes, prediction_fn=prediction_fn, reuse=reuse,
                       scope=scope, base_only=base_only, global_pool=global_pool, conv_defs=conv_defs,
                       multiplier=depth_multiplier, **base_args)


mobilenet.default_image_size = 224
training_scope = lib.training_scope


@slim.add_arg_scope
def mobilenet_base(input_tensor: tf.Tensor, depth_multiplier: float = 1.0, **kwargs):
  """The features (no pooling, no logits): `mobilenet(..., base_only=True)`; the whole spec, the head pool
  included, unless `final_endpoint` stops earlier."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


def wrapped_partial(func: Callable, new_defaults: Optional[dict] = None, **kwargs) -> Callable:
  """`functools.partial(func, **kwargs)` keeping `func`'s name and docstring; `new_defaults` are keyword
  defaults a caller may still override (research/slim's, e.g. the EdgeTPU scope)."""
  if new_defaults:
    kwargs = {**new_defaults, **kwargs}
  partial = functools.partial(func, **kwargs)
  functools.update_wrapper(partial, func)
  return partial


large = wrapped_partial(mobilenet, conv_defs=V3_LARGE)
small = wrapped_partial(mobilenet, conv_defs=V3_SMALL)
edge_tpu = wrapped_partial(mobilenet, new_defaults={'scope': 'MobilenetEdgeTPU'}, conv_defs=V3_EDGETPU)
edge_tpu_075 = wrapped_partial(mobilenet, new_defaults={'scope': 'MobilenetEdgeTPU'}, conv_defs=V3_EDGETPU,
                               depth_multiplier=0.75, finegrain_classification_mode=True)
large_minimalistic = wrapped_partial(mobilenet, conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic = wrapped_partial(mobilenet, conv_defs=V3_SMALL_MINIMALISTIC)

# The features-only functions of each network (the registry's `base_function`; not in research/slim).
large_base = wrapped_partial(mobilenet_base, conv_defs=V3_LARGE)
small_base = wrapped_partial(mobilenet_base, conv_defs=V3_SMALL)
large_minimalistic_base = wrapped_partial(mobilenet_base, conv_defs=V3_LARGE_MINIMALISTIC)
small_minimalistic_base = wrapped_partial(mobilenet_base, conv_defs=V3_SMALL_MINIMALISTIC)
edge_tpu_base = wrapped_partial(mobilenet_base, new_defaults={'scope': 'MobilenetEdgeTPU'}, conv_defs=V3_EDGETPU)


def _reduce_consecutive_layers(conv_defs: dict, start_id: int, end_id: int, multiplier: float = 0.5) -> dict:
  """A copy of `conv_defs` with the `num_outputs` of layers `start_id` .. `end_id` (0-based, inclusive) times
  `multiplier`, rounded.

  Raises:
    KeyError: for a layer without `num_outputs`.
  """
  defs = copy.deepcopy(conv_defs)
  for opdef in defs['spec'][start_id:end_id + 1]:
    opdef.params['num_outputs'] = int(np.round(opdef.params['num_outputs'] * multiplier))
  return defs


V3_LARGE_DETECTION = _reduce_consecutive_layers(V3_LARGE, 13, 16)
V3_SMALL_DETECTION = _reduce_consecutive_layers(V3_SMALL, 9, 12)


def _halved_last_stage(conv_defs: dict, layers: Tuple[int, ...], expansions: Tuple[Optional[int], ...]) -> dict:
  """DeepLab's segmentation networks (research/deeplab `feature_extractor.mobilenet_v3_*_seg`): a copy of
  `conv_defs` whose layers `layers` (0-based) have half their `num_outputs`, and whose expansions are the sizes
  `expansions` (a factor of the halved input; None keeps the layer's expansion)."""
  defs = copy.deepcopy(conv_defs)
  for layer, expansion in zip(layers, expansions):
    params = defs['spec'][layer].params
    params['num_outputs'] = params['num_outputs'] // 2
    if expansion is not None:
      params['expansion_size'] = expand_input(expansion / defs['spec'][layer - 1].params['num_outputs'])
  return defs


# DeepLab's MobileNet v3 backbones of its Cityscapes models ('mobilenet_v3_large_seg', 'mobilenet_v3_small_seg'):
# the last stage halved (the first block of it expanded 3x, not 6x), built to 'layer_17' / 'layer_13' (the 1x1
# convolution before the head pool) under scope 'MobilenetV3'.
V3_LARGE_SEG = _halved_last_stage(V3_LARGE, (13, 14, 15, 16), (336, 480, 480, None))
V3_SMALL_SEG = _halved_last_stage(V3_SMALL, (9, 10, 11, 12), (144, 288, 288, None))
large_seg = wrapped_partial(mobilenet, conv_defs=V3_LARGE_SEG)
small_seg = wrapped_partial(mobilenet, conv_defs=V3_SMALL_SEG)
large_seg_base = wrapped_partial(mobilenet_base, conv_defs=V3_LARGE_SEG)
small_seg_base = wrapped_partial(mobilenet_base, conv_defs=V3_SMALL_SEG)

__all__ = ['training_scope', 'mobilenet', 'V3_LARGE', 'V3_SMALL', 'large', 'small', 'V3_LARGE_DETECTION',
           'V3_SMALL_DETECTION']
