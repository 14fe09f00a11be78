"""Pooling, dropout and softmax."""


import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets.layers.arguments import IntPair
from nets.layers.arguments import NHWC
from nets.layers.arguments import check_data_format
from nets.layers.arguments import check_padding
from nets.layers.scopes import shares_arg_scope_with


def _pool2d(pool_fn, default_scope, inputs, kernel_size, stride, padding, data_format, outputs_collections,
            scope) -> tf.Tensor:
  check_data_format(data_format)
  kernel = checks.int_pair(kernel_size, 'kernel_size')
  strides = checks.int_pair(stride, 'stride')
  check_padding(padding)
  with tf.name_scope(scope or default_scope) as sc:
    outputs = pool_fn(inputs, ksize=(1,) + kernel + (1,), strides=(1,) + strides + (1,), padding=padding)
    return slim.utils.collect_named_outputs(outputs_collections, sc, outputs)


@shares_arg_scope_with(slim.max_pool2d)
def max_pool2d(inputs: tf.Tensor, kernel_size: IntPair, stride: IntPair = 2, padding: str = 'VALID',
               data_format: str = NHWC, outputs_collections=None, scope=None) -> tf.Tensor:
  """2-D max pooling of an NHWC tensor; `kernel_size` and `stride` are ints or (h, w) pairs."""
  return _pool2d(tf.nn.max_pool2d, 'MaxPool2D', inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@shares_arg_scope_with(slim.avg_pool2d)
def avg_pool2d(inputs: tf.Tensor, kernel_size: IntPair, stride: IntPair = 2, padding: str = 'VALID',
               data_format: str = NHWC, outputs_collections=None, scope=None) -> tf.Tensor:
  """2-D average pooling of an NHWC tensor (padding excluded from the average, as in `tf.nn.avg_pool2d`)."""
  return _pool2d(tf.nn.avg_pool2d, 'AvgPool2D', inputs, kernel_size, stride, padding, data_format,
                 outputs_collections, scope)


@shares_arg_scope_with(slim.dropout)
def dropout(inputs: tf.Tensor, keep_prob: float = 0.5, noise_shape=None, is_training=True, outputs_collections=None,
            scope=None, seed=None) -> tf.Tensor:
  """Drops units with probability `1 - keep_prob` and scales the rest by `1 / keep_prob` in training mode.

  `is_training` may be a python bool or a scalar bool tensor; in inference mode the input passes unchanged.
  `seed` is an op seed (an int, as `tf.nn.dropout`'s), or a stateless seed (a shape [2] integer tensor): the
  mask is then a function of the seed alone, so a training run that derives it from its step draws the same
  masks when resumed from a checkpoint (`slimnets.models.Backbone(..., dropout_seed=...)`).
  """
  with tf.name_scope(scope or 'Dropout') as sc:
    inputs = tf.convert_to_tensor(inputs)

    def drop():
      if tf.is_tensor(seed):
        return tf.nn.experimental.stateless_dropout(inputs, rate=1.0 - keep_prob, seed=seed, noise_shape=noise_shape)
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
