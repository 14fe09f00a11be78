"""What ResNet v1, v2 and v1 beta share: the arg scope, the standard blocks, the body from root to logits.

ResNets (He et al., "Deep Residual Learning for Image Recognition", arXiv:1512.03385, and "Identity Mappings in
Deep Residual Networks", arXiv:1603.05027) are described as a list of `Block`s, stacked by
`nets.atrous.stack_blocks_dense` (re-exported here, where research/slim code looks for it), which turns the
strides past a requested `output_stride` into atrous rates.

As in research/slim, each block's last unit carries the block's stride, so the output of `blockN` is already
downsampled: resnet_v1_50's `block1` is at stride 8, and its stride-4 feature is `block1/unit_2`.
"""

import contextlib
from typing import Callable, Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import atrous
from nets import checks
from nets import layers

# The atrous stacking lives in nets.atrous (Xception uses it too); research/slim code finds it here.
Block = atrous.Block
subsample = atrous.subsample
conv2d_same = atrous.conv2d_same
reachable_output_strides = atrous.reachable_output_strides
stack_blocks_dense = atrous.stack_blocks_dense


def resnet_arg_scope(weight_decay: float = 0.0001, batch_norm_decay: float = 0.997, batch_norm_epsilon: float = 1e-5,
                     batch_norm_scale: bool = True, activation_fn: Callable = tf.nn.relu, use_batch_norm: bool = True,
                     batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS) -> dict:
  """The arg scope of ResNet v1 and v2: He initialization, L2 weight decay, batch norm after each convolution.

  Args:
    weight_decay: L2 regularization weight of the convolution kernels (loss = weight_decay * sum(w^2) / 2).
    batch_norm_decay: decay of the batch norm moving averages.
    batch_norm_epsilon: added to the variance in batch norm.
    batch_norm_scale: whether batch norm learns a scale `gamma`.
    activation_fn: activation after each convolution (and batch norm).
    use_batch_norm: whether convolutions are followed by batch norm.
    batch_norm_updates_collections: collection for the moving average updates (None: update in place).

  Returns:
    An arg scope to use with `slim.arg_scope`.
  """
  with layers.he_conv2d_scope(weight_decay, activation_fn, use_batch_norm, batch_norm_decay, batch_norm_epsilon,
                              batch_norm_scale, batch_norm_updates_collections) as (_, batch_norm_params):
    with slim.arg_scope([layers.batch_norm], **batch_norm_params):
      with slim.arg_scope([layers.max_pool2d], padding='SAME') as arg_sc:
        return arg_sc


def standard_blocks(block_fn: Callable, units: Sequence[int], min_base_depth: int = 8,
                           depth_multiplier: float = 1, multi_grid: Optional[Sequence[int]] = None) -> list:
  """The four blocks of a ResNet-50/101/152/200: base depths 64..512, strides 2, 2, 2, 1 on the last units.

  Args:
    block_fn: `resnet_v1_block` or `resnet_v2_block`, called as `block_fn(scope, base_depth, num_units, stride)`.
    units: number of units in each of the four blocks.
    min_base_depth: smallest bottleneck depth after `depth_multiplier`.
    depth_multiplier: scales every bottleneck depth (output depths are 4x the bottleneck depth).
    multi_grid: None, or one rate per unit of block4 multiplying the atrous rate of its 3x3 convolution.

  Returns:
    A list of four `Block`s.
  """
  checks.check_depth_multiplier(depth_multiplier, 'resnet')
  multi_grid = checks.multi_grid(multi_grid, units[-1], 'unit of block4')

  def depth(base):
    return max(int(base * depth_multiplier), min_base_depth)

  blocks = [block_fn('block%d' % (i + 1), depth(base), num, stride)
            for i, (base, num, stride) in enumerate(zip((64, 128, 256, 512), units, (2, 2, 2, 1)))]
  if multi_grid is not None:
    last = blocks[-1]
    blocks[-1] = last._replace(args=[dict(unit, unit_rate=r) for unit, r in zip(last.args, multi_grid)])
  return blocks


def bottleneck_block_args(base_depth: int, num_units: int, stride: int) -> list:
  """Unit arguments of a bottleneck block: `num_units` units of output depth 4 * base_depth, the last strided."""
  unit = {'depth': base_depth * 4, 'depth_bottleneck': base_depth, 'stride': 1}
  return [unit] * (num_units - 1) + [dict(unit, stride=stride)]


def resnet(inputs: tf.Tensor, blocks: Sequence[Block], *, root_fn: Callable, postnorm_fn: Callable,
           default_scope: str, num_classes: Optional[int] = None, is_training: Optional[bool] = True,
           global_pool: bool = True, output_stride: Optional[int] = None, include_root_block: bool = True,
           spatial_squeeze: bool = True, store_non_strided_activations: bool = False, reuse=None,
           scope: Optional[str] = None, global_pool_end_point: bool = True, caller: Optional[str] = None):
  """Builds a ResNet from blocks: root, dense stack, optional post-norm, optional pooling and logits.

  The shared body of `resnet_v1.resnet_v1`, `resnet_v2.resnet_v2` and `resnet_v1_beta.resnet_v1_beta`; see
  those for the arguments. `root_fn(net)` builds the stride-4 root (e.g. 'conv1' and 'pool1');
  `postnorm_fn(net)` runs after the blocks. End points are the outputs of every convolution, unit and block,
  aliased by their variable scope names, plus '<scope>/postnorm' (what `postnorm_fn` returns, where it is not
  its input: ResNet v2's final batch norm and ReLU; research/slim has no such end point), 'global_pool' (unless
  `global_pool_end_point` is False, as in
  DeepLab's beta variant), '<scope>/logits', '<scope>/spatial_squeeze' and 'predictions' as built. Errors name
  `caller` (default: the scope).

  Returns:
    (net, end_points): the main output and an ordered dict of named tensors.
  """
  caller = caller or scope or default_scope
  checks.check_images(inputs, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  output_stride = checks.as_int(output_stride)
  root_stride = 4 if include_root_block else 1
  reachable = atrous.reachable_output_strides(blocks, root_stride)
  atrous.check_output_stride(output_stride, reachable, caller)
  if num_classes and spatial_squeeze and not global_pool:
    _check_squeezable(inputs, output_stride or reachable[-1], caller)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, default_scope, [inputs], reuse=reuse) as sc:
    end_points_collection = sc.original_name_scope + '_end_points'
    unit_fns = list(dict.fromkeys(block.unit_fn for block in blocks))
    with slim.arg_scope([layers.conv2d, stack_blocks_dense] + unit_fns, outputs_collections=end_points_collection):
      with _batch_norm_mode(is_training):
        net = inputs
        if include_root_block:
          net = root_fn(net)
        stacker_stride = None if output_stride is None else output_stride // root_stride
        net = stack_blocks_dense(net, blocks, stacker_stride, store_non_strided_activations)
        normalized = postnorm_fn(net)
        end_points = slim.utils.convert_collection_to_dict(end_points_collection)
        if normalized is not net:  # ResNet v2's final normalization: what a decoder takes as its last level
          end_points[sc.name + '/postnorm'] = normalized
        net = normalized
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], name='pool5', keepdims=True)
          if global_pool_end_point:
            end_points['global_pool'] = net
        if num_classes:
          net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope='logits')
          end_points[sc.name + '/logits'] = net
          if spatial_squeeze:
            net = tf.squeeze(net, [1, 2], name='SpatialSqueeze')
            end_points[sc.name + '/spatial_squeeze'] = net
          end_points['predictions'] = layers.softmax(net, scope='predictions')
        return net, end_points


def _batch_norm_mode(is_training: Optional[bool]):
  """An arg scope setting batch norm's `is_training`, or leaving it to the enclosing scope when None."""
  if is_training is None:
    return contextlib.nullcontext()
  return slim.arg_scope([layers.batch_norm], is_training=is_training)


def _check_squeezable(inputs, final_stride: int, caller: str) -> None:
  """Raises a ValueError when logits without global pooling would not be 1x1 on a known input axis.

  Every strided layer of a ResNet pads SAME, so a map of n pixels becomes ceil(n / stride) ones.
  """
  shape = checks.static_shape(getattr(inputs, 'shape', None))
  if shape is None or len(shape) != 4:
    return
  sizes = [None if n is None else -(-n // final_stride) for n in shape[1:3]]
  if any(n not in (None, 1) for n in sizes):
    text = lambda pair: 'x'.join('?' if n is None else str(n) for n in pair)
    raise ValueError(f'{caller}: inputs of {text(shape[1:3])} at output stride {final_stride} give {text(sizes)} '
                     'logits without global pooling, which spatial_squeeze=True cannot squeeze to '
                     '[batch, num_classes]; pass global_pool=True or spatial_squeeze=False')
