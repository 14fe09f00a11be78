"""ResNet v1 beta, DeepLab's backbone variant: ResNet v1 with a stem of three 3x3 convolutions.

DeepLab (research/deeplab/core/resnet_v1_beta.py) replaces ResNet v1's 7x7/2 `conv1` with `conv1_1` (3x3/2, 64),
`conv1_2` (3x3, 64) and `conv1_3` (3x3, 128), keeps the stride-2 `pool1`, and runs block4 with a multi-grid of
unit rates. Its ImageNet checkpoints (`resnet_v1_50_2018_05_04`, `resnet_v1_101_2018_05_04`) use the scopes
'resnet_v1_50' and 'resnet_v1_101', which are therefore the default scopes here too:

    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      features, end_points = resnet_v1_beta.resnet_v1_101_beta(images, output_stride=16, multi_grid=[1, 2, 4])

As in DeepLab, `global_pool` defaults to False (dense prediction), `is_training` to None (batch norm's mode
comes from the arg scope), and logits are not squeezed.
"""

from typing import Optional, Sequence

import tensorflow as tf

from nets import checks
from nets import layers
from nets import resnet_utils
from nets.resnet_v1 import bottleneck

resnet_arg_scope = resnet_utils.resnet_arg_scope

_DEFAULT_MULTI_GRID = (1, 1, 1)


def root_block_fn_for_beta_variant(net: tf.Tensor, depth_multiplier: float = 1.0) -> tf.Tensor:
  """The beta stem: three 3x3 convolutions, the first of stride 2 (64, 64 and 128 channels, scaled)."""
  net = resnet_utils.conv2d_same(net, int(64 * depth_multiplier), 3, stride=2, scope='conv1_1')
  net = resnet_utils.conv2d_same(net, int(64 * depth_multiplier), 3, stride=1, scope='conv1_2')
  return resnet_utils.conv2d_same(net, int(128 * depth_multiplier), 3, stride=1, scope='conv1_3')


def resnet_v1_beta_block(scope: str, base_depth: int, num_units: int, stride: int) -> resnet_utils.Block:
  """A block of `num_units` v1 bottlenecks with output depth 4 * `base_depth`, the last one of stride `stride`."""
  args = resnet_utils.bottleneck_block_args(base_depth, num_units, stride)
  return resnet_utils.Block(scope, bottleneck, [dict(unit, unit_rate=1) for unit in args])


def resnet_v1_beta(inputs: tf.Tensor, blocks: Sequence[resnet_utils.Block], num_classes: Optional[int] = None,
                   is_training: Optional[bool] = None, global_pool: bool = True, output_stride: Optional[int] = None,
                   root_block_fn=None, reuse=None, scope: Optional[str] = None, *, caller: Optional[str] = None):
  """ResNet v1 (beta variant) from blocks: `root_block_fn`, a 3x3/2 max pool 'pool1', the blocks, logits.

  Args:
    inputs: `[batch, height, width, channels]` float tensor.
    blocks: the `resnet_utils.Block`s.
    num_classes: None or 0 for features only, else the classes of an unsqueezed 1x1 'logits' layer.
    is_training: batch norm mode; None leaves it to the enclosing arg scope.
    global_pool: average the last features over height and width (kept as 1x1).
    output_stride: None (nominal, 32) or one of 4, 8, 16, 32.
    root_block_fn: `fn(net) -> net` of stride 2 before 'pool1'; None: ResNet v1's 7x7/2 'conv1'.
    reuse: reuse the variables of `scope`.
    scope: variable scope, default 'resnet_v1'.
    caller: (keyword only) the name errors give, default the scope.

  Returns:
    (net, end_points): `[batch, h, w, channels or num_classes]` and the end points of every convolution, unit
    and block, '<scope>/logits' and 'predictions'.

  Raises:
    ValueError: for an unreachable `output_stride` or a bad `num_classes`, before anything is built.
  """
  if root_block_fn is None:
    root_block_fn = lambda net: resnet_utils.conv2d_same(net, 64, 7, stride=2, scope='conv1')

  def root(net):
    return layers.max_pool2d(root_block_fn(net), [3, 3], stride=2, padding='SAME', scope='pool1')

  return resnet_utils.resnet(inputs, blocks, root_fn=root, postnorm_fn=lambda net: net, default_scope='resnet_v1',
                             num_classes=num_classes, is_training=is_training, global_pool=global_pool,
                             output_stride=output_stride, spatial_squeeze=False, reuse=reuse, scope=scope,
                             global_pool_end_point=False, caller=caller)


def _beta(name: str, units: Sequence[int], default_scope: str):
  """Makes DeepLab's `resnet_v1_<depth>_beta` for the given units per block."""

  def network(inputs: tf.Tensor, num_classes: Optional[int] = None, is_training: Optional[bool] = None,
              global_pool: bool = False, output_stride: Optional[int] = None,
              multi_grid: Optional[Sequence[int]] = None, reuse=None, scope: str = default_scope, *,
              depth_multiplier: float = 1, min_base_depth: int = 8):
    rates = checks.multi_grid(multi_grid, 3, 'unit of block4', name) or _DEFAULT_MULTI_GRID
    checks.check_depth_multiplier(depth_multiplier, name)
    depth = lambda base: max(int(base * depth_multiplier), min_base_depth)
    blocks = [resnet_v1_beta_block(f'block{i + 1}', depth(base), count, stride=2)
              for i, (base, count) in enumerate(zip((64, 128, 256), units))]
    last = {'depth': depth(512) * 4, 'depth_bottleneck': depth(512), 'stride': 1}
    blocks.append(resnet_utils.Block('block4', bottleneck, [dict(last, unit_rate=rate) for rate in rates]))
    return resnet_v1_beta(inputs, blocks, num_classes=num_classes, is_training=is_training,
                          global_pool=global_pool, output_stride=output_stride,
                          root_block_fn=lambda net: root_block_fn_for_beta_variant(net, depth_multiplier),
                          reuse=reuse, scope=scope, caller=name)

  network.__name__ = network.__qualname__ = name
  network.__doc__ = f"""{name}: DeepLab's ResNet v1 beta with {', '.join(map(str, units))} units in blocks 1-3.

  Args are those of `resnet_v1_beta`, plus:
    multi_grid: None (1, 1, 1) or three rates multiplying the atrous rate of block4's 3x3 convolutions.
    scope: default {default_scope!r}, the scope of DeepLab's published checkpoint.
    depth_multiplier: (keyword only, not in DeepLab) scales every depth, the stem's too, for thin networks.
    min_base_depth: (keyword only) smallest bottleneck depth after `depth_multiplier`.
  """
  network.default_image_size = 224
  return network


resnet_v1_50_beta = _beta('resnet_v1_50_beta', (3, 4, 6), 'resnet_v1_50')
resnet_v1_101_beta = _beta('resnet_v1_101_beta', (3, 4, 23), 'resnet_v1_101')
