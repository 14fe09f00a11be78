"""Builds this project's networks with tf-slim 1.1.0's own layers instead of nets.layers, for baselines.

The network code is ours; only the layer functions are swapped (attributes of our own `nets.layers` module, for
the duration of the context), so both sides build the same network under the same arg scope.

Batch norm needs care. With the arguments of `resnet_arg_scope`, tf-slim's `batch_norm` goes through
TensorFlow's legacy Keras layer, which on TF >= 2.16 needs tf-keras (not allowed in this project). tf-slim's
other implementation, `_fused_batch_norm` (the one it takes for non-default `updates_collections`), is plain
tf-slim code that fails on TF 2.21 only because `tensorflow.python.framework.ops.Tensor` no longer exists. The
`slim_batch_norm=True` baseline uses that function and, in the benchmark process only and for the duration
of the context, gives `ops` its `Tensor` attribute back. It builds the same variables and the same fused
kernel as the layer it stands in for, and is cheaper to build than the Keras path, so it understates the
baseline rather than flattering us. `slim_batch_norm=False` keeps our batch norm on both sides.
"""

import contextlib
from unittest import mock

import tensorflow as tf
import tf_slim as slim
from tf_slim.layers import layers as slim_layers_module
from tf_slim.layers import utils as slim_utils

from nets import layers

SWAPPED = ('conv2d', 'max_pool2d', 'avg_pool2d', 'dropout', 'softmax')


_BATCH_NORM_KEY = slim.arg_scope_func_key(slim.batch_norm)


def _slim_fused_batch_norm(inputs, **kwargs):
  """tf-slim's fused batch norm with the arguments of `slim.batch_norm`'s arg scope entry (read here, not through
  `nets.layers.scopes.shares_arg_scope_with`, which would make it the twin of `slim.batch_norm` for every build
  in the process, ours included)."""
  kwargs = {**slim.current_arg_scope().get(_BATCH_NORM_KEY, {}), **kwargs}
  kwargs.pop('fused', None)
  return slim_layers_module._fused_batch_norm(inputs, **kwargs)  # pylint: disable=protected-access


_slim_fused_batch_norm._key_op = _BATCH_NORM_KEY  # pylint: disable=protected-access


@contextlib.contextmanager
def slim_layers(slim_batch_norm: bool = False):
  """Within this context the networks are built from tf-slim's layers (see above for batch norm)."""
  with contextlib.ExitStack() as stack:
    for name in SWAPPED:
      stack.enter_context(mock.patch.object(layers, name, getattr(slim, name)))
    if slim_batch_norm:
      stack.enter_context(mock.patch.object(slim_utils.ops, 'Tensor', tf.Tensor, create=True))
      stack.enter_context(mock.patch.object(layers, 'batch_norm', _slim_fused_batch_norm))
    yield
