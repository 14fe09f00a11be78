"""Builds this project's networks with tf-slim 1.1.0's own layers instead of nets.layers, for baselines.

The network code is ours; only the layer functions are swapped (inside `nets.layers`, for the duration of the
context). tf-slim's `batch_norm` needs tf-keras on TF >= 2.16 for its default path (updates in UPDATE_OPS), so
the baseline routes the moving-average updates to another collection, which selects tf-slim's fused batch norm
path that runs without tf-keras. Our layers are built with the same arg scope, so both sides build the same graph.
"""

import contextlib
from unittest import mock

import tf_slim as slim

from nets import layers

BASELINE_UPDATES = 'baseline_update_ops'


@contextlib.contextmanager
def slim_layers():
  """Within this context the networks are built from tf-slim's layers."""
  with contextlib.ExitStack() as stack:
    for name in ('conv2d', 'batch_norm', 'max_pool2d', 'avg_pool2d', 'dropout', 'softmax'):
      stack.enter_context(mock.patch.object(layers, name, getattr(slim, name)))
    yield
