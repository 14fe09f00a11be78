"""Layers of the networks, built on public TensorFlow ops, usable under `slim.arg_scope`.

Each layer has the keyword arguments, defaults, variable names and collections of the tf-slim 1.1.0 layer of
the same name, but builds its graph with `tf.compat.v1.get_variable` and `tf.nn` ops directly instead of going
through TensorFlow's legacy Keras layers (which tf-slim's `batch_norm` needs from tf-keras, and which make graph
construction slow).

Each layer also shares its arg_scope key with the tf-slim layer it replaces, so that existing code such as
`slim.arg_scope([slim.batch_norm], is_training=False)` configures these layers, and scopes opened on these layers
configure tf-slim's. Nesting and precedence follow `slim.arg_scope` exactly, because both write the same entry.
"""

import contextlib
import functools
import inspect
import math
import threading
from typing import Callable, Optional, Sequence, Union

import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as slim_arg_scope

from nets import checks

GraphKeys = tf.compat.v1.GraphKeys
IntPair = Union[int, Sequence[int]]

_NHWC = 'NHWC'

class _PerThreadArgStack(list):
  """tf-slim's arg scope stack, one per thread, as TensorFlow keeps its variable and name scopes
  (`use_per_thread_arg_scopes`).

  tf-slim 1.1.0 keeps one module-level list (`tf_slim.ops.arg_scope._ARGSTACK`) for the whole process, and
  reads it only through its truthiness, `[-1]`, `append` and `pop`. This stand-in gives each thread its own
  list; a thread starts with a copy of the main thread's stack as it is then (a replica starts inside the scopes
  its `strategy.run` was called in).
  """

  def __init__(self, main_stack: list):
    super().__init__()
    self._main_stack = list(main_stack)
    self._main_thread = threading.main_thread()
    self._local = threading.local()

  def _stack(self) -> list:
    if threading.current_thread() is self._main_thread:
      return self._main_stack
    stack = getattr(self._local, 'stack', None)
    if stack is None:
      stack = self._local.stack = list(self._main_stack) or [{}]
    return stack

  def __len__(self) -> int:
    return len(self._stack())

  def __bool__(self) -> bool:
    return bool(self._stack())

  def __getitem__(self, index):
    return self._stack()[index]

  def __iter__(self):
    return iter(self._stack())

  def __repr__(self) -> str:
    return repr(self._stack())

  def append(self, scope: dict) -> None:
    self._stack().append(scope)

  def pop(self, index: int = -1) -> dict:
    return self._stack().pop(index)


def use_per_thread_arg_scopes() -> None:
  """Gives each thread of this process its own tf-slim arg scope stack from now on (idempotent).

  The one place this project changes tf-slim, and only when asked: under a `tf.distribute.MirroredStrategy`
  the replicas are threads that take turns at every cross-replica call inside the model (synchronized batch
  norm's all-reduce, where they let go of `BUILD_LOCK`), and with tf-slim's one stack they would pop each
  other's scopes. `slimnets.models.Backbone(..., synchronized_batch_norm=True)` calls it; graph code that uses
  `batch_norm(synchronized=True)` across replicas calls it once before `strategy.run` (batch norm says so
  otherwise). Nothing else needs it: other builds hold `BUILD_LOCK` from their first scope to their last.
  """
  if not per_thread_arg_scopes():
    slim_arg_scope._ARGSTACK = _PerThreadArgStack(slim_arg_scope._ARGSTACK)  # pylint: disable=protected-access


def per_thread_arg_scopes() -> bool:
  """Whether `use_per_thread_arg_scopes` is in effect."""
  return isinstance(slim_arg_scope._ARGSTACK, _PerThreadArgStack)  # pylint: disable=protected-access


class _BuildLock:
  """A re-entrant lock that can be let go of for a while by the thread holding it (`released`)."""

  def __init__(self):
    self._lock = threading.Lock()
    self._owner = None
    self._depth = 0

  def __enter__(self) -> '_BuildLock':
    me = threading.get_ident()
    if self._owner != me:
      self._lock.acquire()
      self._owner = me
    self._depth += 1
    return self

  def __exit__(self, *exc_info) -> None:
    self._depth -= 1
    if not self._depth:
      self._owner = None
      self._lock.release()

  @contextlib.contextmanager
  def released(self):
    """Lets go of the lock, however deeply this thread holds it, for the block; takes it back after."""
    if self._owner != threading.get_ident():
      yield
      return
    depth, self._depth, self._owner = self._depth, 0, None
    self._lock.release()
    try:
      yield
    finally:
      self._lock.acquire()
      self._owner, self._depth = threading.get_ident(), depth


# Held while a network is built, so that builds in several threads run one after another (Python runs one
# thread at a time anyway) and see consistent module state. This module's other build-time states are per
# thread (the arg scope stack too, with `use_per_thread_arg_scopes`); the network functions, and the entry points that open their arg
# scope themselves (`nets_factory.get_network_fn`, `slimnets.models.Backbone`, `slimnets.analysis.dry_build`), hold
# this lock from
# their first scope to the last. A thread lets go of it while it waits for other replicas' threads in a
# cross-replica all-reduce (synchronized batch norm), which they must reach.
BUILD_LOCK = _BuildLock()


# tf-slim layer -> the layer of this module that replaces it, keyed by their shared arg scope key.
_TWINS = {}


def _shares_arg_scope_with(slim_layer: Callable) -> Callable:
  """Makes the decorated layer read and write the arg_scope entry of `slim_layer`, and replace it when handed in.

  Arguments given explicitly at the call win over scoped ones, as with `slim.add_arg_scope`. The layer is also
  registered as `slim_layer`'s twin, so that `own_layer(slim_layer)` gives it (see there).
  """
  key = slim.arg_scope_func_key(slim_layer)

  def decorate(layer):
    @functools.wraps(layer)
    def scoped_layer(*args, **kwargs):
      scoped = slim.current_arg_scope().get(key)
      if scoped:
        kwargs = {**scoped, **kwargs}
      return layer(*args, **kwargs)

    scoped_layer._key_op = key  # read by slim.arg_scope_func_key; pylint: disable=protected-access
    _TWINS[key] = scoped_layer
    return scoped_layer

  return decorate


def own_layer(fn: Optional[Callable]) -> Optional[Callable]:
  """`fn`, or this module's twin of `fn` when `fn` is a tf-slim layer (or a `functools.partial` of one).

  Code written for tf-slim hands its own layers to ours, e.g. `slim.arg_scope([slim.conv2d],
  normalizer_fn=slim.batch_norm)` around one of these networks. tf-slim's `batch_norm` fails on TF 2.21 without
  tf-keras, so every callable argument that a layer here calls (`normalizer_fn`, `activation_fn`) goes through
  this first: the twin runs instead, with the same arguments, variable names and collections.
  """
  if isinstance(fn, functools.partial):
    twin = own_layer(fn.func)
    return fn if twin is fn.func else functools.partial(twin, *fn.args, **fn.keywords)
  if fn is None or not callable(fn):
    return fn
  return _TWINS.get(slim.arg_scope_func_key(fn), fn)


def _num_outputs(value, layer: str, allow_none: bool = False):
  """`num_outputs` as a python int (numpy ints and `Dimension`s accepted), or a ValueError."""
  number = checks.as_int(value)
  if (allow_none and value is None) or (isinstance(number, int) and number > 0):
    return number
  valid = 'None (depthwise only) or a positive int' if allow_none else 'a positive int'
  raise ValueError(f'{layer}: num_outputs must be {valid}, got {value!r}')


def _collections_for(variables_collections, name: str) -> list:
  """The extra collections for variable `name`: a dict maps names to collections, a list applies to all."""
  if isinstance(variables_collections, dict):
    extra = variables_collections.get(name)
  else:
    extra = variables_collections
  if extra is None:
    return []
  return [extra] if isinstance(extra, str) else list(extra)


_REGULARIZER_SINKS = threading.local()


@contextlib.contextmanager
def regularizers_collected_into(sink: list):
  """Within this context (in this thread), `model_variable` hands regularizers to `sink` instead of the graph.

  Each variable created with a regularizer appends `(variable, regularizer)` to `sink`; no loss is built and
  nothing is added to REGULARIZATION_LOSSES. This is how eager code, which has no collections, gets the weight
  decay of a network: it evaluates the regularizers itself at every step.
  """
  stack = _REGULARIZER_SINKS.__dict__.setdefault('stack', [])
  stack.append(sink)
  try:
    yield sink
  finally:
    stack.pop()


def model_variable(name: str, shape: Sequence[int], dtype=tf.float32, initializer=None, regularizer=None,
                   trainable: bool = True, collections=None) -> tf.Variable:
  """Gets or creates a variable in the global and model variable collections (as `slim.model_variable`).

  Args:
    name: variable name inside the current variable scope.
    shape: variable shape.
    dtype: variable dtype.
    initializer: initializer; None uses `tf.compat.v1.get_variable`'s default.
    regularizer: a function of the variable returning a scalar loss, added to REGULARIZATION_LOSSES when the
      variable is created (or handed to the sink of `regularizers_collected_into`); None uses the variable
      scope's regularizer.
    trainable: whether the variable is added to TRAINABLE_VARIABLES.
    collections: further collections to add the variable to.

  Returns:
    The variable.
  """
  all_collections = [GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES] + list(collections or [])
  scope = tf.compat.v1.get_variable_scope()
  if regularizer is None:
    regularizer = scope.regularizer
  created = []

  def record_creation(next_creator, **kwargs):
    created.append(next_creator(**kwargs))
    return created[-1]

  # The regularizer is applied here rather than by get_variable, which calls it twice per variable (once only
  # to test for None), leaving a dead copy of the loss ops in the graph.
  with tf.variable_creator_scope(record_creation):
    variable = tf.compat.v1.get_variable(name, shape=shape, dtype=dtype, initializer=initializer,
                                         regularizer=tf.compat.v1.no_regularizer, trainable=trainable,
                                         collections=list(dict.fromkeys(all_collections)))
  sinks = getattr(_REGULARIZER_SINKS, 'stack', None)
  if regularizer is not None and created and sinks:
    sinks[-1].append((variable, regularizer))
  elif regularizer is not None and created and not tf.executing_eagerly():
    with tf.name_scope(f'{scope.name}/{name}/Regularizer/'.lstrip('/')):
      loss = regularizer(variable)
    if loss is not None:
      tf.compat.v1.add_to_collection(GraphKeys.REGULARIZATION_LOSSES, loss)
  return variable


class VarianceScaling:
  """Truncated-normal initializer with variance `scale / fan` (He et al. 2015 for scale 2 and fan_in).

  Draws the same distribution as `tf.compat.v1.variance_scaling_initializer(scale, mode,
  distribution='truncated_normal')`: a normal truncated at two standard deviations, its standard deviation
  corrected for the truncation so that the samples have variance `scale / fan`. It builds two fewer ops per
  variable, which matters when a network has hundreds of them. Seeds follow the graph-level seed.

  Args:
    scale: the target variance times the fan.
    mode: 'fan_in', 'fan_out' or 'fan_avg', counted over the receptive field (all axes but the last two).
    seed: op-level seed; None derives one from the graph seed as TensorFlow's random ops do.
  """

  _TRUNCATED_STDDEV = 0.87962566103423978  # standard deviation of a unit normal truncated to [-2, 2]

  def __init__(self, scale: float = 1.0, mode: str = 'fan_in', seed: Optional[int] = None):
    if not scale > 0:
      raise ValueError(f'scale must be positive, got {scale!r}')
    if mode not in ('fan_in', 'fan_out', 'fan_avg'):
      raise ValueError(f"mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
    self.scale, self.mode, self.seed = scale, mode, seed

  def __call__(self, shape, dtype=tf.float32, partition_info=None) -> tf.Tensor:
    del partition_info
    shape = [int(d) for d in shape]
    receptive_field = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in = shape[-2] * receptive_field if len(shape) > 1 else shape[-1] if shape else 1
    fan_out = shape[-1] * receptive_field if shape else 1
    fan = {'fan_in': fan_in, 'fan_out': fan_out, 'fan_avg': (fan_in + fan_out) / 2}[self.mode]
    stddev = math.sqrt(self.scale / max(1.0, fan)) / self._TRUNCATED_STDDEV
    seed, seed2 = tf.compat.v1.get_seed(self.seed)
    sample = tf.raw_ops.TruncatedNormal(shape=tf.constant(shape, tf.int32), dtype=tf.as_dtype(dtype).base_dtype,
                                        seed=seed or 0, seed2=seed2 or 0)
    return sample * stddev


def _filled(value: float) -> Callable:
  """An initializer of constant `value`, built as one Const op whatever the shape."""

  def initializer(shape, dtype=tf.float32, partition_info=None):
    del partition_info
    return tf.constant(value, dtype=tf.as_dtype(dtype).base_dtype, shape=shape)

  return initializer


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


def _check_data_format(data_format: Optional[str]) -> None:
  if data_format not in (None, _NHWC):
    raise ValueError(f"data_format must be 'NHWC' (or None), got {data_format!r}: "
                     'these layers are built for channels-last tensors')


@_shares_arg_scope_with(slim.conv2d)
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
  num_outputs = _num_outputs(num_outputs, 'conv2d')
  (kernel_h, kernel_w), strides, rates = _window_arguments(kernel_size, stride, rate, padding, data_format)
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'Conv', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'conv2d {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights = model_variable('weights', [kernel_h, kernel_w, in_channels, num_outputs], dtype,
                             weights_initializer, weights_regularizer, trainable,
                             _collections_for(variables_collections, 'weights'))
    convolve = functools.partial(_convolve, strides=strides, padding=padding, rates=rates)
    folded = _batch_norm_to_fold(normalizer_fn, normalizer_params)
    if folded is not None:  # batch norm is done: only the activation is left
      outputs = _convolve_with_folded_batch_norm(convolve, inputs, weights, folded)
      normalizer_fn, biases_initializer = None, None
    else:
      outputs = convolve(inputs, weights)
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


def _convolve(inputs: tf.Tensor, weights: tf.Tensor, strides: tuple, padding: str, rates: tuple) -> tf.Tensor:
  """`tf.nn.conv2d`; atrous with a gradient that TensorFlow's CPU kernels can compute.

  An atrous `Conv2D` runs forward on every device (oneDNN on CPUs), but TensorFlow's CPU kernels for its
  gradient refuse dilations ("Current CPU implementations do not yet support dilation rates larger than 1"),
  so training at an output stride below the nominal one would fail on a CPU. The forward pass stays one
  atrous `Conv2D`; its gradient is that of `tf.nn.convolution`, which computes an atrous convolution as a plain
  one between space-to-batch and batch-to-space (as tf-slim's layers do forward). The gradient needs only the
  inputs and weights, so the recomputed forward convolution there is not run in graphs.
  """
  conv2d_op = functools.partial(tf.nn.conv2d, strides=(1,) + strides + (1,), padding=padding,
                                dilations=(1,) + rates + (1,))
  if max(rates) == 1:
    return conv2d_op(inputs, weights)

  @tf.custom_gradient
  def atrous(x, w):
    def gradient(upstream):
      with tf.GradientTape() as tape:
        tape.watch([x, w])
        same = tf.nn.convolution(x, w, padding=padding, dilations=rates)
      return tape.gradient(same, [x, w], output_gradients=upstream)

    return conv2d_op(x, w), gradient

  return atrous(inputs, weights)


def _window_arguments(kernel_size, stride, rate, padding, data_format) -> tuple:
  """(kernel, strides, rates) of a convolution as pairs of ints, or a ValueError naming the bad argument."""
  _check_data_format(data_format)
  kernel = checks.int_pair(kernel_size, 'kernel_size')
  strides = checks.int_pair(stride, 'stride')
  rates = checks.int_pair(rate, 'rate')
  if max(strides) > 1 and max(rates) > 1:
    raise ValueError(f'stride {stride!r} and rate {rate!r} cannot both exceed 1 in one convolution')
  _check_padding(padding)
  return kernel, strides, rates


def _check_padding(padding) -> None:
  if padding not in ('SAME', 'VALID'):
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


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
                            _collections_for(variables_collections, 'biases'))
    outputs = tf.nn.bias_add(outputs, biases)
  if activation_fn is not None:
    outputs = activation_fn(outputs)
  return slim.utils.collect_named_outputs(outputs_collections, scope_name, outputs)


@_shares_arg_scope_with(slim.separable_conv2d)
def separable_conv2d(inputs: tf.Tensor, num_outputs: Optional[int], kernel_size: IntPair, depth_multiplier: int = 1,
                     stride: IntPair = 1, padding: str = 'SAME', data_format: str = _NHWC, rate: IntPair = 1,
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
  num_outputs = _num_outputs(num_outputs, 'separable_conv2d', allow_none=True)
  (kernel_h, kernel_w), strides, rates = _window_arguments(kernel_size, stride, rate, padding, data_format)
  multiplier = _num_outputs(depth_multiplier, 'separable_conv2d depth_multiplier')
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'SeparableConv2d', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'separable_conv2d {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights_collections = _collections_for(variables_collections, 'weights')
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
    folded = _batch_norm_to_fold(normalizer_fn, normalizer_params)
    if folded is not None:  # batch norm is done: only the activation is left
      outputs = _convolve_with_folded_batch_norm(convolve, inputs, weights, folded,
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


@_shares_arg_scope_with(slim.conv2d_transpose)
def conv2d_transpose(inputs: tf.Tensor, num_outputs: int, kernel_size: IntPair, stride: IntPair = 1,
                     padding: str = 'SAME', data_format: str = _NHWC, activation_fn: Optional[Callable] = tf.nn.relu,
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
  num_outputs = _num_outputs(num_outputs, 'conv2d_transpose')
  kernel, strides, _ = _window_arguments(kernel_size, stride, 1, padding, data_format)
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'Conv2d_transpose', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_channels = _known_channels(inputs, 4, f'conv2d_transpose {sc.name!r} needs a 4-D NHWC input')
    dtype = inputs.dtype.base_dtype
    weights = model_variable('weights', [kernel[0], kernel[1], num_outputs, in_channels], dtype,
                             weights_initializer, weights_regularizer, trainable,
                             _collections_for(variables_collections, 'weights'))
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


@_shares_arg_scope_with(slim.fully_connected)
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
  num_outputs = _num_outputs(num_outputs, 'fully_connected')
  normalizer_fn, activation_fn = own_layer(normalizer_fn), own_layer(activation_fn)
  with tf.compat.v1.variable_scope(scope, 'fully_connected', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    in_units = _known_channels(inputs, None, f'fully_connected {sc.name!r} needs an input of rank >= 2')
    weights = model_variable('weights', [in_units, num_outputs], inputs.dtype.base_dtype, weights_initializer,
                             weights_regularizer, trainable, _collections_for(variables_collections, 'weights'))
    if inputs.shape.rank == 2:
      outputs = tf.linalg.matmul(inputs, weights)
    else:
      outputs = tf.tensordot(inputs, weights, [[inputs.shape.rank - 1], [0]])
      outputs.set_shape(inputs.shape[:-1].concatenate([num_outputs]))
    return _finished(outputs, sc.name, normalizer_fn, normalizer_params, biases_initializer, biases_regularizer,
                     activation_fn, trainable, variables_collections, outputs_collections)


@_shares_arg_scope_with(slim.flatten)
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


_FOLDING = threading.local()
_MOVING_AVERAGES = threading.local()


@contextlib.contextmanager
def moving_average_decay(decay):
  """Within this context (in this thread), `batch_norm` in training mode updates its moving averages with
  `decay` (a float or a scalar float tensor) instead of its own, e.g. 0 to take one batch's statistics, or
  k / (k + 1) at the k-th of several batches to average theirs (`slimnets.models.update_batch_norm_statistics`)."""
  previous = getattr(_MOVING_AVERAGES, 'decay', None)
  _MOVING_AVERAGES.decay = decay
  try:
    yield
  finally:
    _MOVING_AVERAGES.decay = previous



@contextlib.contextmanager
def batch_norm_folded_for_inference():
  """Within this context (in this thread), `conv2d` folds an inference-mode `batch_norm` into its weights.

  A convolution followed by batch norm with the moving statistics is `conv(x, w) * f + (beta - mean * f)` with
  `f = gamma / sqrt(moving_variance + epsilon)`, which equals `conv(x, w * f) + (beta - mean * f)`: one
  convolution and a bias add, which oneDNN runs as one fused kernel with the activation, in bfloat16 as well
  (where it does not fuse a convolution with batch norm). The variables, their names and the end points are
  unchanged; with constant weights grappler computes `w * f` once, with variables it is computed per run.
  Batch norm in training mode or with a tensor `is_training`, and normalizers other than `batch_norm`, are
  left as they are.
  """
  previous = getattr(_FOLDING, 'active', False)
  _FOLDING.active = True
  try:
    yield
  finally:
    _FOLDING.active = previous


def _batch_norm_to_fold(normalizer_fn: Optional[Callable], normalizer_params: Optional[dict]) -> Optional[dict]:
  """The complete `batch_norm` arguments of a normalizer to fold now, or None."""
  if normalizer_fn is not batch_norm or not getattr(_FOLDING, 'active', False):
    return None
  arguments = {**_BATCH_NORM_DEFAULTS, **slim.current_arg_scope().get(_BATCH_NORM_KEY, {}),
               **(normalizer_params or {})}
  is_training = arguments['is_training']
  return None if tf.is_tensor(is_training) or is_training else arguments


def _convolve_with_folded_batch_norm(convolve: Callable, inputs: tf.Tensor, weights: tf.Tensor,
                                     arguments: dict, depthwise: bool = False) -> tf.Tensor:
  """`batch_norm(convolve(inputs, weights), **arguments)` in inference mode, computed with folded weights.

  `weights` are `[..., out_channels]`, or with `depthwise` `[kh, kw, in_channels, multiplier]`, whose output
  channel `c * multiplier + m` is the filter `[:, :, c, m]`.
  """
  a = arguments
  _check_batch_norm_options(a['batch_weights'], a['renorm'], a['adjustment'], a['zero_debias_moving_mean'],
                            a['data_format'])
  with tf.compat.v1.variable_scope(a['scope'], 'BatchNorm', [inputs], reuse=a['reuse']) as sc:
    out_shape = weights.shape[-2:] if depthwise else weights.shape[-1:]
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(
        math.prod(int(d) for d in out_shape), _parameter_dtype(inputs.dtype), a['center'], a['scale'],
        a['param_initializers'], a['param_regularizers'], a['trainable'], a['variables_collections'])
    factor = tf.math.rsqrt(moving_variance + a['epsilon'])
    if gamma is not None:
      factor *= gamma
    offset = -moving_mean * factor
    if beta is not None:
      offset += beta
    outputs = convolve(inputs, weights * tf.cast(tf.reshape(factor, out_shape), weights.dtype))
    outputs = tf.nn.bias_add(outputs, tf.cast(offset, outputs.dtype))
    if a['activation_fn'] is not None:
      outputs = a['activation_fn'](outputs)
    return slim.utils.collect_named_outputs(a['outputs_collections'], sc.name, outputs)


def _moving_average_update(variable: tf.Variable, value: tf.Tensor, decay) -> tf.Operation:
  """variable <- decay * variable + (1 - decay) * value."""
  with tf.name_scope('AssignMovingAvg'):
    return variable.assign_sub((variable - value) * (1.0 - decay), read_value=False)


@_shares_arg_scope_with(slim.batch_norm)
def batch_norm(inputs: tf.Tensor, decay: float = 0.999, center: bool = True, scale: bool = False,
               epsilon: float = 0.001, activation_fn: Optional[Callable] = None, param_initializers=None,
               param_regularizers=None, updates_collections=GraphKeys.UPDATE_OPS, is_training=True, reuse=None,
               variables_collections=None, outputs_collections=None, trainable: bool = True, batch_weights=None,
               fused=None, data_format: str = _NHWC, zero_debias_moving_mean: bool = False, scope=None,
               renorm: bool = False, renorm_clipping=None, renorm_decay: float = 0.99,
               adjustment=None, synchronized: bool = False) -> tf.Tensor:
  """Batch normalization over all axes but the last (Ioffe & Szegedy, 2015, arXiv:1502.03167).

  In training mode the batch statistics normalize the input and the moving averages are updated: the update
  ops go to `updates_collections`, or run with the output when it is None. In inference mode the moving
  averages normalize the input. Variables, in creation order: `gamma` (if `scale`), `beta` (if `center`),
  `moving_mean`, `moving_variance`, all of shape `[channels]` and in the model variables.

  Args:
    inputs: tensor of rank >= 2 with a known last dimension; rank-4 inputs are NHWC.
    decay: decay of the moving averages.
    center: add the offset `beta`.
    scale: multiply by `gamma`.
    epsilon: added to the variance.
    activation_fn: applied to the output; None for linear.
    param_initializers: dict of initializers keyed by variable name.
    param_regularizers: dict of regularizers for 'beta' and 'gamma'.
    updates_collections: collection(s) for the moving average updates, or None to apply them in place.
    is_training: python bool or scalar bool tensor choosing batch or moving statistics.
    reuse: reuse the variables of `scope`.
    variables_collections: extra collections for the variables (a list, or a dict keyed by variable name).
    outputs_collections: collections the output is added to, aliased by the variable scope name.
    trainable: whether `beta` and `gamma` are trainable.
    batch_weights, renorm, renorm_clipping, renorm_decay, adjustment, zero_debias_moving_mean: accepted for
      compatibility with tf-slim; only their defaults are supported.
    fused: accepted for compatibility; the fused kernel is always used.
    data_format: 'NHWC' only.
    scope: variable scope name, default 'BatchNorm'.
    synchronized: in training mode under a `tf.distribute` strategy of several replicas, normalize with the
      statistics of the whole global batch (each replica's sums combined with a cross-replica all-reduce, as
      Keras's `BatchNormalization(synchronized=True)`), so every replica computes what one device would on the
      whole batch, moving averages included. Elsewhere (one replica, inference) it changes nothing. An addition
      of this project (tf-slim has no such argument); set it for a whole network with
      `slim.arg_scope([slim.batch_norm], synchronized=True)` or `tf2.Backbone(..., synchronized_batch_norm=True)`.

  Returns:
    The normalized tensor, with the shape of `inputs`.

  Raises:
    ValueError: on an unsupported option, data_format or input rank, or an unknown channel count.
  """
  del fused, renorm_clipping, renorm_decay  # the fused kernel is always used; renorm is refused below
  activation_fn = own_layer(activation_fn)
  _check_batch_norm_options(batch_weights, renorm, adjustment, zero_debias_moving_mean, data_format)
  replicas = _replicas_to_synchronize(synchronized)
  with tf.compat.v1.variable_scope(scope, 'BatchNorm', [inputs], reuse=reuse) as sc:
    inputs = tf.convert_to_tensor(inputs)
    shape = checks.static_shape(inputs)
    if shape is None or len(shape) < 2 or shape[-1] is None:
      raise ValueError(f'batch_norm {sc.name!r} needs an input of rank >= 2 with a known last dimension, '
                       f'got shape {checks.shape_text(inputs)}')
    channels = shape[-1]
    gamma, beta, moving_mean, moving_variance = _batch_norm_variables(
        channels, _parameter_dtype(inputs.dtype), center, scale, param_initializers, param_regularizers,
        trainable, variables_collections)
    override = getattr(_MOVING_AVERAGES, 'decay', None)
    outputs = _fused_normalize(inputs, gamma, beta, moving_mean, moving_variance, epsilon, is_training,
                               decay if override is None else override, updates_collections, replicas)
    if activation_fn is not None:
      outputs = activation_fn(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


_BATCH_NORM_KEY = slim.arg_scope_func_key(batch_norm)
_BATCH_NORM_DEFAULTS = {name: parameter.default for name, parameter in inspect.signature(batch_norm).parameters.items()
                        if parameter.default is not inspect.Parameter.empty}

def _check_batch_norm_options(batch_weights, renorm, adjustment, zero_debias_moving_mean, data_format) -> None:
  unsupported = {'batch_weights': batch_weights, 'renorm': renorm or None, 'adjustment': adjustment,
                 'zero_debias_moving_mean': zero_debias_moving_mean or None}
  for name, value in unsupported.items():
    if value is not None:
      raise ValueError(f'batch_norm does not support {name}={value!r}; leave it at its default')
  _check_data_format(data_format)


def _parameter_dtype(dtype: tf.DType) -> tf.DType:
  """Batch norm keeps float32 parameters and statistics for reduced-precision inputs (as the fused kernel)."""
  return tf.float32 if dtype in (tf.float16, tf.bfloat16) else dtype.base_dtype


def _batch_norm_variables(channels: int, dtype: tf.DType, center: bool, scale: bool, param_initializers,
                          param_regularizers, trainable: bool, variables_collections) -> tuple:
  """(gamma or None, beta or None, moving_mean, moving_variance), created in this order in the current scope."""
  param_initializers = param_initializers or {}
  param_regularizers = param_regularizers or {}

  def variable(name, default_init, is_trainable, regularizer=None):
    return model_variable(name, [channels], dtype, param_initializers.get(name, default_init), regularizer,
                          is_trainable, _collections_for(variables_collections, name))

  ones, zeros = _filled(1.0), _filled(0.0)
  gamma = variable('gamma', ones, trainable, param_regularizers.get('gamma')) if scale else None
  beta = variable('beta', zeros, trainable, param_regularizers.get('beta')) if center else None
  return gamma, beta, variable('moving_mean', zeros, False), variable('moving_variance', ones, False)


def _replicas_to_synchronize(synchronized: bool) -> Optional[tf.distribute.ReplicaContext]:
  """The replica context to all-reduce batch statistics in: with `synchronized`, inside one replica of several.

  Raises:
    RuntimeError: when the replicas are threads of this process sharing tf-slim's one arg scope stack (every
      replica raises it, before any all-reduce, so none is left waiting).
  """
  if not synchronized:
    return None
  context = tf.distribute.get_replica_context()  # None in a cross-replica context; the default one: 1 replica
  if context is None or context.num_replicas_in_sync <= 1:
    return None
  local = context.strategy.extended.worker_devices
  if len(local) > 1 and not per_thread_arg_scopes():
    raise RuntimeError(f'batch_norm(synchronized=True) across {len(local)} replicas in this process needs each '
                       'replica thread to have its own arg scope stack: call nets.layers.use_per_thread_arg_scopes() '
                       'once before strategy.run (slimnets.models.Backbone(..., synchronized_batch_norm=True) does)')
  return context


def _global_batch_moments(rank4: tf.Tensor, replicas: tf.distribute.ReplicaContext) -> tuple:
  """(mean, variance, count) over the NHW axes of the global batch: one all-reduce of each replica's sums."""
  values = tf.cast(rank4, tf.float32)
  channels = checks.static_shape(rank4)[-1]
  count = tf.cast(tf.reduce_prod(tf.shape(values)[:3]), tf.float32)
  local = tf.concat([tf.reduce_sum(values, [0, 1, 2]), tf.reduce_sum(tf.square(values), [0, 1, 2]),
                     tf.reshape(count, [1])], 0)
  with BUILD_LOCK.released():  # the other replicas' threads build up to this all-reduce meanwhile
    total = replicas.all_reduce(tf.distribute.ReduceOp.SUM, local)
  count = total[2 * channels]
  mean = total[:channels] / count
  variance = tf.maximum(total[channels:2 * channels] / count - tf.square(mean), 0.0)
  return mean, variance, count


def _fused_normalize(inputs, gamma, beta, moving_mean, moving_variance, epsilon, is_training, decay,
                     updates_collections, replicas: Optional[tf.distribute.ReplicaContext] = None) -> tf.Tensor:
  """Normalizes with the fused kernel, reshaping non-4-D inputs to `[-1, 1, 1, channels]`.

  In training mode with a python `decay` the kernel itself computes the new moving averages
  (`exponential_avg_factor = 1 - decay`), so each update is one assignment; a tensor `decay` or `is_training`
  takes the general path below. With `replicas` (synchronized batch norm) the batch statistics are the global
  batch's (`_global_batch_moments`) and the moving variance takes their unbiased estimate, as the fused kernel's.
  """
  channels = checks.static_shape(inputs)[-1]
  rank4 = inputs if inputs.shape.rank == 4 else tf.reshape(inputs, [-1, 1, 1, channels])
  scale_t = gamma if gamma is not None else tf.ones([channels], moving_mean.dtype)
  offset_t = beta if beta is not None else tf.zeros([channels], moving_mean.dtype)

  def with_batch_statistics():
    if replicas is None:
      return tf.compat.v1.nn.fused_batch_norm(rank4, scale_t, offset_t, epsilon=epsilon, is_training=True)
    mean, variance, count = _global_batch_moments(rank4, replicas)
    outputs = tf.nn.batch_normalization(tf.cast(rank4, tf.float32), mean, variance, offset_t, scale_t, epsilon)
    return tf.cast(outputs, rank4.dtype), mean, variance * count / tf.maximum(count - 1.0, 1.0)

  def with_moving_statistics():
    return tf.compat.v1.nn.fused_batch_norm(rank4, scale_t, offset_t, mean=moving_mean, variance=moving_variance,
                                            epsilon=epsilon, is_training=False)[0]

  if not tf.is_tensor(is_training) and not is_training:
    return _restore_shape(with_moving_statistics(), inputs)
  if not tf.is_tensor(is_training) and not tf.is_tensor(decay) and replicas is None:
    outputs, new_mean, new_variance = tf.compat.v1.nn.fused_batch_norm(
        rank4, scale_t, offset_t, mean=moving_mean, variance=moving_variance, epsilon=epsilon, is_training=True,
        exponential_avg_factor=1.0 - float(decay))
    updates = [moving_mean.assign(new_mean, read_value=False),
               moving_variance.assign(new_variance, read_value=False)]
  else:
    if not tf.is_tensor(is_training):
      outputs, mean, variance = with_batch_statistics()
    else:  # in inference the "batch" statistics are the moving ones, which makes their update a no-op
      outputs, mean, variance = tf.cond(
          tf.cast(is_training, tf.bool), with_batch_statistics,
          lambda: (with_moving_statistics(), moving_mean.read_value(), moving_variance.read_value()))
    updates = [_moving_average_update(moving_mean, mean, decay),
               _moving_average_update(moving_variance, variance, decay)]
  if updates_collections is None:
    with tf.control_dependencies(updates):
      outputs = tf.identity(outputs)
  else:
    for collection in [updates_collections] if isinstance(updates_collections, str) else updates_collections:
      for update in updates:
        tf.compat.v1.add_to_collection(collection, update)
  return _restore_shape(outputs, inputs)


def _restore_shape(outputs: tf.Tensor, inputs: tf.Tensor) -> tf.Tensor:
  return outputs if inputs.shape.rank == 4 else tf.reshape(outputs, tf.shape(inputs))


def _pool2d(pool_fn, default_scope, inputs, kernel_size, stride, padding, data_format, outputs_collections,
            scope) -> tf.Tensor:
  _check_data_format(data_format)
  kernel = checks.int_pair(kernel_size, 'kernel_size')
  strides = checks.int_pair(stride, 'stride')
  _check_padding(padding)
  with tf.name_scope(scope or default_scope) as sc:
    outputs = pool_fn(inputs, ksize=(1,) + kernel + (1,), strides=(1,) + strides + (1,), padding=padding)
    return slim.utils.collect_named_outputs(outputs_collections, sc, outputs)


@_shares_arg_scope_with(slim.max_pool2d)
def max_pool2d(inputs: tf.Tensor, kernel_size: IntPair, stride: IntPair = 2, padding: str = 'VALID',
               data_format: str = _NHWC, outputs_collections=None, scope=None) -> tf.Tensor:
  """2-D max pooling of an NHWC tensor; `kernel_size` and `stride` are ints or (h, w) pairs."""
  return _pool2d(tf.nn.max_pool2d, 'MaxPool2D', inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@_shares_arg_scope_with(slim.avg_pool2d)
def avg_pool2d(inputs: tf.Tensor, kernel_size: IntPair, stride: IntPair = 2, padding: str = 'VALID',
               data_format: str = _NHWC, outputs_collections=None, scope=None) -> tf.Tensor:
  """2-D average pooling of an NHWC tensor (padding excluded from the average, as in `tf.nn.avg_pool2d`)."""
  return _pool2d(tf.nn.avg_pool2d, 'AvgPool2D', inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@_shares_arg_scope_with(slim.dropout)
def dropout(inputs: tf.Tensor, keep_prob: float = 0.5, noise_shape=None, is_training=True, outputs_collections=None,
            scope=None, seed=None) -> tf.Tensor:
  """Drops units with probability `1 - keep_prob` and scales the rest by `1 / keep_prob` in training mode.

  `is_training` may be a python bool or a scalar bool tensor; in inference mode the input passes unchanged.
  """
  with tf.name_scope(scope or 'Dropout') as sc:
    inputs = tf.convert_to_tensor(inputs)

    def drop():
      return tf.nn.dropout(inputs, rate=1.0 - keep_prob, noise_shape=noise_shape, seed=seed)

    if not tf.is_tensor(is_training):
      outputs = drop() if is_training else tf.identity(inputs)
    else:
      outputs = tf.cond(tf.cast(is_training, tf.bool), drop, lambda: tf.identity(inputs))
    return slim.utils.collect_named_outputs(outputs_collections, sc, outputs)


def softmax(logits: tf.Tensor, scope=None) -> tf.Tensor:
  """Softmax over the last axis, in variable scope `scope` (default 'softmax')."""
  with tf.compat.v1.variable_scope(scope, 'softmax', [logits]):
    return tf.nn.softmax(logits)
