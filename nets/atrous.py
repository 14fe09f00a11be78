"""Atrous (dilated) stacking of strided units, shared by every family that supports `output_stride`.

A network body is described as a list of `Block`s, each a unit function applied once per dict of arguments.
`stack_blocks_dense` walks that list and, once the requested `output_stride` is reached, runs the remaining
units at stride 1 with an atrous rate equal to the product of the strides skipped, so a network trained for
classification yields denser features with the same variables (Chen et al., "DeepLab", arXiv:1606.00915).
ResNet v1/v2, ResNet v1 beta and Xception all stack their blocks this way.
"""

import collections
from typing import Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers


class Block(collections.namedtuple('Block', ['scope', 'unit_fn', 'args'])):
  """A ResNet block: `unit_fn` applied once per dict of keyword arguments in `args`, in variable scope `scope`.

  `args` is a list with one dict per unit, e.g. `{'depth': 256, 'depth_bottleneck': 64, 'stride': 1}`.
  """


def subsample(inputs: tf.Tensor, factor: int, scope: Optional[str] = None) -> tf.Tensor:
  """Keeps every `factor`-th row and column of `inputs` (a 1x1 max pool), or returns `inputs` if `factor` is 1."""
  if factor == 1:
    return inputs
  return layers.max_pool2d(inputs, [1, 1], stride=factor, scope=scope)


def fixed_padding(inputs: tf.Tensor, kernel_size, rate: int = 1) -> tf.Tensor:
  """`inputs` padded by the total extent of an (atrous) kernel, split evenly with the extra pixel at the end:
  a VALID convolution of the result gives what SAME gives at stride 1, for any input size.

  `kernel_size` is an int or an (h, w) pair.
  """
  pads = []
  for k in checks.int_pair(kernel_size, 'kernel_size'):
    total = (k - 1) * rate
    pads.append([total // 2, total - total // 2])
  return tf.pad(inputs, [[0, 0], *pads, [0, 0]])


def conv2d_same(inputs: tf.Tensor, num_outputs: int, kernel_size: int, stride: int, rate: int = 1,
                scope: Optional[str] = None) -> tf.Tensor:
  """A convolution whose output does not depend on the input size's parity.

  With stride 1 this is a 'SAME' convolution. With a larger stride the input is padded explicitly by the
  total padding of the (atrous) kernel, split evenly with the extra pixel at the end, and convolved 'VALID'.
  The result equals a stride-1 'SAME' convolution subsampled by `stride`, for any input size, which a strided
  'SAME' convolution does not guarantee.

  Args:
    inputs: `[batch, height, width, channels]`.
    num_outputs: output channels.
    kernel_size: odd or even square kernel size.
    stride: output stride of the convolution.
    rate: atrous rate.
    scope: variable scope.

  Returns:
    `[batch, ceil(height / stride), ceil(width / stride), num_outputs]`.
  """
  if stride == 1:
    return layers.conv2d(inputs, num_outputs, kernel_size, stride=1, rate=rate, padding='SAME', scope=scope)
  return layers.conv2d(fixed_padding(inputs, kernel_size, rate), num_outputs, kernel_size, stride=stride, rate=rate, padding='VALID', scope=scope)


def reachable_output_strides(blocks: Sequence[Block], root_stride: int) -> list:
  """Output strides a network can be built at: the stride after the root and after each strided unit."""
  strides = [root_stride]
  for block in blocks:
    for unit in block.args:
      if unit.get('stride', 1) > 1:
        strides.append(strides[-1] * unit['stride'])
  return strides


@slim.add_arg_scope
def stack_blocks_dense(net: tf.Tensor, blocks: Sequence[Block], output_stride: Optional[int] = None,
                       store_non_strided_activations: bool = False, outputs_collections=None) -> tf.Tensor:
  """Applies the ResNet `blocks` to `net`, atrous past `output_stride`.

  The stride is counted from the input of `net` (not of the network). While it is below `output_stride`,
  units run as described; once it reaches it, each further unit runs with stride 1 and the 3x3 convolutions
  get an atrous rate equal to the product of the strides skipped so far, so the receptive field is unchanged.
  A unit can scale its own rate with a `unit_rate` argument (multi-grid, arXiv:1706.05587).

  Args:
    net: `[batch, height, width, channels]`.
    blocks: the `Block`s to apply, in order.
    output_stride: None for the nominal stride, or the stride of the output relative to `net`'s input.
    store_non_strided_activations: run each block's last unit at stride 1 and subsample after it, so the block's
      end point keeps the full resolution (useful for feature pyramids); the next block still sees the
      subsampled tensor.
    outputs_collections: collections the output of each unit and block is added to.

  Returns:
    The output of the last block.

  Raises:
    ValueError: if `output_stride` cannot be reached with these blocks.
  """
  current_stride = 1
  rate = 1
  for block in blocks:
    with tf.compat.v1.variable_scope(block.scope, 'block', [net]) as sc:
      block_stride = 1
      for i, unit in enumerate(block.args):
        if store_non_strided_activations and i == len(block.args) - 1:
          block_stride = unit.get('stride', 1)
          unit = dict(unit, stride=1)
        with tf.compat.v1.variable_scope('unit_%d' % (i + 1), values=[net]):
          if output_stride is not None and current_stride == output_stride:
            net = block.unit_fn(net, rate=rate, **dict(unit, stride=1))
            rate *= unit.get('stride', 1)
          else:
            net = block.unit_fn(net, rate=1, **unit)
            current_stride *= unit.get('stride', 1)
            _check_not_past(current_stride, output_stride)
      net = slim.utils.collect_named_outputs(outputs_collections, sc.name, net)
      if output_stride is not None and current_stride == output_stride:
        rate *= block_stride
      else:
        net = subsample(net, block_stride)
        current_stride *= block_stride
        _check_not_past(current_stride, output_stride)
  if output_stride is not None and current_stride != output_stride:
    raise ValueError(f'output_stride {output_stride} cannot be reached: the blocks end at stride {current_stride}')
  return net


def _check_not_past(current_stride: int, output_stride: Optional[int]) -> None:
  if output_stride is not None and current_stride > output_stride:
    raise ValueError(f'output_stride {output_stride} cannot be reached: the blocks jump to stride {current_stride}')


def check_output_stride(output_stride: Optional[int], allowed: Sequence[int], caller: str) -> None:
  """Raises ValueError naming `caller` unless `output_stride` is None or one of `allowed` (ascending)."""
  valid_type = isinstance(output_stride, int) and not isinstance(output_stride, bool)
  if output_stride is not None and (not valid_type or output_stride not in allowed):
    raise ValueError(f'{caller}: output_stride must be None (nominal, {allowed[-1]}) or one of {list(allowed)}, '
                     f'got {output_stride!r}')
