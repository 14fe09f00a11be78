"""Batch normalization (tf-slim's, on the fused kernel), its folding into convolutions for inference, moving
average decay overrides, and synchronization across `tf.distribute` replicas."""

import inspect
import math
from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets.layers.arguments import NHWC
from nets.layers.arguments import check_data_format
from nets.layers.arguments import collections_for
from nets.layers.context import build_options
from nets.layers.context import current as current_build_options
from nets.layers.scopes import BUILD_LOCK
from nets.layers.scopes import own_layer
from nets.layers.scopes import per_thread_arg_scopes
from nets.layers.scopes import shares_arg_scope_with
from nets.layers.variables import GraphKeys
from nets.layers.variables import filled
from nets.layers.variables import model_variable


def moving_average_decay(decay):
  """Within this context (in this thread), `batch_norm` in training mode updates its moving averages with
  `decay` (a float or a scalar float tensor) instead of its own, e.g. 0 to take one batch's statistics, or
  k / (k + 1) at the k-th of several batches to average theirs (`slimnets.models.update_batch_norm_statistics`).
  The build option `moving_average_decay` (`build_options`)."""
  return build_options(moving_average_decay=decay)


def batch_norm_folded_for_inference():
  """Within this context (in this thread), `conv2d` folds an inference-mode `batch_norm` into its weights.

  A convolution followed by batch norm with the moving statistics is `conv(x, w) * f + (beta - mean * f)` with
  `f = gamma / sqrt(moving_variance + epsilon)`, which equals `conv(x, w * f) + (beta - mean * f)`: one
  convolution and a bias add, which oneDNN runs as one fused kernel with the activation, in bfloat16 as well
  (where it does not fuse a convolution with batch norm). The variables, their names and the end points are
  unchanged; with constant weights grappler computes `w * f` once, with variables it is computed per run.
  Batch norm in training mode or with a tensor `is_training`, and normalizers other than `batch_norm`, are
  left as they are. The build option `fold_batch_norm` (`build_options`).
  """
  return build_options(fold_batch_norm=True)


def batch_norm_to_fold(normalizer_fn: Optional[Callable], normalizer_params: Optional[dict]) -> Optional[dict]:
  """The complete `batch_norm` arguments of a normalizer to fold now, or None."""
  if normalizer_fn is not batch_norm or not current_build_options().fold_batch_norm:
    return None
  arguments = {**_BATCH_NORM_DEFAULTS, **slim.current_arg_scope().get(_BATCH_NORM_KEY, {}),
               **(normalizer_params or {})}
  is_training = arguments['is_training']
  return None if tf.is_tensor(is_training) or is_training else arguments


def convolve_with_folded_batch_norm(convolve: Callable, inputs: tf.Tensor, weights: tf.Tensor,
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


@shares_arg_scope_with(slim.batch_norm)
def batch_norm(inputs: tf.Tensor, decay: float = 0.999, center: bool = True, scale: bool = False,
               epsilon: float = 0.001, activation_fn: Optional[Callable] = None, param_initializers=None,
               param_regularizers=None, updates_collections=GraphKeys.UPDATE_OPS, is_training=True, reuse=None,
               variables_collections=None, outputs_collections=None, trainable: bool = True, batch_weights=None,
               fused=None, data_format: str = NHWC, zero_debias_moving_mean: bool = False, scope=None,
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
      `slim.arg_scope([slim.batch_norm], synchronized=True)` or
      `slimnets.Backbone(..., synchronized_batch_norm=True)`.

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
    override = current_build_options().moving_average_decay
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
  check_data_format(data_format)


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
                          is_trainable, collections_for(variables_collections, name))

  ones, zeros = filled(1.0), filled(0.0)
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
