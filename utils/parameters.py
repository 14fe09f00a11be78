"""Counting a network's parameters without allocating them.

The network is built once in a scratch graph, in inference mode, under a custom getter that records each
variable's shape and hands the layer a constant instead of a variable. That is the network's own code path, so
the count follows every option (classes, channels, depth multiplier) with no table to keep in sync, and it takes
a fraction of a real build's time.
"""

from typing import Optional

import numpy as np
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory


def variable_shapes(network: str, num_classes: Optional[int] = None, in_channels: int = 3,
                    **network_kwargs) -> dict:
  """Maps each variable name of `network` to (shape, trainable), in creation order.

  Args:
    network: a name of `nets_factory.REGISTRY`.
    num_classes: classes of the logits; None for features only.
    in_channels: channels of the input images.
    **network_kwargs: further arguments of the network function (e.g. `global_pool`).

  Returns:
    {name: (tuple shape, trainable)}.
  """
  spec = nets_factory.get_spec(network)
  shapes = {}

  def record(getter, name, shape=None, dtype=tf.float32, trainable=True, **_):
    del getter  # nothing is allocated
    shapes[name] = (tuple(int(d) for d in shape), bool(trainable))
    return tf.zeros(shape, dtype)

  size = spec.default_image_size
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, size, size, in_channels])
    with tf.compat.v1.variable_scope('', custom_getter=record):
      with slim.arg_scope(spec.arg_scope()):
        spec.fn(images, num_classes, is_training=False, **network_kwargs)
  return shapes


def count_parameters(network: str, num_classes: Optional[int] = None, in_channels: int = 3,
                     trainable_only: bool = True, **network_kwargs) -> int:
  """Number of (trainable) parameters of `network` with the given head and input channels."""
  return sum(int(np.prod(shape)) for shape, trainable in
             variable_shapes(network, num_classes, in_channels, **network_kwargs).values()
             if trainable or not trainable_only)
