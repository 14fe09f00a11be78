"""Building a network in a scratch graph without allocating its variables.

The network is built by its own code, in inference mode, under a custom getter that records each variable's
shape and hands the layer a constant instead of a variable. Everything that reads a network's structure (the
parameter count, the geometry, `slimnets describe`) goes through here, so it follows every option of the
network with no table to keep in sync, at a fraction of the cost of a real build.
"""

import dataclasses
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf

from nets import deeplab
from nets import layers
from nets import nets_factory


@dataclasses.dataclass
class ScratchBuild:
  """A network built in its own graph.

  Attributes:
    graph: the scratch graph.
    images: the `[batch, height, width, in_channels]` placeholder the network was built on.
    net: the network's main output.
    end_points: the network's end points.
    variables: variable name -> (shape, trainable), in creation order.
  """
  graph: tf.Graph
  images: tf.Tensor
  net: tf.Tensor
  end_points: Dict[str, tf.Tensor]
  variables: Dict[str, Tuple[Tuple[int, ...], bool]]

  def parameters(self, trainable_only: bool = True) -> int:
    """Number of parameters of the (trainable) variables."""
    return sum(shape_size(shape) for shape, trainable in self.variables.values() if trainable or not trainable_only)


def shape_size(shape: Sequence[int]) -> int:
  """Number of elements of a tensor of `shape`."""
  total = 1
  for dim in shape:
    total *= dim
  return total


def build(network: str, input_size: Optional[Tuple[Optional[int], Optional[int]]] = None, in_channels: int = 3,
          num_classes: Optional[int] = None, batch: Optional[int] = 1, **network_kwargs) -> ScratchBuild:
  """Builds `network` in a new graph, in inference mode, without variables.

  Args:
    network: a name of `nets_factory.REGISTRY`.
    input_size: (height, width), either may be None (unknown); default: the network's default image size.
    in_channels: channels of the input images.
    num_classes: classes of the logits; None for features only.
    batch: batch size of the placeholder (None: unknown).
    **network_kwargs: further arguments of the network function (e.g. `global_pool`, `output_stride`).

  Returns:
    A `ScratchBuild`.

  Raises:
    ValueError: from the network, for arguments it does not accept.
  """
  spec = nets_factory.get_spec(network)
  spec.check_arguments(network_kwargs)
  if input_size is None:
    input_size = (spec.default_image_size, spec.default_image_size)

  def network_fn(images):
    return spec.fn(images, num_classes, is_training=False, **network_kwargs)

  return _build(network_fn, input_size, in_channels, batch, spec.arg_scope())


def build_segmenter(model_options, input_size: Tuple[Optional[int], Optional[int]], in_channels: int = 3,
                    batch: Optional[int] = 1) -> ScratchBuild:
  """Builds a DeepLab model (`nets.deeplab.ModelOptions`) at one scale, in inference mode, without variables.

  `net` is the first output's logits bilinearly resized to the image size (as `predict_labels` and the export
  serve them); the end points are `deeplab.logits_and_end_points`'.
  """

  def network_fn(images):
    logits, end_points = deeplab.logits_and_end_points(images, model_options)
    first = logits[sorted(logits)[0]]
    return deeplab.resize_bilinear(first, tf.shape(images)[1:3], first.dtype), end_points

  return _build(network_fn, input_size, in_channels, batch)


def _build(network_fn, input_size, in_channels: int, batch: Optional[int],
           arg_scope: Optional[dict] = None) -> ScratchBuild:
  """`network_fn(images) -> (net, end_points)` built in a new graph under the recording getter and `arg_scope`."""
  variables = {}

  def record(getter, name, shape=None, dtype=tf.float32, trainable=True, **_):
    del getter  # nothing is allocated
    variables[name] = (tuple(int(d) for d in shape), bool(trainable))
    return tf.zeros(shape, dtype)

  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(tf.float32, [batch, *input_size, in_channels], name='images')
    with layers.building(arg_scope, record):
      net, end_points = network_fn(images)
  return ScratchBuild(graph, images, net, dict(end_points), variables)
