"""What the Inception networks share: their arg scope, and the layer specs they are written in.

`inception_arg_scope` is research/slim's common Inception arg scope (He initialization, L2 weight decay,
batch norm without scale after every convolution). The networks are data: a layer is `conv(...)` or
`pool(...)`, a "Mixed" block a list of parallel branches (lists of layers) concatenated on the channel axis,
and `fork(...)` parallel convolutions inside a branch. `apply` and `block` build them with research/slim's
scopes (`Mixed_5b/Branch_1/Conv2d_0b_5x5`), and `layer_size` / `block_size` compute the sizes the same specs
give, so each network's minimum input size and its checks come from what it builds. The heads Inception v4 and
Inception-ResNet v2 share (a global average, an auxiliary classifier whose kernel covers its pooled map) and
their checks are here too.
"""

from typing import Callable, Optional, Sequence, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers


def conv(depth: int, kernel, name: str, stride: int = 1, padding: Optional[str] = None,
         stddev: Optional[float] = None) -> tuple:
  """A convolution (with the arg scope's batch norm and activation); padding None: the enclosing scope's;
  `stddev`: a truncated normal initializer of its own instead of the arg scope's (Inception v2 has many)."""
  return ('conv', depth, kernel, name, stride, padding, stddev)


def pool(kind: str, kernel, name: str, stride: int = 1, padding: Optional[str] = None) -> tuple:
  """A 'max' or 'avg' pool."""
  return (kind, None, kernel, name, stride, padding, None)


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
  _, _, kernel, _, stride, own_padding, _ = layer
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
  kind, channels, kernel, name, stride, padding, stddev = layer
  options = {'stride': stride, 'scope': name}
  if padding is not None:
    options['padding'] = padding
  if stddev is not None:
    options['weights_initializer'] = tf.compat.v1.truncated_normal_initializer(0.0, stddev)
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


def is_block(item) -> bool:
  """Whether a stack item is a Mixed block `(name, branches)` rather than a layer spec."""
  return len(item) == 2 and isinstance(item[1], list)


def item_name(item) -> str:
  """The end point (and scope) name of a stack item: a block's name or a layer's."""
  return item[0] if is_block(item) else name_of(item)


def stack_sizes(items: Sequence, size: int, axis: int, padding: str = 'SAME') -> dict:
  """Sizes along `axis` of the end points of a stack (layers and Mixed blocks in order) on a map of `size`;
  `padding` is that of the layers that do not name one (below 1: cannot be built)."""
  sizes = {}
  for item in items:
    size = sizes[item_name(item)] = (block_size(item[1], size, axis, padding) if is_block(item)
                                     else layer_size(item, size, axis, padding))
  return sizes


def build_stack(items: Sequence, net: tf.Tensor, depth: Callable[[int], int], end_points: dict,
                final_endpoint: str) -> Tuple[tf.Tensor, bool]:
  """Builds a stack on `net`, each item's output an end point; stops after `final_endpoint`.

  Returns:
    (the last output, whether `final_endpoint` was reached).
  """
  for item in items:
    name = item_name(item)
    net = end_points[name] = block(name, item[1], net, depth) if is_block(item) else apply(item, net, depth)
    if name == final_endpoint:
      return net, True
  return net, False


def depth_rule(depth_multiplier: float, min_depth: int) -> Callable[[int], int]:
  """Maps a convolution's nominal channels to its channels under `depth_multiplier`, at least `min_depth`."""
  return lambda channels: max(int(channels * depth_multiplier), min_depth)


def _text(values) -> str:
  return 'x'.join('?' if n is None else str(n) for n in values)


AUX_POOL = (5, 3)  # the auxiliary heads' VALID average pool of Inception v4 and Inception-ResNet v2


def minimum_input_size(end_point_sizes: Callable[[int], dict], end_points: Sequence[str], final_endpoint: str,
                       aux_on: Optional[str] = None) -> int:
  """Smallest input height (or width) at which every end point up to `final_endpoint` is at least 1x1 (and, with
  `aux_on`, that end point fits the auxiliary head's 5x5/3 VALID pool), from `end_point_sizes(size)`."""
  names = end_points[:end_points.index(final_endpoint) + 1]
  size = 1
  while True:
    sizes = end_point_sizes(size)
    if all(sizes[name] >= 1 for name in names) and (aux_on is None or sizes[aux_on] >= AUX_POOL[0]):
      return size
    size += 1


def check_base(inputs, final_endpoint: str, end_points: Sequence[str], depth_multiplier, minimum: int,
               caller: str, hint: str = '') -> None:
  """The checks of a `*_base` function: inputs, `final_endpoint`, `depth_multiplier`, the known input size."""
  checks.check_images(inputs, caller)
  checks.check_depth_multiplier(depth_multiplier, caller)
  if final_endpoint not in end_points:
    raise ValueError(f'{caller}: final_endpoint must be one of {list(end_points)}, got {final_endpoint!r}')
  axes = checks.static_shape(inputs)[1:3]
  if any(n is not None and n < minimum for n in axes):
    raise ValueError(f'{caller}: inputs of {_text(axes)} are too small: the VALID convolutions and pools up to '
                     f'{final_endpoint} need at least {minimum}x{minimum}; resize or pad the images{hint}')


def check_head(inputs, num_classes, global_pool: bool, aux_logits: bool, minimum: int, aux_minimum: int,
               aux_on: str, caller: str) -> None:
  """The checks of a classifier whose head pools globally and whose auxiliary head's kernel follows its map."""
  if num_classes and not global_pool:
    raise ValueError(f'{caller}: global_pool=False is for features only (num_classes None or 0): its head '
                     'averages the last features over their whole extent before the fully connected logits, got '
                     f'num_classes={num_classes!r}')
  if not aux_logits:
    return
  axes = checks.static_shape(inputs)[1:3]
  if None in axes:
    raise ValueError(f'{caller}: inputs of {_text(axes)}: the auxiliary head (create_aux_logits=True) needs a known '
                     'height and width (its last convolution covers the whole pooled map); pass '
                     'create_aux_logits=False for unknown sizes')
  if min(axes) < aux_minimum:
    raise ValueError(f'{caller}: inputs of {_text(axes)} are too small for the auxiliary head '
                     f'(create_aux_logits=True), whose 5x5/3 VALID average pool needs {aux_on} of at least 5x5, i.e. '
                     f'inputs of at least {aux_minimum}x{aux_minimum}; pass create_aux_logits=False to go down to '
                     f'{minimum}x{minimum}')


def aux_logits(net: tf.Tensor, num_classes: int, depth: Callable[[int], int], scopes: Sequence[str]) -> tf.Tensor:
  """The auxiliary classifier of Inception v4 and Inception-ResNet v2, in scope 'AuxLogits': 5x5/3 VALID
  average pool, 1x1 convolution, a VALID convolution covering the pooled map, fully connected logits; `scopes`
  names the four."""
  pool_scope, conv_scope, cover_scope, logits_scope = scopes
  with tf.compat.v1.variable_scope('AuxLogits'):
    net = layers.avg_pool2d(net, AUX_POOL[0], stride=AUX_POOL[1], padding='VALID', scope=pool_scope)
    net = layers.conv2d(net, depth(128), 1, scope=conv_scope)
    net = layers.conv2d(net, depth(768), checks.static_shape(net)[1:3], padding='VALID', scope=cover_scope)
    return layers.fully_connected(layers.flatten(net), num_classes, activation_fn=None, scope=logits_scope)


def pooled_logits(net: tf.Tensor, num_classes: Optional[int], dropout_keep_prob, end_points: dict, pool_scope: str,
                  dropout_scope: str, flatten_first: bool, flatten_scope: Optional[str] = None) -> tf.Tensor:
  """The classifier of Inception v4 and Inception-ResNet v2, in scope 'Logits': `net` averaged over its whole
  extent ('global_pool'), then, with classes, dropout and flattening ('PreLogitsFlatten'; Inception-ResNet v2
  flattens first), fully connected 'Logits' and their softmax 'Predictions'.

  Returns:
    The logits, or the pooled features without classes.
  """
  with tf.compat.v1.variable_scope('Logits'):
    net = end_points['global_pool'] = average_all(net, pool_scope)
    if not num_classes:
      return net
    if flatten_first:
      net = layers.dropout(layers.flatten(net), dropout_keep_prob, scope=dropout_scope)
    else:
      net = layers.flatten(layers.dropout(net, dropout_keep_prob, scope=dropout_scope), scope=flatten_scope)
    end_points['PreLogitsFlatten'] = net
    logits = end_points['Logits'] = layers.fully_connected(net, num_classes, activation_fn=None, scope='Logits')
    end_points['Predictions'] = tf.nn.softmax(logits, name='Predictions')
    return logits


def average_all(net: tf.Tensor, scope: str) -> tf.Tensor:
  """`net` averaged over its whole extent, keeping 1x1: a VALID average pool of its size where that is known
  (research/slim's choice), else a mean named 'global_pool'."""
  kernel = checks.static_shape(net)[1:3]
  if None not in kernel:
    return layers.avg_pool2d(net, kernel, padding='VALID', scope=scope)
  return tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')


def inception_arg_scope(weight_decay: float = 0.00004, use_batch_norm: bool = True, batch_norm_decay: float = 0.9997,
                        batch_norm_epsilon: float = 0.001, activation_fn: Callable = tf.nn.relu,
                        batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS,
                        batch_norm_scale: bool = False) -> dict:
  """The arg scope of the Inception networks: He initialization, L2 weight decay (of the fully connected layers'
  kernels too), batch norm without scale after each convolution.

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
  regularizer = slim.l2_regularizer(weight_decay)
  with layers.BUILD_LOCK, slim.arg_scope([layers.fully_connected], weights_regularizer=regularizer):
    with layers.he_conv2d_scope(weight_decay, activation_fn, use_batch_norm, batch_norm_decay, batch_norm_epsilon,
                                batch_norm_scale, batch_norm_updates_collections) as (sc, _):
      return sc
