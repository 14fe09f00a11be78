"""ResNet v2, the pre-activation ResNet (He et al., "Identity Mappings in Deep Residual Networks", arXiv:1603.05027).

Batch norm and ReLU come before each convolution ('preact'), the shortcut is a pure identity or projection,
and a final batch norm ('postnorm') follows the last block. As in research/slim, each block's stride is on its
last unit, the root convolution has biases and no batch norm, and the published checkpoints expect inputs in
[-1, 1]. Typical use:

    with slim.arg_scope(resnet_v2.resnet_arg_scope()):
      net, end_points = resnet_v2.resnet_v2_50(images, 1001, is_training=False)
"""

from typing import Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets import resnet_utils

resnet_arg_scope = resnet_utils.resnet_arg_scope


@slim.add_arg_scope
def bottleneck(inputs: tf.Tensor, depth: int, depth_bottleneck: int, stride: int, rate: int = 1,
               outputs_collections=None, scope: Optional[str] = None, unit_rate: int = 1) -> tf.Tensor:
  """A pre-activation bottleneck unit: BN-ReLU, then 1x1, 3x3 (strided, atrous), 1x1, added to the shortcut.

  Args:
    inputs: `[batch, height, width, channels]`.
    depth: output channels.
    depth_bottleneck: channels of the 1x1 and 3x3 bottleneck convolutions.
    stride: stride of the unit, on the 3x3 convolution and the shortcut.
    rate: atrous rate of the 3x3 convolution, set by the stacker.
    outputs_collections: collections the output is added to.
    scope: variable scope, default 'bottleneck_v2'.
    unit_rate: multiplies `rate` (multi-grid).

  Returns:
    `[batch, ceil(height / stride), ceil(width / stride), depth]`, not activated.
  """
  with tf.compat.v1.variable_scope(scope, 'bottleneck_v2', [inputs]) as sc:
    preact = layers.batch_norm(inputs, activation_fn=tf.nn.relu, scope='preact')
    if inputs.shape[-1] == depth:
      shortcut = resnet_utils.subsample(inputs, stride, 'shortcut')
    else:
      shortcut = layers.conv2d(preact, depth, [1, 1], stride=stride, normalizer_fn=None, activation_fn=None,
                               scope='shortcut')
    residual = layers.conv2d(preact, depth_bottleneck, [1, 1], stride=1, scope='conv1')
    residual = resnet_utils.conv2d_same(residual, depth_bottleneck, 3, stride, rate=rate * unit_rate, scope='conv2')
    residual = layers.conv2d(residual, depth, [1, 1], stride=1, normalizer_fn=None, activation_fn=None,
                             scope='conv3')
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, shortcut + residual)


def _root(net: tf.Tensor) -> tf.Tensor:
  """7x7/2 linear convolution with biases (its normalization is the first unit's preact), 3x3/2 max pool."""
  with slim.arg_scope([layers.conv2d], activation_fn=None, normalizer_fn=None):
    net = resnet_utils.conv2d_same(net, 64, 7, stride=2, scope='conv1')
  return layers.max_pool2d(net, [3, 3], stride=2, scope='pool1')


def _postnorm(net: tf.Tensor) -> tf.Tensor:
  return layers.batch_norm(net, activation_fn=tf.nn.relu, scope='postnorm')


def resnet_v2(inputs: tf.Tensor, blocks: Sequence[resnet_utils.Block], num_classes: Optional[int] = None,
              is_training: Optional[bool] = True, global_pool: bool = True, output_stride: Optional[int] = None,
              include_root_block: bool = True, spatial_squeeze: bool = True, reuse=None,
              scope: Optional[str] = None, *, store_non_strided_activations: bool = False):
  """ResNet v2 from a list of blocks.

  Args:
    inputs: `[batch, height, width, channels]` float tensor; height and width may be unknown.
    blocks: the `resnet_utils.Block`s, e.g. from `resnet_v2_block`.
    num_classes: None or 0 for no logits (features only), else the number of classes of a 1x1 logits layer.
    is_training: batch norm mode; None leaves it to the enclosing arg scope.
    global_pool: average the last features over height and width (keeping them as 1x1).
    output_stride: None for the nominal stride (32 with the root), or a smaller reachable stride.
    include_root_block: build 'conv1' and 'pool1' (stride 4) before the blocks.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    reuse: reuse the variables of `scope`.
    scope: variable scope, default 'resnet_v2'.
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`.

  Returns:
    (net, end_points) as `resnet_v1.resnet_v1`; the block end points are taken before 'postnorm', and
    '<scope>/postnorm' (not in research/slim) is the normalized output of the last block, level C5.

  Raises:
    ValueError: if `output_stride` cannot be reached, or if `spatial_squeeze` cannot squeeze logits built
      without `global_pool` at the static input size.
  """
  return resnet_utils.resnet(inputs, blocks, root_fn=_root, postnorm_fn=_postnorm, default_scope='resnet_v2',
                             num_classes=num_classes, is_training=is_training, global_pool=global_pool,
                             output_stride=output_stride, include_root_block=include_root_block,
                             spatial_squeeze=spatial_squeeze,
                             store_non_strided_activations=store_non_strided_activations, reuse=reuse, scope=scope)


resnet_v2.default_image_size = 224


def resnet_v2_block(scope: str, base_depth: int, num_units: int, stride: int) -> resnet_utils.Block:
  """A block of `num_units` v2 bottlenecks with output depth 4 * `base_depth`, the last one of stride `stride`."""
  return resnet_utils.Block(scope, bottleneck, resnet_utils.bottleneck_block_args(base_depth, num_units, stride))


def _resnet_v2_n(name: str, units: Sequence[int]):
  """Makes the public function of the ResNet v2 of depth given by `units` per block."""

  def network(inputs: tf.Tensor, num_classes: Optional[int] = None, is_training: Optional[bool] = True,
              global_pool: bool = True, output_stride: Optional[int] = None, spatial_squeeze: bool = True,
              reuse=None, scope: str = name, *, store_non_strided_activations: bool = False,
              min_base_depth: int = 8, depth_multiplier: float = 1, multi_grid: Optional[Sequence[int]] = None):
    blocks = resnet_utils.standard_blocks(resnet_v2_block, units, min_base_depth=min_base_depth,
                                          depth_multiplier=depth_multiplier, multi_grid=multi_grid)
    return resnet_v2(inputs, blocks, num_classes, is_training, global_pool, output_stride,
                     include_root_block=True, spatial_squeeze=spatial_squeeze, reuse=reuse, scope=scope,
                     store_non_strided_activations=store_non_strided_activations)

  network.__name__ = network.__qualname__ = name
  network.__doc__ = f"""{name}: ResNet v2 with {', '.join(map(str, units))} bottleneck units in blocks 1-4.

  The positional arguments are research/slim's; the keyword-only ones extend it:
    store_non_strided_activations: see `resnet_utils.stack_blocks_dense`.
    min_base_depth: smallest bottleneck depth after `depth_multiplier`.
    depth_multiplier: scales every block's depth (for thinner networks, e.g. in tests).
    multi_grid: None, or three rates multiplying the atrous rate of block4's 3x3 convolutions
      (DeepLab v3, arXiv:1706.05587).

  Returns:
    (net, end_points) as `resnet_v2`.
  """
  network.default_image_size = 224
  return network


resnet_v2_50 = _resnet_v2_n('resnet_v2_50', (3, 4, 6, 3))
resnet_v2_101 = _resnet_v2_n('resnet_v2_101', (3, 4, 23, 3))
resnet_v2_152 = _resnet_v2_n('resnet_v2_152', (3, 8, 36, 3))
resnet_v2_200 = _resnet_v2_n('resnet_v2_200', (3, 24, 36, 3))
