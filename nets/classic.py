"""The plain convolutional classifiers of research/slim (VGG, AlexNet v2, OverFeat), each written as data.

A network is a trunk of convolutions and 'VALID' max pools, then its fully connected layers as convolutions:
`fc6`, a k x k convolution ('VALID' by default, so the last pool must be at least k x k), `fc7` (1x1) and the
logits `fc8` (1x1), with dropout before fc7 and fc8. Applied to a larger image the same variables give a map
of logits (the FCN use: `spatial_squeeze=False`); `global_pool=True` averages fc7 first, for one prediction per
image at any size from the minimum up.

`nets.vgg`, `nets.alexnet` and `nets.overfeat` expose these with research/slim's functions, arguments, scope,
end point and variable names; `minimum_input_size` and `output_size` walk the same layer specs the networks
are built from, and every size the specs refute is a `ValueError` before anything is created.
"""

import collections
import contextlib
import dataclasses
import itertools
import numbers
from typing import Dict, Optional, Sequence, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers

Conv = collections.namedtuple('Conv', ['scope', 'depth', 'kernel', 'stride', 'padding'])
Conv.__new__.__defaults__ = (1, None)  # stride 1, the arg scope's padding ('SAME')
Pool = collections.namedtuple('Pool', ['scope', 'kernel', 'stride'])  # a 'VALID' max pool

_MIN_DEPTH = 8  # the fewest channels a layer keeps under `depth_multiplier`


@dataclasses.dataclass(frozen=True)
class Design:
  """One network: its default scope (also its name), trunk, fully connected layers and their initializers.

  Attributes:
    name: e.g. 'vgg_16'.
    trunk: the `Conv` and `Pool` layers in order; a conv scope with a '/' ('conv1/conv1_1') is one of
      research/slim's `slim.repeat` groups.
    fc6: (channels, kernel) of the first fully connected layer as a convolution.
    fc7: channels of the second.
    head_initializers: AlexNet and OverFeat initialize fc6 and fc7 with a truncated normal of stddev 0.005 and
      biases of 0.1, and fc8's biases with zeros; VGG keeps the arg scope's.
    fc_conv_padding_option: whether the function takes `fc_conv_padding` (VGG does).
  """
  name: str
  trunk: Tuple[object, ...]
  fc6: Tuple[int, int]
  fc7: int
  head_initializers: bool = False
  fc_conv_padding_option: bool = False


def vgg_trunk(convs_per_group: Sequence[int]) -> Tuple[object, ...]:
  """VGG's five groups of 3x3 'SAME' convolutions, each followed by a 2x2/2 max pool."""
  trunk = []
  for group, (count, depth) in enumerate(zip(convs_per_group, (64, 128, 256, 512, 512)), start=1):
    trunk += [Conv(f'conv{group}/conv{group}_{i}', depth, 3) for i in range(1, count + 1)]
    trunk.append(Pool(f'pool{group}', 2, 2))
  return tuple(trunk)


def _axis_size(layer, size: int) -> int:
  """The size along one axis of a layer's output on a map of `size` (SAME convs: ceil(size / stride))."""
  if isinstance(layer, Conv) and layer.padding != 'VALID':
    return -(-size // layer.stride)
  return (size - layer.kernel) // layer.stride + 1


def trunk_sizes(design: Design, size: int) -> Dict[str, int]:
  """The size along one axis of every trunk layer's output for an input of `size` (below 1: cannot build)."""
  sizes = {}
  for layer in design.trunk:
    size = sizes[layer.scope] = _axis_size(layer, size) if size >= 1 else 0
  return sizes


def output_size(design: Design, size: int, fc_conv_padding: str = 'VALID') -> int:
  """The size along one axis of fc6, fc7 and (without global pooling) the logits, for an input of `size`."""
  last = trunk_sizes(design, size)[design.trunk[-1].scope]
  if last < 1:
    return last
  return last if fc_conv_padding == 'SAME' else last - design.fc6[1] + 1


def minimum_input_size(design: Design, fc_conv_padding: str = 'VALID') -> int:
  """The smallest input height (or width) at which the trunk and fc6 build."""
  size = 1
  while output_size(design, size, fc_conv_padding) < 1:
    size += 1
  return size


def _size_text(axes) -> str:
  return 'x'.join('?' if n is None else str(n) for n in axes)


def _check_arguments(design: Design, inputs, num_classes, dropout_keep_prob, fc_conv_padding, depth_multiplier,
                     spatial_squeeze: bool, global_pool: bool) -> Optional[int]:
  """Every check of the arguments and of the known input size, before anything is created."""
  caller = design.name
  checks.check_images(inputs, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  checks.check_depth_multiplier(depth_multiplier, caller)
  if not tf.is_tensor(dropout_keep_prob) and (isinstance(dropout_keep_prob, bool) or not isinstance(
      dropout_keep_prob, numbers.Real) or not 0 < dropout_keep_prob <= 1):
    raise ValueError(f'{caller}: dropout_keep_prob must be a number in (0, 1] (or a scalar tensor), got '
                     f'{dropout_keep_prob!r}')
  if fc_conv_padding not in ('SAME', 'VALID'):
    raise ValueError(f"{caller}: fc_conv_padding must be 'VALID' (fc6 sees the whole {design.fc6[1]}x"
                     f"{design.fc6[1]} map, as in training) or 'SAME' (a prediction map at stride 32), got "
                     f'{fc_conv_padding!r}')
  axes = checks.static_shape(inputs)[1:3]
  known = [n for n in axes if n is not None]
  minimum = minimum_input_size(design, fc_conv_padding)
  if known and min(known) < minimum:
    kernel = design.fc6[1]
    last = design.trunk[-1].scope
    hint, option = '', ''
    if design.fc_conv_padding_option:
      same = minimum_input_size(design, 'SAME')
      option = " (fc_conv_padding='VALID')"
      hint = f"; fc_conv_padding='SAME' builds from {same}x{same}" if fc_conv_padding == 'VALID' else ''
    sizes = [max(trunk_sizes(design, n)[last], 0) if n is not None else None for n in axes]
    if fc_conv_padding == 'VALID':
      why = f'they give a {_size_text(sizes)} {last}, and fc6 is a {kernel}x{kernel} VALID convolution{option}'
    else:
      why = 'the VALID max pools of the trunk leave nothing of them'
    raise ValueError(f'{caller}: inputs of {_size_text(axes)} are too small: {why}; it needs inputs of at least '
                     f'{minimum}x{minimum}{hint}; resize or pad the images')
  if num_classes and spatial_squeeze and not global_pool:
    logits = [output_size(design, n, fc_conv_padding) if n is not None else None for n in axes]
    if any(n not in (None, 1) for n in logits):
      raise ValueError(f'{caller}: inputs of {_size_text(axes)} give {_size_text(logits)} logits (fc8) without '
                       'global pooling, which spatial_squeeze=True cannot squeeze to [batch, num_classes]; pass '
                       'global_pool=True (one prediction per image at any size, same variables) or '
                       'spatial_squeeze=False (a map of predictions, as FCN)')
  return num_classes


def build(design: Design, inputs: tf.Tensor, num_classes: Optional[int], is_training, dropout_keep_prob: float,
          spatial_squeeze: bool, scope: Optional[str], fc_conv_padding: str, global_pool: bool,
          depth_multiplier: float = 1.0):
  """Builds `design` as research/slim's function of that name does; see `nets.vgg.vgg_16` for the arguments.

  Returns:
    (net, end_points): the logits (`[batch, num_classes]` squeezed) with classes, else fc7 (globally pooled
    with `global_pool`); end points named '<scope>/conv1', ..., '<scope>/fc8' (and 'global_pool').
  """
  num_classes = _check_arguments(design, inputs, num_classes, dropout_keep_prob, fc_conv_padding,
                                 depth_multiplier, spatial_squeeze, global_pool)
  depth = lambda channels: max(int(channels * depth_multiplier), _MIN_DEPTH)
  end_points = {}
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, design.name, [inputs]) as sc:
    net = inputs
    for group, members in itertools.groupby(design.trunk, key=lambda layer: layer.scope.rpartition('/')[0]):
      with tf.compat.v1.variable_scope(group) if group else contextlib.nullcontext():
        for layer in members:
          name = layer.scope.rpartition('/')[2]
          if isinstance(layer, Pool):
            net = layers.max_pool2d(net, layer.kernel, stride=layer.stride, padding='VALID', scope=name)
          else:
            options = {'padding': layer.padding} if layer.padding else {}
            net = layers.conv2d(net, depth(layer.depth), layer.kernel, stride=layer.stride, scope=name, **options)
          end_points[f'{sc.name}/{layer.scope}'] = net
    fc_options = {}
    if design.head_initializers:
      fc_options = {'weights_initializer': tf.compat.v1.truncated_normal_initializer(0.0, 0.005),
                    'biases_initializer': tf.compat.v1.constant_initializer(0.1)}
    channels, kernel = design.fc6
    net = end_points[f'{sc.name}/fc6'] = layers.conv2d(net, depth(channels), kernel, padding=fc_conv_padding,
                                                       scope='fc6', **fc_options)
    net = layers.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout6')
    net = end_points[f'{sc.name}/fc7'] = layers.conv2d(net, depth(design.fc7), 1, scope='fc7', **fc_options)
    if global_pool:
      net = end_points['global_pool'] = tf.reduce_mean(net, [1, 2], keepdims=True, name='global_pool')
    if not num_classes:
      return net, end_points
    net = layers.dropout(net, dropout_keep_prob, is_training=is_training, scope='dropout7')
    logits_options = {'biases_initializer': tf.compat.v1.zeros_initializer()} if design.head_initializers else {}
    net = layers.conv2d(net, num_classes, 1, activation_fn=None, normalizer_fn=None, scope='fc8', **logits_options)
    if spatial_squeeze:
      net = tf.squeeze(net, [1, 2], name='fc8/squeezed')
    end_points[f'{sc.name}/fc8'] = net
  return net, end_points


_FUNCTION_DOC = """{summary} (see the module docstring).

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least {minimum}; height and width may be
      unknown.
    num_classes: classes of the logits fc8; None or 0 returns fc7 (globally pooled with `global_pool`).
    is_training: dropout mode (a python bool or a scalar bool tensor).
    dropout_keep_prob: keep probability of the dropout before fc7 and fc8 (a number or a scalar tensor).
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    scope: variable scope.{padding}
    global_pool: average fc7 over all positions before the logits.
    depth_multiplier: scales the channels of every layer but the logits (at least {min_depth}).

  Returns:
    (net, end_points): the logits (`[batch, num_classes]` when squeezed) or fc7, and an ordered dict of the
    end points '{name}/{first}', ..., '{name}/{last}', '{name}/fc6', '{name}/fc7' (and 'global_pool',
    '{name}/fc8').

  Raises:
    ValueError: for a known input size below the minimum, logits that `spatial_squeeze` cannot squeeze at
      it, or a bad argument; nothing is created then.
  """


def network_function(design: Design, default_image_size: int, summary: str):
  """research/slim's function for `design`: `vgg_16(inputs, num_classes=1000, is_training=True,
  dropout_keep_prob=0.5, spatial_squeeze=True, scope='vgg_16', fc_conv_padding='VALID', global_pool=False)`,
  without `fc_conv_padding` where research/slim has none (AlexNet v2, OverFeat), and with the keyword-only
  `depth_multiplier`; `summary` opens its docstring."""
  if design.fc_conv_padding_option:
    def network(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training=True, dropout_keep_prob=0.5,
                spatial_squeeze: bool = True, scope: str = design.name, fc_conv_padding: str = 'VALID',
                global_pool: bool = False, *, depth_multiplier: float = 1.0):
      return build(design, inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze, scope,
                   fc_conv_padding, global_pool, depth_multiplier)
  else:
    def network(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training=True, dropout_keep_prob=0.5,
                spatial_squeeze: bool = True, scope: str = design.name, global_pool: bool = False, *,
                depth_multiplier: float = 1.0):
      return build(design, inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze, scope, 'VALID',
                   global_pool, depth_multiplier)

  minimum = minimum_input_size(design)
  minimum_text = f'{minimum}x{minimum}'
  padding = ''
  if design.fc_conv_padding_option:
    same = minimum_input_size(design, 'SAME')
    minimum_text += f" ({same}x{same} with fc_conv_padding='SAME')"
    padding = "\n    fc_conv_padding: 'VALID' (fc6 as the fully connected layer it was trained as) or 'SAME'."
  network.__name__ = network.__qualname__ = design.name
  network.__doc__ = _FUNCTION_DOC.format(summary=summary, minimum=minimum_text, padding=padding,
                                         min_depth=_MIN_DEPTH, name=design.name, first=design.trunk[0].scope,
                                         last=design.trunk[-1].scope)
  network.default_image_size = default_image_size
  return network


def arg_scope_function(biases: float, network: str, function_name: str):
  """research/slim's `<function_name>(weight_decay=0.0005)` of a network without batch norm, over `arg_scope`."""

  def network_arg_scope(weight_decay: float = 0.0005, *, batch_norm_updates_collections=None) -> dict:
    del batch_norm_updates_collections
    return arg_scope(weight_decay, biases)

  network_arg_scope.__name__ = network_arg_scope.__qualname__ = function_name
  network_arg_scope.__doc__ = (
      f"The arg scope of {network}: ReLU, L2 weight decay `weight_decay`, biases of {biases}, 'SAME' convolutions."
      f'\n\n  `batch_norm_updates_collections` is taken as every arg scope of the factory takes it; {network} has '
      'no batch norm.\n  ')
  return network_arg_scope


def arg_scope(weight_decay: float, biases: float) -> dict:
  """The arg scope the three share: ReLU, L2 weight decay, constant biases, 'SAME' convolutions.

  Args:
    weight_decay: L2 regularization weight of the kernels of the convolutions (and fully connected layers).
    biases: the biases' initial value (0 for VGG and OverFeat, 0.1 for AlexNet).
  """
  with layers.BUILD_LOCK, slim.arg_scope([layers.conv2d, layers.fully_connected], activation_fn=tf.nn.relu,
                                         weights_regularizer=slim.l2_regularizer(weight_decay),
                                         biases_initializer=tf.compat.v1.constant_initializer(biases)):
    with slim.arg_scope([layers.conv2d], padding='SAME'):
      with slim.arg_scope([layers.max_pool2d], padding='VALID') as scope:
        return scope
