"""Variables of the layers: model variables with their collections and regularizers (or a sink of them for
eager code), and the initializers the layers share."""

import contextlib
import math
from typing import Callable, Iterator, Optional, Sequence

import tensorflow as tf

from nets.layers.context import build_options
from nets.layers.context import current as current_build_options

GraphKeys = tf.compat.v1.GraphKeys


@contextlib.contextmanager
def regularizers_collected_into(sink: list) -> Iterator[list]:
  """Within this context (in this thread), `model_variable` hands regularizers to `sink` instead of the graph.

  Each variable created with a regularizer appends `(variable, regularizer)` to `sink`; no loss is built and
  nothing is added to REGULARIZATION_LOSSES. This is how eager code, which has no collections, gets the weight
  decay of a network: it evaluates the regularizers itself at every step. The build option `regularizer_sink`
  (`build_options`). Yields `sink`.
  """
  with build_options(regularizer_sink=sink):
    yield sink


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
  sink = current_build_options().regularizer_sink
  if regularizer is not None and created and sink is not None:
    sink.append((variable, regularizer))
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


def filled(value: float) -> Callable:
  """An initializer of constant `value`, built as one Const op whatever the shape."""

  def initializer(shape, dtype=tf.float32, partition_info=None):
    del partition_info
    return tf.constant(value, dtype=tf.as_dtype(dtype).base_dtype, shape=shape)

  return initializer
