"""Builds this project's networks with tf-slim 1.1.0's own layers instead of nets.layers, for baselines.

The network code is ours; only the layer functions are swapped (attributes of our own `nets.layers` module, for
the duration of the context), so both sides build the same network under the same arg scope.

tf-slim's `batch_norm` cannot be built at all on TF >= 2.16 without tf-keras: its default path imports
`tf_keras.legacy_tf_layers`, and its fused path fails on `ops.Tensor`. So the baseline keeps our `batch_norm`
(the swap covers conv2d, the pools, dropout and softmax), and benchmarks also report a comparison built without
batch norm (`use_batch_norm=False`), where every layer of the baseline is tf-slim's.
"""

import contextlib
from unittest import mock

import tf_slim as slim

from nets import layers

SWAPPED = ('conv2d', 'max_pool2d', 'avg_pool2d', 'dropout', 'softmax')


@contextlib.contextmanager
def slim_layers():
  """Within this context the networks are built from tf-slim's layers (batch norm excepted, see above)."""
  with contextlib.ExitStack() as stack:
    for name in SWAPPED:
      stack.enter_context(mock.patch.object(layers, name, getattr(slim, name)))
    yield
