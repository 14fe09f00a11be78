"""MobileNet v1 (Howard et al., "MobileNets", arXiv:1704.04861), with research/slim's API and names.

A 3x3/2 convolution 'Conv2d_0' and 13 depthwise separable layers, each a 3x3 depthwise convolution
'Conv2d_<i>_depthwise' and a 1x1 pointwise one 'Conv2d_<i>_pointwise', every one followed by batch norm and
ReLU6 (from `mobilenet_v1_arg_scope`). The body is data (`MOBILENETV1_CONV_DEFS`): `mobilenet_v1_base` walks it
and, past a requested `output_stride`, runs the remaining layers at stride 1 with atrous depthwise convolutions.

    with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(is_training=False)):
      logits, end_points = mobilenet_v1.mobilenet_v1(images, num_classes=1001)
      features, end_points = mobilenet_v1.mobilenet_v1_base(images, output_stride=16)

The published checkpoints have 1001 classes (background first) and expect images scaled to [-1, 1].
"""

import collections
import functools
from typing import Callable, Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import atrous
from nets import checks
from nets import layers

Conv = collections.namedtuple('Conv', ['kernel', 'stride', 'depth'])
DepthSepConv = collections.namedtuple('DepthSepConv', ['kernel', 'stride', 'depth'])

MOBILENETV1_CONV_DEFS = [
    Conv(kernel=[3, 3], stride=2, depth=32),
    *(DepthSepConv(kernel=[3, 3], stride=stride, depth=depth) for stride, depth in [
        (1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512),
        (1, 512), (1, 512), (1, 512), (1, 512), (1, 512), (2, 1024), (1, 1024)]),
]
_OUTPUT_STRIDES = (8, 16, 32)


def _end_point_names(conv_defs: Sequence) -> list:
  names = []
  for i, conv_def in enumerate(conv_defs):
    names += [f'Conv2d_{i}'] if isinstance(conv_def, Conv) else [f'Conv2d_{i}_depthwise', f'Conv2d_{i}_pointwise']
  return names


def _check_base_arguments(final_endpoint, depth_multiplier, output_stride, conv_defs, caller: str):
  checks.check_depth_multiplier(depth_multiplier, caller)
  output_stride = checks.as_int(output_stride)
  atrous.check_output_stride(output_stride, _OUTPUT_STRIDES, caller)
  names = _end_point_names(conv_defs)
  if final_endpoint not in names:
    raise ValueError(f'{caller}: final_endpoint must be one of {", ".join(names)}, got {final_endpoint!r}')
  return output_stride


def mobilenet_v1_base(inputs: tf.Tensor, final_endpoint: str = 'Conv2d_13_pointwise', min_depth: int = 8,
                      depth_multiplier: float = 1.0, conv_defs: Optional[Sequence] = None,
                      output_stride: Optional[int] = None, use_explicit_padding: bool = False,
                      scope: Optional[str] = None):
  """The MobileNet v1 body from `inputs` to `final_endpoint`.

  Args:
    inputs: `[batch, height, width, channels]`.
    final_endpoint: the last end point to build, e.g. 'Conv2d_11_pointwise'.
    min_depth: smallest number of channels of a layer after `depth_multiplier`.
    depth_multiplier: scales every layer's channels (> 0).
    conv_defs: the body as `Conv` and `DepthSepConv` tuples; default `MOBILENETV1_CONV_DEFS`.
    output_stride: None (nominal, 32), 8 or 16: later layers run at stride 1, their depthwise convolutions
      atrous.
    use_explicit_padding: pad explicitly and convolve VALID, so outputs do not depend on the input parity.
    scope: variable scope, default 'MobilenetV1'.

  Returns:
    (the output of `final_endpoint`, {end point name: tensor} of every layer built, without the scope).

  Raises:
    ValueError: for a bad `final_endpoint`, `depth_multiplier` or `output_stride`, before anything is built.
  """
  conv_defs = MOBILENETV1_CONV_DEFS if conv_defs is None else conv_defs
  caller = 'mobilenet_v1_base'
  checks.check_images(inputs, caller)
  output_stride = _check_base_arguments(final_endpoint, depth_multiplier, output_stride, conv_defs, caller)
  depth = lambda d: max(int(d * depth_multiplier), min_depth)
  padding = 'VALID' if use_explicit_padding else 'SAME'
  end_points = {}
  with tf.compat.v1.variable_scope(scope, 'MobilenetV1', [inputs]):
    with slim.arg_scope([layers.conv2d, layers.separable_conv2d], padding=padding):
      current_stride, rate = 1, 1
      net = inputs
      for i, conv_def in enumerate(conv_defs):
        if output_stride is not None and current_stride == output_stride:
          layer_stride, layer_rate = 1, rate
          rate *= conv_def.stride
        else:
          layer_stride, layer_rate = conv_def.stride, 1
          current_stride *= conv_def.stride
        if isinstance(conv_def, Conv):
          if use_explicit_padding:
            net = atrous.fixed_padding(net, conv_def.kernel)
          steps = [(f'Conv2d_{i}', lambda x, name: layers.conv2d(x, depth(conv_def.depth), conv_def.kernel,
                                                                 stride=conv_def.stride, scope=name))]
        else:
          def depthwise(x, name):
            if use_explicit_padding:
              x = atrous.fixed_padding(x, conv_def.kernel, layer_rate)
            return layers.separable_conv2d(x, None, conv_def.kernel, depth_multiplier=1, stride=layer_stride,
                                           rate=layer_rate, scope=name)
          steps = [(f'Conv2d_{i}_depthwise', depthwise),
                   (f'Conv2d_{i}_pointwise', lambda x, name: layers.conv2d(x, depth(conv_def.depth), [1, 1],
                                                                           stride=1, scope=name))]
        for name, step in steps:
          net = step(net, name)
          end_points[name] = net
          if name == final_endpoint:
            return net, end_points
  raise AssertionError('unreachable: final_endpoint was checked')  # pragma: no cover


def _check_spatial_squeeze(inputs, conv_defs, output_stride, caller: str) -> None:
  """The logits after the 7x7 VALID pool (narrowed to a smaller map) must be 1x1 to be squeezed: a known height
  or width whose map is wider than 7 after the body cannot be.

  Raises:
    ValueError: naming the axis, its size and what builds instead, before anything is built.
  """
  for axis, size in zip(('height', 'width'), (checks.static_shape(inputs.shape) or [None] * 4)[1:3]):
    if size is None:
      continue
    current_stride = 1
    for conv_def in conv_defs:  # as mobilenet_v1_base strides them; every layer maps n pixels to ceil(n / stride)
      dilated = output_stride is not None and current_stride == output_stride
      if not dilated:
        current_stride *= conv_def.stride
      if not dilated or isinstance(conv_def, Conv):  # a full convolution always takes its stride
        size = -(-size // conv_def.stride)
    if size > 7:
      raise ValueError(f'{caller}: spatial_squeeze=True needs 1x1 logits, but an input {axis} of '
                       f'{inputs.shape[1 + (axis == "width")]} leaves a {size}-pixel map whose 7x7 VALID pool '
                       f'gives {size - 6} logits along it; pass global_pool=True, spatial_squeeze=False, or a '
                       'smaller image')


def _reduced_kernel_size_for_small_input(tensor: tf.Tensor, kernel_size: Sequence[int]) -> list:
  """`kernel_size` shrunk to the tensor's static height and width where those are smaller.

  Each known axis is reduced on its own (research/slim keeps 7x7 when either is unknown, which fails to build
  when the other is known and smaller).
  """
  shape = checks.static_shape(tensor.shape) or (None, None, None, None)
  return [k if n is None else min(n, k) for n, k in zip(shape[1:3], kernel_size)]


def mobilenet_v1(inputs: tf.Tensor, num_classes: Optional[int] = 1000, dropout_keep_prob: float = 0.999,
                 is_training: bool = True, min_depth: int = 8, depth_multiplier: float = 1.0,
                 conv_defs: Optional[Sequence] = None, prediction_fn: Optional[Callable] = layers.softmax,
                 spatial_squeeze: bool = True, reuse=None, scope: str = 'MobilenetV1', global_pool: bool = False,
                 *, output_stride: Optional[int] = None, use_explicit_padding: bool = False):
  """MobileNet v1 for classification: the body, a 7x7 average pool (or a global one), dropout, 1x1 logits.

  Args:
    inputs: `[batch, height, width, channels]`.
    num_classes: classes of the logits; None or 0 returns the pooled features (end point 'AvgPool_1a' or
      'global_pool').
    dropout_keep_prob: kept fraction of the dropout before the logits.
    is_training: batch norm and dropout mode.
    min_depth, depth_multiplier, conv_defs: as for `mobilenet_v1_base`.
    prediction_fn: applied to the logits for end point 'Predictions' (None: no predictions).
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    global_pool: average over the whole feature map instead of a 7x7 VALID pool (reduced for small inputs).
    output_stride, use_explicit_padding: (keyword only, not in research/slim's classifier) passed to the body.

  Returns:
    (logits or pooled features, end points of the body plus the pool, 'Logits' and 'Predictions').
  """
  caller = scope or 'MobilenetV1'
  checks.check_images(inputs, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  conv_defs = MOBILENETV1_CONV_DEFS if conv_defs is None else conv_defs
  output_stride = _check_base_arguments(_end_point_names(conv_defs)[-1], depth_multiplier, output_stride, conv_defs,
                                        caller)
  if num_classes and spatial_squeeze and not global_pool:
    _check_spatial_squeeze(inputs, conv_defs, output_stride, caller)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'MobilenetV1', [inputs], reuse=reuse) as sc:
    with slim.arg_scope([layers.batch_norm, layers.dropout], is_training=is_training):
      net, end_points = mobilenet_v1_base(inputs, final_endpoint=_end_point_names(conv_defs)[-1],
                                          min_depth=min_depth, depth_multiplier=depth_multiplier,
                                          conv_defs=conv_defs, output_stride=output_stride,
                                          use_explicit_padding=use_explicit_padding, scope=sc)
      with tf.compat.v1.variable_scope('Logits'):
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
          end_points['global_pool'] = net
        else:
          kernel_size = _reduced_kernel_size_for_small_input(net, [7, 7])
          net = layers.avg_pool2d(net, kernel_size, padding='VALID', scope='AvgPool_1a')
          end_points['AvgPool_1a'] = net
        if not num_classes:
          return net, end_points
        net = layers.dropout(net, keep_prob=dropout_keep_prob, scope='Dropout_1b')
        logits = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                               scope='Conv2d_1c_1x1')
        if spatial_squeeze:
          logits = tf.squeeze(logits, [1, 2], name='SpatialSqueeze')
      end_points['Logits'] = logits
      if prediction_fn:
        end_points['Predictions'] = prediction_fn(logits, scope='Predictions')
  return logits, end_points


mobilenet_v1.default_image_size = 224


def _thinner(multiplier: float, name: str) -> Callable:
  network = functools.partial(mobilenet_v1, depth_multiplier=multiplier)
  functools.update_wrapper(network, mobilenet_v1)
  network.__name__ = network.__qualname__ = name
  network.__doc__ = f'{name}: `mobilenet_v1` with depth_multiplier={multiplier}.'
  network.default_image_size = 224
  return network


mobilenet_v1_075 = _thinner(0.75, 'mobilenet_v1_075')
mobilenet_v1_050 = _thinner(0.50, 'mobilenet_v1_050')
mobilenet_v1_025 = _thinner(0.25, 'mobilenet_v1_025')


def mobilenet_v1_arg_scope(is_training: Optional[bool] = True, weight_decay: float = 0.00004, stddev: float = 0.09,
                           regularize_depthwise: bool = False, batch_norm_decay: float = 0.9997,
                           batch_norm_epsilon: float = 0.001,
                           batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                           normalizer_fn: Optional[Callable] = layers.batch_norm):
  """The MobileNet v1 arg scope: truncated-normal weights, L2 decay on the (pointwise) convolutions, batch norm
  and ReLU6 after every convolution.

  Args:
    is_training: batch norm mode (None: left to an enclosing scope).
    weight_decay: L2 weight of the convolution kernels.
    stddev: standard deviation of the truncated normal initializer.
    regularize_depthwise: decay the depthwise kernels too.
    batch_norm_decay, batch_norm_epsilon, batch_norm_updates_collections: batch norm options.
    normalizer_fn: the normalizer after each convolution.
  """
  batch_norm_params = {'center': True, 'scale': True, 'decay': batch_norm_decay, 'epsilon': batch_norm_epsilon,
                       'updates_collections': batch_norm_updates_collections}
  if is_training is not None:
    batch_norm_params['is_training'] = is_training
  regularizer = slim.l2_regularizer(weight_decay)
  with slim.arg_scope([layers.conv2d, layers.separable_conv2d],
                      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=stddev),
                      activation_fn=tf.nn.relu6, normalizer_fn=normalizer_fn):
    with slim.arg_scope([layers.batch_norm], **batch_norm_params):
      with slim.arg_scope([layers.conv2d], weights_regularizer=regularizer):
        with slim.arg_scope([layers.separable_conv2d],
                            weights_regularizer=regularizer if regularize_depthwise else None) as sc:
          return sc
