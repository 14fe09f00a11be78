"""ResNet v1 (He et al., "Deep Residual Learning for Image Recognition", arXiv:1512.03385).

The research/slim variant: the stride of each block sits on the 3x3 convolution of its *last* unit (not the
first, as in the paper), which gives the same network at the nominal stride but lets `output_stride` keep more
resolution. Typical use, with the published checkpoints' variable names:

    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, end_points = resnet_v1.resnet_v1_50(images, 1000, is_training=False)

For dense prediction, `resnet_v1_50(images, output_stride=16, global_pool=False)` returns features of shape
`[batch, ceil(h / 16), ceil(w / 16), 2048]`; inputs of size k * 16 + 1 keep the feature corners aligned with the
image corners.
"""

from typing import Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope


@slim.add_arg_scope
def bottleneck(inputs: tf.Tensor, depth: int, depth_bottleneck: int, stride: int, rate: int = 1,
               outputs_collections=None, scope: Optional[str] = None, use_bounded_activations: bool = False,
               unit_rate: int = 1) -> tf.Tensor:
  """A bottleneck residual unit: 1x1 reduce, 3x3 (strided, atrous), 1x1 expand, added to the shortcut.

  Batch norm and the activation follow each convolution through the arg scope; the last one is linear and the
  activation follows the addition.

  Args:
    inputs: `[batch, height, width, channels]`.
    depth: output channels.
    depth_bottleneck: channels of the 1x1 and 3x3 bottleneck convolutions.
    stride: stride of the unit, on the 3x3 convolution and the shortcut.
    rate: atrous rate of the 3x3 convolution, set by the stacker.
    outputs_collections: collections the output is added to.
    scope: variable scope, default 'bottleneck_v1'.
    use_bounded_activations: use relu6 after the addition and clip the residual to [-6, 6] (for quantization).
    unit_rate: multiplies `rate` (multi-grid).

  Returns:
    `[batch, ceil(height / stride), ceil(width / stride), depth]`.
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v1', [inputs]) as sc:
    if inputs.shape[-1] == depth:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = layers.conv2d(inputs, depth, [1, 1], stride=stride,
                               activation_fn=tf.nn.relu6 if use_bounded_activations else None, scope='shortcut')
    residual = layers.conv2d(inputs, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate * unit_rate, scope='conv2')
    residual = layers.conv2d(residual, depth, [1, 1], stride=1, activation_fn=None, scope='conv3')
    if use_bounded_activations:
      output = tf.nn.relu6(shortcut + tf.clip_by_value(residual, -6.0, 6.0))
    else:
      output = tf.nn.relu(shortcut + residual)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, output)


def _root(net: tf.Tensor) -> tf.Tensor:
  """7x7/2 convolution with batch norm and ReLU, then 3x3/2 max pool: stride 4."""
  net = resnet_utils.conv2d_same(net, 64, 7, stride=2, scope='conv1')
  return layers.max_pool2d(net, [3, 3], stride=2, scope='pool1')


def _no_postnorm(net: tf.Tensor) -> tf.Tensor:
  return net


def resnet_v1(inputs: tf.Tensor, blocks: Sequence[resnet_utils.Block], num_classes: Optional[int] = None,
              is_training: Optional[bool] = True, global_pool: bool = True, output_stride: Optional[int] = None,
              include_root_block: bool = True, spatial_squeeze: bool = True,
              store_non_strided_activations: bool = False, reuse=None, scope: Optional[str] = None):
  """ResNet v1 from a list of blocks.

  Args:
    inputs: `[batch, height, width, channels]` float tensor; height and width may be unknown.
    blocks: the `resnet_utils.Block`s, e.g. from `resnet_v1_block`.
    num_classes: None or 0 for no logits (features only), else the number of classes of a 1x1 logits layer.
    is_training: batch norm mode; None leaves it to the enclosing arg scope.
    global_pool: average the last features over height and width (keeping them as 1x1).
    output_stride: None for the nominal stride (32 with the root), or a smaller reachable stride; later
      units run atrous instead of strided.
    include_root_block: build 'conv1' and 'pool1' (stride 4) before the blocks.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`.
    reuse: reuse the variables of `scope`.
    scope: variable scope, default 'resnet_v1'.

  Returns:
    net: `[batch, num_classes]` logits with `num_classes` and `spatial_squeeze` (and a 1x1 output), else a
      `[batch, h, w, channels_or_classes]` tensor.
    end_points: ordered dict from end point names to tensors.

  Raises:
    ValueError: if `output_stride` cannot be reached, or if `spatial_squeeze` cannot squeeze logits built
      without `global_pool` at the static input size.
  """
  return resnet_utils.resnet(inputs, blocks, root_fn=_root, postnorm_fn=_no_postnorm, default_scope='resnet_v1',
                             num_classes=num_classes, is_training=is_training, global_pool=global_pool,
                             output_stride=output_stride, include_root_block=include_root_block,
                             spatial_squeeze=spatial_squeeze,
                             store_non_strided_activations=store_non_strided_activations, reuse=reuse, scope=scope)


resnet_v1.default_image_size = 224


def resnet_v1_block(scope: str, base_depth: int, num_units: int, stride: int) -> resnet_utils.Block:
  """A block of `num_units` v1 bottlenecks with output depth 4 * `base_depth`, the last one of stride `stride`."""
  return resnet_utils.Block(scope, bottleneck, resnet_utils.bottleneck_block_args(base_depth, num_units, stride))


def _resnet_v1_n(name: str, units: Sequence[int]):
  """Makes the public function of the ResNet v1 of depth given by `units` per block."""

  def network(inputs: tf.Tensor, num_classes: Optional[int] = None, is_training: Optional[bool] = True,
              global_pool: bool = True, output_stride: Optional[int] = None, spatial_squeeze: bool = True,
              store_non_strided_activations: bool = False, min_base_depth: int = 8, depth_multiplier: float = 1,
              reuse=None, scope: str = name, *, multi_grid: Optional[Sequence[int]] = None):
    blocks = resnet_utils.standard_blocks(resnet_v1_block, units, min_base_depth=min_base_depth,
                                          depth_multiplier=depth_multiplier, multi_grid=multi_grid)
    return resnet_v1(inputs, blocks, num_classes, is_training, global_pool, output_stride,
                     include_root_block=True, spatial_squeeze=spatial_squeeze,
                     store_non_strided_activations=store_non_strided_activations, reuse=reuse, scope=scope)

  network.__name__ = network.__qualname__ = name
  network.__doc__ = f"""{name}: ResNet v1 with {', '.join(map(str, units))} bottleneck units in blocks 1-4.

  Args are those of `resnet_v1`, plus:
    min_base_depth: smallest bottleneck depth after `depth_multiplier`.
    depth_multiplier: scales every block's depth (for thinner networks, e.g. in tests).
    multi_grid: None, or three rates multiplying the atrous rate of block4's 3x3 convolutions
      (DeepLab v3, arXiv:1706.05587).

  Returns:
    (net, end_points) as `resnet_v1`.
  """
  network.default_image_size = 224
  return network


resnet_v1_50 = _resnet_v1_n('resnet_v1_50', (3, 4, 6, 3))
resnet_v1_101 = _resnet_v1_n('resnet_v1_101', (3, 4, 23, 3))
resnet_v1_152 = _resnet_v1_n('resnet_v1_152', (3, 8, 36, 3))
resnet_v1_200 = _resnet_v1_n('resnet_v1_200', (3, 24, 36, 3))
