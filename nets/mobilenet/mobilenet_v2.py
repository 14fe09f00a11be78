"""MobileNet v2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", arXiv:1801.04381),
with research/slim's API (nets/mobilenet/mobilenet_v2.py), scope, end point and variable names.

A 3x3/2 convolution 'Conv', 17 inverted residual blocks 'expanded_conv', 'expanded_conv_1', ... (expansion 6,
except 1 for the first) and a 1x1 convolution 'Conv_1' to 1280 channels; end points 'layer_1' .. 'layer_19' and
each block's 'layer_<i>/expansion_output', 'layer_<i>/depthwise_output' and 'layer_<i>/output'. Inference mode
is the default; `training_scope()` sets training mode, initializers and weight decay:

    with slim.arg_scope(mobilenet_v2.training_scope(is_training=False)):
      logits, end_points = mobilenet_v2.mobilenet(images, num_classes=1001)
      features, end_points = mobilenet_v2.mobilenet_base(images, output_stride=16)

The published checkpoints have 1001 classes (background first) and expect images scaled to [-1, 1].
"""

import copy
import functools
from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers
from nets.mobilenet import conv_blocks as ops
from nets.mobilenet import mobilenet as lib

op = lib.op
expand_input = ops.expand_input_by_factor

_BLOCKS = [  # (stride, num_outputs) of the expansion-6 blocks after the first
    (2, 24), (1, 24), (2, 32), (1, 32), (1, 32), (2, 64), (1, 64), (1, 64), (1, 64), (1, 96), (1, 96), (1, 96),
    (2, 160), (1, 160), (1, 160), (1, 320)]

V2_DEF = dict(
    defaults={
        # Batch norm's center and scale change the variables, so they belong to the architecture.
        (layers.batch_norm,): {'center': True, 'scale': True},
        (layers.conv2d, layers.fully_connected, layers.separable_conv2d): {
            'normalizer_fn': layers.batch_norm, 'activation_fn': tf.nn.relu6},
        (ops.expanded_conv,): {'expansion_size': expand_input(6), 'split_expansion': 1,
                               'normalizer_fn': layers.batch_norm, 'residual': True},
        (layers.conv2d, layers.separable_conv2d): {'padding': 'SAME'},
    },
    spec=[
        op(layers.conv2d, stride=2, num_outputs=32, kernel_size=[3, 3]),
        op(ops.expanded_conv, expansion_size=expand_input(1, divisible_by=1), num_outputs=16),
        *(op(ops.expanded_conv, stride=stride, num_outputs=depth) for stride, depth in _BLOCKS),
        op(layers.conv2d, stride=1, kernel_size=[1, 1], num_outputs=1280),
    ],
)


def _conv_defs(conv_defs, depth_multiplier, finegrain_classification_mode, activation_fn):
  """`conv_defs` (default V2_DEF), copied and changed for the fine-grain mode and another activation."""
  conv_defs = V2_DEF if conv_defs is None else conv_defs
  if finegrain_classification_mode and depth_multiplier < 1:
    conv_defs = copy.deepcopy(conv_defs)
    last = conv_defs['spec'][-1]
    last.params['num_outputs'] /= depth_multiplier  # the multiplier brings it back: 1280 stays 1280
  if activation_fn:
    conv_defs = copy.deepcopy(conv_defs)
    for fns, defaults in conv_defs['defaults'].items():
      if layers.conv2d in fns and 'activation_fn' in defaults:
        defaults['activation_fn'] = activation_fn
  return conv_defs


@slim.add_arg_scope
def mobilenet(input_tensor: tf.Tensor, num_classes: Optional[int] = 1001, depth_multiplier: float = 1.0,
              scope: str = 'MobilenetV2', conv_defs: Optional[dict] = None,
              finegrain_classification_mode: bool = False, min_depth: Optional[int] = None,
              divisible_by: Optional[int] = None, activation_fn: Optional[Callable] = None, *,
              is_training: Optional[bool] = None, prediction_fn: Optional[Callable] = layers.softmax, reuse=None,
              base_only: bool = False, final_endpoint: Optional[str] = None, output_stride: Optional[int] = None,
              use_explicit_padding: bool = False, global_pool: bool = True):
  """MobileNet v2 for classification (or, with `base_only`, its features).

  Args:
    input_tensor: `[batch, height, width, channels]`.
    num_classes: classes of the logits; None or 0 returns the globally pooled features ('global_pool').
    depth_multiplier: scales every layer's channels (> 0), rounded to multiples of `divisible_by`.
    scope: variable scope.
    conv_defs: the network definition, default `V2_DEF`.
    finegrain_classification_mode: keep the last layer at 1280 channels when `depth_multiplier` < 1 (as the
      paper does for ImageNet).
    min_depth, divisible_by: channel floor and granularity of the scaling (default 8 and 8).
    activation_fn: the activation of the convolutions instead of ReLU6.
    is_training: batch norm and dropout mode; None leaves it to the arg scope (`training_scope`), else inference.
    prediction_fn: applied to the logits for end point 'Predictions' (None: no predictions).
    reuse: reuse the variables of `scope`.
    base_only: return the features of the last layer, unpooled.
    final_endpoint, output_stride, use_explicit_padding: as for `mobilenet.mobilenet_base`; output_stride is
      None (nominal, 32) or one of 1, 2, 4, 8, 16, 32.
    global_pool: (not in research/slim) False keeps the feature map (see `mobilenet.mobilenet`).

  Returns:
    (logits or features, end points).

  Raises:
    ValueError: for bad inputs or arguments, before anything is built.
  """
  caller = scope if isinstance(scope, str) else 'mobilenet_v2'
  checks.check_images(input_tensor, caller)
  checks.check_depth_multiplier(depth_multiplier, caller)
  for name, value in (('min_depth', min_depth), ('divisible_by', divisible_by)):
    checks.check_int(f'{caller}: {name}', checks.as_int(value), allow_none=True)
  conv_defs = _conv_defs(conv_defs, depth_multiplier, finegrain_classification_mode, activation_fn)
  depth_args = {name: checks.as_int(value) for name, value in (('min_depth', min_depth),
                                                                 ('divisible_by', divisible_by))
                if value is not None}  # unset ones stay with the arg scope
  base_args = {'final_endpoint': final_endpoint, 'output_stride': output_stride,
               'use_explicit_padding': use_explicit_padding}
  if is_training is not None:
    base_args['is_training'] = is_training
  with slim.arg_scope([lib.depth_multiplier], **depth_args):
    return lib.mobilenet(input_tensor, num_classes=num_classes, prediction_fn=prediction_fn, reuse=reuse,
                         scope=scope, base_only=base_only, global_pool=global_pool, conv_defs=conv_defs,
                         multiplier=depth_multiplier, **base_args)


mobilenet.default_image_size = 224


def wrapped_partial(func: Callable, *args, **kwargs) -> Callable:
  """`functools.partial(func, ...)` that keeps `func`'s name, docstring and attributes."""
  partial = functools.partial(func, *args, **kwargs)
  functools.update_wrapper(partial, func)
  return partial


mobilenet_v2_140 = wrapped_partial(mobilenet, depth_multiplier=1.4)
mobilenet_v2_050 = wrapped_partial(mobilenet, depth_multiplier=0.50, finegrain_classification_mode=True)
mobilenet_v2_035 = wrapped_partial(mobilenet, depth_multiplier=0.35, finegrain_classification_mode=True)


@slim.add_arg_scope
def mobilenet_base(input_tensor: tf.Tensor, depth_multiplier: float = 1.0, **kwargs):
  """The MobileNet v2 features (no pooling, no logits): `mobilenet(..., base_only=True)`, e.g. with
  `output_stride=16` for DeepLab."""
  return mobilenet(input_tensor, depth_multiplier=depth_multiplier, base_only=True, **kwargs)


def training_scope(**kwargs):
  """The MobileNet v2 arg scope: `mobilenet.training_scope(is_training=True, weight_decay=0.00004, stddev=0.09,
  dropout_keep_prob=0.8, bn_decay=0.997)`."""
  return lib.training_scope(**kwargs)


__all__ = ['training_scope', 'mobilenet_base', 'mobilenet', 'V2_DEF']
