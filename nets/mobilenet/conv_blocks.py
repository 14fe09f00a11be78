"""MobileNet's convolution blocks, with research/slim's API (nets/mobilenet/conv_blocks.py) and names.

`expanded_conv` is MobileNet v2's inverted residual (Sandler et al., "MobileNetV2", arXiv:1801.04381): a 1x1
expansion 'expand', a depthwise convolution 'depthwise' and a linear 1x1 projection 'project', with the input
added back when the shapes allow. The tensors it names 'expansion_output', 'depthwise_output' and 'output' become
the network's inner end points ('layer_4/depthwise_output' is DeepLab's low-level feature of MobileNet v2).
MobileNet v3 (Howard et al., "Searching for MobileNetV3", arXiv:1905.02244) adds `squeeze_excite` inside the
block and `reduce_to_1x1`, the average pool of its head.
"""

import contextlib
import functools
import threading
from typing import Callable, Dict, Iterator, List, Optional

import tensorflow as tf
import tf_slim as slim

from nets import atrous
from nets import checks
from nets import layers

_COLLECTING = threading.local()  # .collectors: the open `collected_outputs` of this thread, innermost last


def _collectors() -> List[Dict[str, tf.Tensor]]:
  if not hasattr(_COLLECTING, 'collectors'):
    _COLLECTING.collectors = []
  return _COLLECTING.collectors


@contextlib.contextmanager
def collected_outputs() -> Iterator[Dict[str, tf.Tensor]]:
  """Collects, in order, the tensors the blocks built inside name with `named_output` ({name: tensor})."""
  collected: Dict[str, tf.Tensor] = {}
  _collectors().append(collected)
  try:
    yield collected
  finally:
    _collectors().pop()


def named_output(tensor: tf.Tensor, name: str, endpoints: Optional[dict] = None) -> tf.Tensor:
  """`tf.identity(tensor, name)`, recorded in `endpoints` (if given) and by the innermost `collected_outputs`."""
  tensor = tf.identity(tensor, name=name)
  if endpoints is not None:
    endpoints[name] = tensor
  if _collectors():
    _collectors()[-1][name] = tensor
  return tensor


fixed_padding = atrous.fixed_padding  # research/slim's conv_blocks._fixed_padding, for any kernel pair


def make_divisible(value: float, divisor: int, min_value: Optional[int] = None) -> int:
  """`value` rounded to the nearest multiple of `divisor` (at least `min_value`), never more than 10% below it."""
  floor = divisor if min_value is None else min_value
  rounded = max(floor, int(value + divisor / 2) // divisor * divisor)
  return rounded + divisor if rounded < 0.9 * value else rounded


def expand_input_by_factor(n: float, divisible_by: int = 8) -> Callable[..., int]:
  """An `expansion_size` for `expanded_conv`: the input channels times `n`, made divisible by `divisible_by`."""
  return lambda num_inputs, **_: make_divisible(num_inputs * n, divisible_by)


def _split_divisible(total: int, parts: int, divisible_by: int) -> List[int]:
  """`total` split into `parts` multiples of `divisible_by` whose running sums stay at or above an even split."""
  piece = total // parts // divisible_by * divisible_by
  sizes, running = [], 0
  for i in range(parts):
    size = piece
    while running + size < total * (i + 1) / parts:
      size += divisible_by
    sizes.append(size)
    running += size
  return sizes


def split_conv(input_tensor: tf.Tensor, num_outputs: int, num_ways: int, scope: str, divisible_by: int = 8,
               **kwargs) -> tf.Tensor:
  """A 1x1 convolution, or `num_ways` of them on channel groups, each group's input to its output only.

  The groups are `scope + '_part_<i>'`; with fewer than `divisible_by` channels per group on either side, one
  plain convolution `scope` is built instead.
  """
  channels = int(input_tensor.shape[-1])
  if num_ways == 1 or min(channels // num_ways, num_outputs // num_ways) < divisible_by:
    return layers.conv2d(input_tensor, num_outputs, [1, 1], scope=scope, **kwargs)
  if channels % divisible_by or num_outputs % divisible_by:
    raise ValueError(f'split_conv {scope!r}: {num_ways}-way splits need channels divisible by {divisible_by}, '
                     f'got {channels} inputs and {num_outputs} outputs')
  pieces = tf.split(input_tensor, _split_divisible(channels, num_ways, divisible_by), axis=3, name=f'split_{scope}')
  outputs = []
  for i, (piece, size) in enumerate(zip(pieces, _split_divisible(num_outputs, num_ways, divisible_by))):
    part = f'{scope}_part_{i}'
    outputs.append(named_output(layers.conv2d(piece, size, [1, 1], scope=part, **kwargs), f'{part}_output'))
  return tf.concat(outputs, 3, name=f'{scope}_concat')


_DEPTHWISE_LOCATIONS = (None, 'input', 'output', 'expansion')


@slim.add_arg_scope
def expanded_conv(input_tensor: tf.Tensor, num_outputs: int, expansion_size=expand_input_by_factor(6),
                  stride=1, rate=1, kernel_size=(3, 3), residual=True, normalizer_fn: Optional[Callable] = None,
                  split_projection: int = 1, split_expansion: int = 1, split_divisible_by: int = 8,
                  expansion_transform: Optional[Callable] = None, depthwise_location: Optional[str] = 'expansion',
                  depthwise_channel_multiplier: int = 1, endpoints: Optional[dict] = None,
                  use_explicit_padding: bool = False, padding: str = 'SAME',
                  inner_activation_fn: Optional[Callable] = None, depthwise_activation_fn: Optional[Callable] = None,
                  project_activation_fn: Optional[Callable] = tf.identity,
                  depthwise_fn: Callable = layers.separable_conv2d, expansion_fn: Callable = split_conv,
                  projection_fn: Callable = split_conv, scope=None) -> tf.Tensor:
  """The inverted residual block: 1x1 expansion, depthwise convolution, linear 1x1 projection (+ input).

  Args:
    input_tensor: `[batch, height, width, channels]`.
    num_outputs: channels of the projection, and of the block.
    expansion_size: channels of the expansion, or `f(num_inputs=channels) -> channels`; no expansion is built
      unless it exceeds the input channels.
    stride, rate: of the depthwise convolution (not both > 1).
    kernel_size: of the depthwise convolution.
    residual: add the input to the projection when the stride is 1 and the channels match; or
      `f(input_tensor=..., output_tensor=...) -> tensor` for a custom connection.
    normalizer_fn: after each convolution (e.g. batch norm).
    split_projection, split_expansion, split_divisible_by: group the 1x1 convolutions (see `split_conv`).
    expansion_transform: `f(expansion_tensor=..., input_tensor=...) -> tensor` applied after the depthwise step.
    depthwise_location: 'expansion' (MobileNet v2), 'input', 'output' or None (no depthwise convolution).
    depthwise_channel_multiplier: depthwise filters per channel.
    endpoints: optional dict receiving 'expansion_output', 'depthwise_output' and 'projection_output'.
    use_explicit_padding: pad explicitly and convolve VALID (outputs independent of input parity); needs
      padding 'SAME'.
    padding: of the depthwise convolution.
    inner_activation_fn: activation of the expansion and depthwise convolutions (default: the arg scope's);
      depthwise_activation_fn, when given, overrides it for the depthwise one.
    project_activation_fn: activation of the projection (linear by default).
    depthwise_fn, expansion_fn, projection_fn: the layers used; custom ones ignore the split options.
    scope: variable scope, default 'expanded_conv' (made unique).

  Returns:
    `[batch, height / stride, width / stride, num_outputs]`, named 'output'.

  Raises:
    ValueError: for an unknown `depthwise_location`, or `use_explicit_padding` with a padding other than 'SAME'.
  """
  if depthwise_location not in _DEPTHWISE_LOCATIONS:
    raise ValueError(f'expanded_conv: depthwise_location must be one of {list(_DEPTHWISE_LOCATIONS)}, '
                     f'got {depthwise_location!r}')
  if use_explicit_padding and padding != 'SAME':
    raise ValueError(f'expanded_conv: use_explicit_padding needs padding \'SAME\', got {padding!r}')
  conv_defaults, depthwise_defaults = {}, {}
  if inner_activation_fn is not None:
    conv_defaults['activation_fn'] = depthwise_defaults['activation_fn'] = inner_activation_fn
  if depthwise_activation_fn is not None:
    depthwise_defaults['activation_fn'] = depthwise_activation_fn
  depthwise_fn, expansion_fn, projection_fn = (layers.own_layer(f) for f in (depthwise_fn, expansion_fn,
                                                                           projection_fn))
  with tf.compat.v1.variable_scope(scope, default_name='expanded_conv'), \
      slim.arg_scope([layers.conv2d], **conv_defaults), \
      slim.arg_scope([layers.separable_conv2d], **depthwise_defaults):
    input_tensor = tf.identity(input_tensor, 'input')
    net = input_tensor

    def depthwise(x, **overrides):
      if use_explicit_padding:
        x = fixed_padding(x, kernel_size, rate)
      x = depthwise_fn(x, num_outputs=None, kernel_size=kernel_size, depth_multiplier=depthwise_channel_multiplier,
                       stride=stride, rate=rate, normalizer_fn=normalizer_fn,
                       padding='VALID' if use_explicit_padding else padding, scope='depthwise', **overrides)
      return named_output(x, 'depthwise_output', endpoints)

    def one_by_one(fn, x, size, name, splits, **options):
      if fn is split_conv:
        fn = functools.partial(split_conv, num_ways=splits, divisible_by=split_divisible_by, stride=1)
      return fn(x, size, scope=name, normalizer_fn=normalizer_fn, **options)

    if depthwise_location == 'input':
      net = depthwise(net, activation_fn=None)
    inner_size = expansion_size(num_inputs=int(net.shape[-1])) if callable(expansion_size) else expansion_size
    if inner_size > int(net.shape[-1]):
      net = named_output(one_by_one(expansion_fn, net, inner_size, 'expand', split_expansion), 'expansion_output',
                         endpoints)
    if depthwise_location == 'expansion':
      net = depthwise(net)
    if expansion_transform:
      net = expansion_transform(expansion_tensor=net, input_tensor=input_tensor)
    net = one_by_one(projection_fn, net, num_outputs, 'project', split_projection,
                     activation_fn=project_activation_fn)
    if endpoints is not None:
      endpoints['projection_output'] = net
    if depthwise_location == 'output':
      net = depthwise(net, activation_fn=None)
    if callable(residual):
      net = residual(input_tensor=input_tensor, output_tensor=net)
    elif residual and checks.int_pair(stride, 'stride') == (1, 1) and net.shape[-1] == input_tensor.shape[-1]:
      net += input_tensor
    return named_output(net, 'output')


@slim.add_arg_scope
def squeeze_excite(input_tensor: tf.Tensor, divisible_by: int = 8, squeeze_factor: float = 3,
                   inner_activation_fn: Optional[Callable] = tf.nn.relu, gating_fn: Optional[Callable] = tf.sigmoid,
                   squeeze_input_tensor: Optional[tf.Tensor] = None, pool: Optional[int] = None) -> tf.Tensor:
  """Squeeze-and-excitation (Hu et al., arXiv:1709.01507) under scope 'squeeze_excite': `input_tensor` scaled
  per channel by a gate computed from the average of `squeeze_input_tensor` (default: `input_tensor`) through a
  1x1 convolution 'Conv' to `channels / squeeze_factor` (made divisible by `divisible_by`) and a 1x1
  convolution 'Conv_1' back, both with biases and no normalizer.

  Args:
    pool: None averages the whole map; an int averages `pool` x `pool` windows of stride `pool` (where the map is
      at least that tall), and the gates are resized bilinearly back to the input's size.
  """
  with tf.compat.v1.variable_scope('squeeze_excite'):
    source = input_tensor if squeeze_input_tensor is None else squeeze_input_tensor
    height, width = checks.static_shape(source)[1:3]
    if pool is not None and height is not None and height >= pool:
      pooled = tf.nn.avg_pool2d(source, [1, pool, pool, 1], [1, pool, pool, 1], 'VALID')
    elif height is not None and width is not None:
      pooled = tf.nn.avg_pool2d(source, [1, height, width, 1], [1, 1, 1, 1], 'VALID')
    else:  # the same average, for maps of unknown size
      pooled = tf.reduce_mean(source, [1, 2], keepdims=True)
    squeezed = layers.conv2d(pooled, make_divisible(int(source.shape[-1]) / squeeze_factor, divisible_by), [1, 1],
                             normalizer_fn=None, activation_fn=inner_activation_fn)
    gates = layers.conv2d(squeezed, int(input_tensor.shape[-1]), [1, 1], normalizer_fn=None,
                          activation_fn=gating_fn)
    if pool is not None:
      gates = tf.compat.v1.image.resize_bilinear(gates, tf.shape(input_tensor)[1:3], align_corners=True)
    return input_tensor * gates


def reduce_to_1x1(input_tensor: tf.Tensor, default_size: int = 7, rate=None, use_explicit_padding: bool = False,
                  **kwargs) -> tf.Tensor:
  """MobileNet v3's head pool: an average pool over the whole map when it is square and of static size, else
  of `default_size` x `default_size` windows (research/slim's rule), narrowed to the map where it is smaller (where
  research/slim fails). `rate` and `use_explicit_padding`, which `mobilenet_base` hands every layer past the
  output stride or with explicit padding, do not apply to a pool over the map and are ignored (research/slim
  passes them on and fails at any `output_stride`). `**kwargs` go to the pool (stride, padding)."""
  del rate, use_explicit_padding
  height, width = checks.static_shape(input_tensor)[1:3]
  if height is not None and height == width:
    kernel = [height, height]
  else:
    kernel = [min(default_size, size) if size is not None else default_size for size in (height, width)]
  return layers.avg_pool2d(input_tensor, kernel_size=kernel, **kwargs)
