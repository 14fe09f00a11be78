"""Convolutions and fully connected layers (plain, atrous, separable, transposed), with tf-slim's arguments."""

import contextlib
import functools
import math
from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets.layers.arguments import IntPair
from nets.layers.arguments import NHWC
from nets.layers.arguments import check_data_format
from nets.layers.arguments import check_padding
from nets.layers.arguments import collections_for
from nets.layers.arguments import num_outputs_of
from nets.layers.normalization import batch_norm
from nets.layers.normalization import batch_norm_to_fold
from nets.layers.normalization import convolve_with_folded_batch_norm
from nets.layers.scopes import BUILD_LOCK
from nets.layers.scopes import own_layer
from nets.layers.scopes import shares_arg_scope_with
from nets.layers.variables import VarianceScaling
from nets.layers.variables import model_variable


@contextlib.contextmanager
def he_conv2d_scope(weight_decay: float, activation_fn: Optional[Callable], use_batch_norm: bool,
                    batch_norm_decay: float, batch_norm_epsilon: float, batch_norm_scale: bool,
                    batch_norm_updates_collections):
  """The conv2d arg scope the networks share: He initialization, L2 weight decay, optional batch norm.

  Yields:
    (the arg scope, the batch norm parameters given to `conv2d`), for callers that scope more layers.
  """
  batch_norm_params = {
      'decay': batch_norm_decay,
      'epsilon': batch_norm_epsilon,
      'scale': batch_norm_scale,
      'updates_collections': batch_norm_updates_collections,
      'fused': None,
  }
  with BUILD_LOCK, slim.arg_scope([conv2d], weights_regularizer=slim.l2_regularizer(weight_decay),
                      weights_initializer=VarianceScaling(scale=2.0, mode='fan_in'), activation_fn=activation_fn,
                      normalizer_fn=batch_norm if use_batch_norm else None,
                      normalizer_params=batch_norm_params) as scope:
    yield scope, batch_norm_params


@shares_arg_scope_with(slim.conv2d)
def conv2d(inputs: tf.Tensor, num_outputs: int, kernel_size: IntPair, stride: IntPair = 1, padding: str = 'SAME',
           data_format: Optional[str] = None, rate: IntPair = 1, activation_fn: Optional[Callable] = tf.nn.relu,
           normalizer_fn: Optional[Callable] = None, normalizer_params: Optional[dict] = None,
           weights_initializer=tf.compat.v1.glorot_uniform_initializer(), weights_regularizer=None,
           biases_initializer=tf.compat.v1.zeros_initializer(), biases_regularizer=None, reuse=None,
           variables_collections=None, outputs_collections=None, trainable: bool = True,
           scope=None) -> tf.Tensor:
  """2-D convolution, optionally atrous, followed by a normalizer or biases and an activation.

  Args:
    inputs: `[batch, height, width, in_channels]` tensor with a known channel count.
    num_outputs: number of output channels.
    kernel_size: int or (kh, kw).
    stride: int or (sh, sw).
    padding: 'SAME' or 'VALID'.
    data_format: None or 'NHWC'.
    rate: int or (rh, rw) dilation rate; cannot exceed 1 together with a stride above 1.
    activation_fn: applied last; None for a linear output.
    normalizer_fn: e.g. `batch_norm`; when given, no biases are created.
    normalizer_params: keyword arguments of `normalizer_fn`.
    weights_initializer, weights_regularizer: for the `weights` variable `[kh, kw, in_channels, num_outputs]`.
    biases_initializer, biases_regularizer: for the `biases` variable `[num_outputs]`; no biases if the
      initializer is None.
    reuse: reuse the variables of `scope`.
    variables_collections: extra collections for the variables (a list, or a dict keyed by variable name).
    outputs_collections: collections the output is added to, aliased by the variable scope name.
    trainable: whether the variables are trainable.
    scope: variable scope name, default 'Conv'.

  Returns:
    `[batch, out_height, out_width, num_outputs]` tensor.

  Raises:
    ValueError: on a bad kernel size, stride, rate, padding or data_format, or an unknown channel count.
  """
  num_outputs = num_outputs_of(num_outputs, 'conv2d')
  (kernel_h, kernel_w), strides, rates = _window_arguments(kernel_size, stride, rate, padding, data_format)
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'conv2d {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights = model_variable('weights', [kernel_h, kernel_w, in_channels, num_outputs], dtype,
                             weights_initializer, weights_regularizer, trainable,
                             collections_for(variables_collections, 'weights'))
    convolve = functools.partial(_convolve, strides=strides, padding=padding, rates=rates)
    folded = batch_norm_to_fold(normalizer_fn, normalizer_params)
    if folded is not None:  # batch norm is done: only the activation is left
      outputs = convolve_with_folded_batch_norm(convolve, inputs, weights, folded)
      normalizer_fn, biases_initializer = None, None
    else:
      outputs = convolve(inputs, weights)
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


# The smallest rate computed by one dilated `Conv2D` instead of space-to-batch (measured on oneDNN, TF 2.21, Xeon
# with AMX, 3x3 kernels: rate 2 and 3, space-to-batch 1.2-1.6x faster; rate 4 even; rate 6 to 24, the dilated
# kernel 1.8-4.5x faster, e.g. DeepLab's ASPP at 513x513 / 16: 71, 113, 168 ms against 40, 31, 24 ms for rates
# 6, 12, 18: the space-to-batch phases are small, padded images).
DILATED_KERNEL_RATE = 6


def _convolve(inputs: tf.Tensor, weights: tf.Tensor, strides: tuple, padding: str, rates: tuple) -> tf.Tensor:
  """`tf.nn.conv2d`, atrous ones computed the fastest way measured on CPUs (see `DILATED_KERNEL_RATE`):

  - an axis whose rate is at least the input's (static) size sees only zero padding beyond its centre tap with
    'SAME' padding: the kernel is cut to that tap (exact; e.g. DeepLab's ASPP at 12 and 18 on a 10x10 map);
  - rates below `DILATED_KERNEL_RATE`: a plain convolution between space-to-batch and batch-to-space, as
    `tf.nn.convolution` (and tf-slim's layers) compute it;
  - larger rates: one dilated `Conv2D`, whose gradient (which TensorFlow's CPU kernels lack for dilations) is that
    of `tf.nn.convolution`.
  A 1x1 kernel samples one pixel at any rate, so it is a plain convolution.
  """
  weights, rates = _without_padding_taps(inputs, weights, padding, rates)
  if max(rates) == 1 or tuple(weights.shape[:2]) == (1, 1):
    return tf.nn.conv2d(inputs, weights, strides=(1,) + strides + (1,), padding=padding)
  if max(rates) < DILATED_KERNEL_RATE:
    outputs = tf.nn.convolution(inputs, weights, padding=padding, dilations=rates)
  else:
    outputs = _dilated_conv2d(inputs, weights, padding, rates)
  # Space-to-batch and the custom gradient's IdentityN forget the known axes of a partly known shape.
  static = checks.static_shape(inputs)
  sizes = [n if n is None or padding == 'SAME' else n - (k - 1) * r
           for n, k, r in zip(static[1:3], weights.shape, rates)]
  outputs.set_shape([static[0], *[n if n is None or n > 0 else None for n in sizes], weights.shape[-1]])
  return outputs


def _dilated_conv2d(inputs: tf.Tensor, weights: tf.Tensor, padding: str, rates: tuple) -> tf.Tensor:
  """One dilated `Conv2D` (stride 1), its gradient that of `tf.nn.convolution`."""

  @tf.custom_gradient
  def dilated(x, w):
    def gradient(upstream):
      with tf.GradientTape() as tape:
        tape.watch([x, w])
        same = tf.nn.convolution(x, w, padding=padding, dilations=rates)
      return tape.gradient(same, [x, w], output_gradients=upstream)

    return tf.nn.conv2d(x, w, strides=1, padding=padding, dilations=rates), gradient

  return dilated(inputs, weights)


def _without_padding_taps(inputs: tf.Tensor, weights: tf.Tensor, padding: str, rates: tuple) -> tuple:
  """(weights, rates) with the taps that only ever read 'SAME' padding cut away: along an axis of odd kernel
  size whose rate is at least the input's static size, every tap but the centre one falls outside the input."""
  if padding != 'SAME':
    return weights, rates
  sizes = checks.static_shape(inputs)[1:3]
  kernel = list(weights.shape[:2])
  rates = list(rates)
  for axis in (0, 1):
    if kernel[axis] > 1 and kernel[axis] % 2 and rates[axis] > 1 and sizes[axis] is not None and (
        rates[axis] >= sizes[axis]):
      centre = kernel[axis] // 2
      weights = weights[centre:centre + 1] if axis == 0 else weights[:, centre:centre + 1]
      kernel[axis], rates[axis] = 1, 1
  return weights, tuple(rates)


def _window_arguments(kernel_size, stride, rate, padding, data_format) -> tuple:
  """(kernel, strides, rates) of a convolution as pairs of ints, or a ValueError naming the bad argument."""
  check_data_format(data_format)
  kernel = checks.int_pair(kernel_size, 'kernel_size')
  strides = checks.int_pair(stride, 'stride')
  rates = checks.int_pair(rate, 'rate')
  if max(strides) > 1 and max(rates) > 1:
    raise ValueError(f'stride {stride!r} and rate {rate!r} cannot both exceed 1 in one convolution')
  check_padding(padding)
  return kernel, strides, rates


def _known_channels(inputs: tf.Tensor, rank: Optional[int], what: str) -> int:
  """The last dimension of `inputs` as an int; a ValueError starting with `what` if it (or the rank) is wrong."""
  shape = checks.static_shape(inputs)
  wrong_rank = shape is None or (len(shape) != rank if rank else len(shape) < 2)
  if wrong_rank or shape[-1] is None:
    raise ValueError(f'{what} with a known channel count, got shape {checks.shape_text(inputs)}')
  return shape[-1]


def _finished(outputs: tf.Tensor, scope_name: str, normalizer_fn, normalizer_params, biases_initializer,
              biases_regularizer, activation_fn, trainable: bool, variables_collections,
              outputs_collections) -> tf.Tensor:
  """The end of every weighted layer: `normalizer_fn(outputs)`, or `outputs` plus a `biases` variable (unless
  `biases_initializer` is None), then `activation_fn`, collected under `scope_name`."""
  if normalizer_fn is not None:
    outputs = normalizer_fn(outputs, **(normalizer_params or {}))
  elif biases_initializer is not None:
    biases = model_variable('biases', [checks.static_shape(outputs)[-1]], outputs.dtype.base_dtype,
                            biases_initializer, biases_regularizer, trainable,
                            collections_for(variables_collections, 'biases'))
    outputs = tf.nn.bias_add(outputs, biases)
  if activation_fn is not None:
    outputs = activation_fn(outputs)
  return slim.utils.collect_named_outputs(outputs_collections, scope_name, outputs)


@shares_arg_scope_with(slim.separable_conv2d)
def separable_conv2d(inputs: tf.Tensor, num_outputs: Optional[int], kernel_size: IntPair, depth_multiplier: int = 1,
                     stride: IntPair = 1, padding: str = 'SAME', data_format: str = NHWC, rate: IntPair = 1,
                     activation_fn: Optional[Callable] = tf.nn.relu, normalizer_fn: Optional[Callable] = None,
                     normalizer_params: Optional[dict] = None,
                     weights_initializer=tf.compat.v1.glorot_uniform_initializer(), pointwise_initializer=None,
                     weights_regularizer=None, biases_initializer=tf.compat.v1.zeros_initializer(),
                     biases_regularizer=None, reuse=None, variables_collections=None, outputs_collections=None,
                     trainable: bool = True, scope=None) -> tf.Tensor:
  """Depthwise separable convolution (Chollet, "Xception", arXiv:1610.02357), or a depthwise one alone.

  Each input channel is convolved with `depth_multiplier` filters of its own (`depthwise_weights`,
  `[kh, kw, in_channels, depth_multiplier]`); with `num_outputs` a 1x1 convolution (`pointwise_weights`,
  `[1, 1, in_channels * depth_multiplier, num_outputs]`) then mixes the channels. A normalizer or `biases`
  and the activation follow, as in `conv2d`.

  Args:
    inputs: `[batch, height, width, in_channels]` with a known channel count.
    num_outputs: output channels of the pointwise convolution, or None for the depthwise convolution alone
      (`in_channels * depth_multiplier` outputs).
    kernel_size, stride, rate: ints or (h, w) pairs; rate and stride cannot both exceed 1.
    depth_multiplier: depthwise filters per input channel.
    padding: 'SAME' or 'VALID'; data_format: 'NHWC' only.
    weights_initializer: of `depthwise_weights`, and of `pointwise_weights` unless `pointwise_initializer`.
    weights_regularizer: applied to both weights.
    Other arguments as in `conv2d`; scope default 'SeparableConv2d'.

  Returns:
    `[batch, out_height, out_width, num_outputs or in_channels * depth_multiplier]`.
  """
  num_outputs = num_outputs_of(num_outputs, 'separable_conv2d', allow_none=True)
  (kernel_h, kernel_w), strides, rates = _window_arguments(kernel_size, stride, rate, padding, data_format)
  multiplier = num_outputs_of(depth_multiplier, 'separable_conv2d depth_multiplier')
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'SeparableConv2d', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'separable_conv2d {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights_collections = collections_for(variables_collections, 'weights')
    depthwise = model_variable('depthwise_weights', [kernel_h, kernel_w, in_channels, multiplier], dtype,
                               weights_initializer, weights_regularizer, trainable, weights_collections)
    options = {'strides': (1,) + strides + (1,), 'padding': padding, 'dilations': rates}
    if num_outputs is None:
      convolve = lambda x, w: tf.nn.depthwise_conv2d(x, w, **options)
      weights = depthwise  # its output channel c * multiplier + m is filter [..., c, m]
    else:
      pointwise = model_variable('pointwise_weights', [1, 1, in_channels * multiplier, num_outputs], dtype,
                                 pointwise_initializer or weights_initializer, weights_regularizer, trainable,
                                 weights_collections)
      convolve = lambda x, w: tf.nn.separable_conv2d(x, depthwise, w, **options)
      weights = pointwise
    folded = batch_norm_to_fold(normalizer_fn, normalizer_params)
    if folded is not None:  # batch norm is done: only the activation is left
      outputs = convolve_with_folded_batch_norm(convolve, inputs, weights, folded,
                                                 depthwise=num_outputs is None)
      normalizer_fn, biases_initializer = None, None
    else:
      outputs = convolve(inputs, weights)
    # A dilated depthwise convolution goes through space-to-batch, whose static shape TensorFlow loses as soon
    # as one axis is unknown: the known axes are restored here.
    static = checks.static_shape(inputs.shape)
    effective = [r * (k - 1) + 1 for k, r in zip((kernel_h, kernel_w), rates)]
    sizes = [None if n is None else -(-n // s) if padding == 'SAME' else -(-(n - e + 1) // s)
             for n, s, e in zip(static[1:3], strides, effective)]
    outputs.set_shape([static[0]] + [n if n is None or n > 0 else None for n in sizes] + [None])
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


def _transposed_size(size, kernel: int, stride: int, padding: str):
  """Output length of a transposed convolution along one axis (an int, or a scalar tensor for a tensor)."""
  return size * stride if padding == 'SAME' else size * stride + max(kernel - stride, 0)


@shares_arg_scope_with(slim.conv2d_transpose)
def conv2d_transpose(inputs: tf.Tensor, num_outputs: int, kernel_size: IntPair, stride: IntPair = 1,
                     padding: str = 'SAME', data_format: str = NHWC, activation_fn: Optional[Callable] = tf.nn.relu,
                     normalizer_fn: Optional[Callable] = None, normalizer_params: Optional[dict] = None,
                     weights_initializer=tf.compat.v1.glorot_uniform_initializer(), weights_regularizer=None,
                     biases_initializer=tf.compat.v1.zeros_initializer(), biases_regularizer=None, reuse=None,
                     variables_collections=None, outputs_collections=None, trainable: bool = True,
                     scope=None) -> tf.Tensor:
  """Transposed 2-D convolution (the gradient of a convolution), for learned upsampling in decoders.

  The output is `stride` times the input along each axis with 'SAME' padding, and `size * stride +
  max(kernel - stride, 0)` with 'VALID'. The `weights` variable is `[kh, kw, num_outputs, in_channels]`.

  Args:
    inputs: `[batch, height, width, in_channels]` with a known channel count.
    num_outputs: output channels.
    kernel_size, stride: ints or (h, w) pairs.
    Other arguments as in `conv2d`; scope default 'Conv2d_transpose'.

  Returns:
    `[batch, out_height, out_width, num_outputs]`.
  """
  num_outputs = num_outputs_of(num_outputs, 'conv2d_transpose')
  kernel, strides, _ = _window_arguments(kernel_size, stride, 1, padding, data_format)
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'Conv2d_transpose', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'conv2d_transpose {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights = model_variable('weights', [kernel[0], kernel[1], num_outputs, in_channels], dtype,
                             weights_initializer, weights_regularizer, trainable,
                             collections_for(variables_collections, 'weights'))
    static = checks.static_shape(inputs)
    dynamic = tf.shape(inputs)
    sizes = [_transposed_size(static[axis] if static[axis] is not None else dynamic[axis], kernel[axis - 1],
                              strides[axis - 1], padding) for axis in (1, 2)]
    batch = static[0] if static[0] is not None else dynamic[0]
    output_shape = tf.stack([batch, sizes[0], sizes[1], num_outputs])
    outputs = tf.nn.conv2d_transpose(inputs, weights, output_shape, strides=(1,) + strides + (1,), padding=padding)
    outputs.set_shape([static[0]] + [n if isinstance(n, int) else None for n in sizes] + [num_outputs])
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


@shares_arg_scope_with(slim.fully_connected)
def fully_connected(inputs: tf.Tensor, num_outputs: int, activation_fn: Optional[Callable] = tf.nn.relu,
                    normalizer_fn: Optional[Callable] = None, normalizer_params: Optional[dict] = None,
                    weights_initializer=tf.compat.v1.glorot_uniform_initializer(), weights_regularizer=None,
                    biases_initializer=tf.compat.v1.zeros_initializer(), biases_regularizer=None, reuse=None,
                    variables_collections=None, outputs_collections=None, trainable: bool = True,
                    scope=None) -> tf.Tensor:
  """A dense layer on the last axis: `inputs @ weights` (`[in, num_outputs]`), a normalizer or biases, activation.

  Inputs of rank above 2 are transformed along their last axis, keeping the other axes.

  Args:
    inputs: tensor of rank >= 2 with a known last dimension.
    num_outputs: output units.
    Other arguments as in `conv2d`; scope default 'fully_connected'.

  Returns:
    A tensor of the shape of `inputs` with the last dimension `num_outputs`.
  """
  num_outputs = num_outputs_of(num_outputs, 'fully_connected')
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'fully_connected', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_units = _known_channels(inputs, None, f'fully_connected {sc.name!r} needs an input of rank >= 2')
    weights = model_variable('weights', [in_units, num_outputs], inputs.dtype.base_dtype, weights_initializer,
                             weights_regularizer, trainable, collections_for(variables_collections, 'weights'))
    if inputs.shape.rank == 2:
      outputs = tf.linalg.matmul(inputs, weights)
    else:
      outputs = tf.tensordot(inputs, weights, [[inputs.shape.rank - 1], [0]])
      outputs.set_shape(inputs.shape[:-1].concatenate([num_outputs]))
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


@shares_arg_scope_with(slim.flatten)
def flatten(inputs: tf.Tensor, outputs_collections=None, scope=None) -> tf.Tensor:
  """Reshapes `[batch, d1, d2, ...]` to `[batch, d1 * d2 * ...]` (name scope 'Flatten').

  Raises:
    ValueError: when the rank of `inputs` is unknown or below 2.
  """
  with tf.name_scope(scope or 'Flatten') as sc:
    inputs = tf.convert_to_tensor(inputs)
    shape = checks.static_shape(inputs)
    if shape is None or len(shape) < 2:
      raise ValueError(f'flatten needs an input of known rank >= 2, got shape {checks.shape_text(inputs)}')
    inner = shape[1:]
    size = math.prod(inner) if None not in inner else -1
    batch = shape[0] if shape[0] is not None else tf.shape(inputs)[0]
    outputs = tf.reshape(inputs, tf.stack([batch, size]) if tf.is_tensor(batch) else [batch, size])
    return slim.utils.collect_named_outputs(outputs_collections, sc, outputs)
