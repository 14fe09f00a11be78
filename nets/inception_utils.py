"""What the Inception networks share: their arg scope, and the layer specs they are written in.

`inception_arg_scope` is research/slim's common Inception arg scope (He initialization, L2 weight decay,
batch norm without scale after every convolution). The networks are data: a layer is `conv(...)` or
`pool(...)`, a "Mixed" block a list of parallel branches (lists of layers) concatenated on the channel axis,
and `fork(...)` parallel convolutions inside a branch. `apply` and `block` build them with research/slim's
scopes (`Mixed_5b/Branch_1/Conv2d_0b_5x5`), and `layer_size` / `block_size` compute the sizes the same specs
give, so each network's minimum input size and its checks come from what it builds.
"""

from typing import Callable, Optional, Sequence

import tensorflow as tf

from nets import layers


def conv(depth: int, kernel, name: str, stride: int = 1, padding: Optional[str] = None) -> tuple:
  """A convolution (with the arg scope's batch norm and activation); padding None: the enclosing scope's."""
  return ('conv', depth, kernel, name, stride, padding)


def pool(kind: str, kernel, name: str, stride: int = 1, padding: Optional[str] = None) -> tuple:
  """A 'max' or 'avg' pool."""
  return (kind, None, kernel, name, stride, padding)


def fork(*convs: tuple) -> tuple:
  """Parallel convolutions on the same input, concatenated on the channel axis."""
  return ('fork', convs)


def name_of(layer: tuple) -> str:
  return layer[3]


def layer_size(layer: tuple, size: int, axis: int, padding: str) -> int:
  """Output size along `axis` (0: height, 1: width) of one layer spec on a map of `size` (below 1: none)."""
  if layer[0] == 'fork':
    return min(layer_size(one, size, axis, padding) for one in layer[1])
  if size < 1:
    return 0
  _, _, kernel, _, stride, own_padding = layer
  kernel = kernel if isinstance(kernel, int) else kernel[axis]
  if (own_padding or padding) == 'VALID':
    return (size - kernel) // stride + 1
  return -(-size // stride)


def block_size(specs: Sequence[Sequence[tuple]], size: int, axis: int, padding: str = 'SAME') -> int:
  """Output size along `axis` of a Mixed block on a map of `size`: that of its smallest branch."""
  sizes = []
  for branch in specs:
    branch_size = size
    for layer in branch:
      branch_size = layer_size(layer, branch_size, axis, padding)
    sizes.append(branch_size)
  return min(sizes)


def apply(layer: tuple, net: tf.Tensor, depth: Callable[[int], int]) -> tf.Tensor:
  """Builds one layer spec on `net`; stride and padding default to the enclosing arg scope."""
  if layer[0] == 'fork':
    return tf.concat([apply(one, net, depth) for one in layer[1]], axis=3)
  kind, channels, kernel, name, stride, padding = layer
  options = {'stride': stride, 'scope': name}
  if padding is not None:
    options['padding'] = padding
  if kind == 'conv':
    return layers.conv2d(net, depth(channels), kernel, **options)
  return (layers.max_pool2d if kind == 'max' else layers.avg_pool2d)(net, kernel, **options)


def branches(specs: Sequence[Sequence[tuple]], net: tf.Tensor, depth: Callable[[int], int]) -> tf.Tensor:
  """Builds parallel branches on `net`, each in 'Branch_<i>' of the current scope, concatenated."""
  outputs = []
  for i, branch in enumerate(specs):
    with tf.compat.v1.variable_scope('Branch_%d' % i):
      branch_net = net
      for layer in branch:
        branch_net = apply(layer, branch_net, depth)
      outputs.append(branch_net)
  return tf.concat(outputs, axis=3)


def block(name: str, specs: Sequence[Sequence[tuple]], net: tf.Tensor, depth: Callable[[int], int]) -> tf.Tensor:
  """Builds a Mixed block: its branches under scope `name`."""
  with tf.compat.v1.variable_scope(name):
    return branches(specs, net, depth)


def depth_rule(depth_multiplier: float, min_depth: int) -> Callable[[int], int]:
  """Maps a convolution's nominal channels to its channels under `depth_multiplier`, at least `min_depth`."""
  return lambda channels: max(int(channels * depth_multiplier), min_depth)


def inception_arg_scope(weight_decay: float = 0.00004, use_batch_norm: bool = True, batch_norm_decay: float = 0.9997,
                        batch_norm_epsilon: float = 0.001, activation_fn: Callable = tf.nn.relu,
                        batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                        batch_norm_scale: bool = False) -> dict:
  """The arg scope of the Inception networks: He initialization, L2 weight decay, batch norm without scale.

  Args:
    weight_decay: L2 regularization weight of the convolution kernels.
    use_batch_norm: follow each convolution by batch norm.
    batch_norm_decay: decay of the batch norm moving averages.
    batch_norm_epsilon: added to the variance in batch norm.
    activation_fn: activation after each convolution.
    batch_norm_updates_collections: collection for the moving average updates (None: update in place).
    batch_norm_scale: whether batch norm learns a scale `gamma`.

  Returns:
    An arg scope to use with `slim.arg_scope`.
  """
  with layers.he_conv2d_scope(weight_decay, activation_fn, use_batch_norm, batch_norm_decay, batch_norm_epsilon,
                              batch_norm_scale, batch_norm_updates_collections) as (sc, _):
    return sc
