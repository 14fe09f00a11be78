"""Xception 41/65/71 as DeepLab builds them (Chollet, arXiv:1610.02357; Chen et al., DeepLab v3+, arXiv:1802.02611).

DeepLab's variant (research/deeplab/core/xception.py) replaces every max pool by a strided separable
convolution, so that `output_stride` can turn the strides into atrous rates, and optionally adds batch norm and
ReLU after the depthwise convolutions. The network is an entry flow (two 3x3 convolutions and 3 or 5 blocks), a
middle flow (8 or 16 residual units of 728 channels) and an exit flow, each unit an `xception_module` of three
separable convolutions; the blocks are stacked by `nets.atrous.stack_blocks_dense`. Scope, end point and
variable names are DeepLab's, so its ImageNet checkpoints restore by name:

    with slim.arg_scope(xception.xception_arg_scope()):
      features, end_points = xception.xception_65(images, global_pool=False, output_stride=16, is_training=False)

A separable convolution is a depthwise one `<name>_depthwise` (batch norm, `depthwise_weights`) and a pointwise
1x1 convolution `<name>_pointwise`, unless `regularize_depthwise`, where it is one `separable_conv2d` layer.
"""

from typing import Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import atrous
from nets import checks
from nets import layers

Block = atrous.Block
stack_blocks_dense = atrous.stack_blocks_dense

_DEFAULT_MULTI_GRID = (1, 1, 1)
_CLIP_CAP = 6  # bounded activations clip to [-6, 6]


fixed_padding = atrous.fixed_padding  # DeepLab's xception.fixed_padding


@slim.add_arg_scope
def separable_conv2d_same(inputs: tf.Tensor, num_outputs: int, kernel_size: int, depth_multiplier: int,
                          stride: int, rate: int = 1, use_explicit_padding: bool = True,
                          regularize_depthwise: bool = False, scope: Optional[str] = None, **kwargs) -> tf.Tensor:
  """A separable convolution whose strided output is the stride-1 'SAME' output subsampled.

  With `stride` > 1 and `use_explicit_padding`, the input is padded explicitly and convolved 'VALID', which a
  strided 'SAME' convolution matches only for odd sizes. Without `regularize_depthwise` the convolution is
  split in two layers, `<scope>_depthwise` and a 1x1 `<scope>_pointwise`, each with the normalizer and
  activation of the arg scope (or `kwargs`); with it, one `separable_conv2d` layer `<scope>`.
  """
  padding = 'SAME'
  if stride > 1 and use_explicit_padding:
    inputs = fixed_padding(inputs, kernel_size, rate)
    padding = 'VALID'
  options = dict(depth_multiplier=depth_multiplier, stride=stride, rate=rate, padding=padding, **kwargs)
  if regularize_depthwise:
    return layers.separable_conv2d(inputs, num_outputs, kernel_size, scope=scope, **options)
  outputs = layers.separable_conv2d(inputs, None, kernel_size, scope=scope + '_depthwise', **options)
  return layers.conv2d(outputs, num_outputs, 1, scope=scope + '_pointwise', **kwargs)


@slim.add_arg_scope
def xception_module(inputs: tf.Tensor, depth_list: Sequence[int], skip_connection_type: str, stride: int,
                    kernel_size: int = 3, unit_rate_list: Optional[Sequence[int]] = None, rate: int = 1,
                    activation_fn_in_separable_conv: bool = False, regularize_depthwise: bool = False,
                    outputs_collections=None, scope: Optional[str] = None, use_bounded_activation: bool = False,
                    use_explicit_padding: bool = True, use_squeeze_excite: bool = False, se_pool_size=None):
  """Three separable convolutions (the last of stride `stride`) plus a shortcut: 'conv' (a 1x1 convolution),
  'sum' (the input) or 'none'.

  Without `activation_fn_in_separable_conv` each separable convolution is preceded by a ReLU and is linear
  itself (the original design); with it, each is followed by a ReLU. `unit_rate_list` multiplies `rate` per
  convolution (multi-grid).

  Raises:
    ValueError: for a `depth_list` or `unit_rate_list` not of three, an unknown `skip_connection_type`, or
      squeeze-and-excitation (not supported here yet).
  """
  if len(depth_list) != 3:
    raise ValueError(f'xception_module: depth_list must have three depths, got {list(depth_list)!r}')
  unit_rate_list = _DEFAULT_MULTI_GRID if unit_rate_list is None else unit_rate_list
  if len(unit_rate_list) != 3:
    raise ValueError(f'xception_module: unit_rate_list must have three rates, got {list(unit_rate_list)!r}')
  if skip_connection_type not in ('conv', 'sum', 'none'):
    raise ValueError(f"xception_module: skip_connection_type must be 'conv', 'sum' or 'none', "
                     f'got {skip_connection_type!r}')
  if use_squeeze_excite:
    raise ValueError('xception_module: use_squeeze_excite=True (squeeze-and-excitation) is not supported yet')
  del se_pool_size  # only used with squeeze-and-excitation
  with tf.compat.v1.variable_scope(scope, 'xception_module', [inputs]) as sc:
    residual = inputs
    for i in range(3):
      if activation_fn_in_separable_conv:
        activation_fn = tf.nn.relu6 if use_bounded_activation else tf.nn.relu
      elif use_bounded_activation:
        activation_fn = lambda x: tf.clip_by_value(x, -_CLIP_CAP, _CLIP_CAP)
        residual = tf.nn.relu6(residual)
      else:
        activation_fn = None
        residual = tf.nn.relu(residual)
      residual = separable_conv2d_same(residual, depth_list[i], kernel_size, depth_multiplier=1,
                                       stride=stride if i == 2 else 1, rate=rate * unit_rate_list[i],
                                       activation_fn=activation_fn, use_explicit_padding=use_explicit_padding,
                                       regularize_depthwise=regularize_depthwise, scope=f'separable_conv{i + 1}')
    clip = (lambda x: tf.clip_by_value(x, -_CLIP_CAP, _CLIP_CAP)) if use_bounded_activation else (lambda x: x)
    if skip_connection_type == 'conv':
      shortcut = layers.conv2d(inputs, depth_list[-1], [1, 1], stride=stride, activation_fn=None, scope='shortcut')
      outputs = clip(residual) + clip(shortcut)
    elif skip_connection_type == 'sum':
      outputs = clip(residual) + clip(inputs)
    else:
      outputs = residual
    if use_bounded_activation and skip_connection_type != 'none':
      outputs = tf.nn.relu6(outputs)
    return slim.utils.collect_named_outputs(outputs_collections, sc.name, outputs)


def xception(inputs: tf.Tensor, blocks: Sequence[Block], num_classes: Optional[int] = None,
             is_training: bool = True, global_pool: bool = True, keep_prob: float = 0.5,
             output_stride: Optional[int] = None, reuse=None, scope: Optional[str] = None,
             sync_batch_norm_method: str = 'None', *, root_depths: Sequence[int] = (32, 64)):
  """Xception from blocks: 'entry_flow/conv1_1' (3x3/2) and 'entry_flow/conv1_2' (3x3), the blocks, a head.

  Args:
    inputs: `[batch, height, width, channels]` float tensor.
    blocks: the `Block`s, e.g. from `xception_block`.
    num_classes: None or 0 for features only; else dropout 'prelogits_dropout' and an (unsqueezed) 1x1 'logits'.
    is_training: batch norm and dropout mode.
    global_pool: average the last features over height and width (kept 1x1), end point 'global_pool'.
    keep_prob: kept fraction of the dropout before the logits.
    output_stride: None (nominal, 32) or one of 2, 4, 8, 16, 32: later units run atrous.
    reuse: reuse the variables of `scope`.
    scope: variable scope, default 'xception'.
    sync_batch_norm_method: DeepLab's option; only 'None' (plain batch norm) exists.
    root_depths: (keyword only, not in DeepLab) the channels of the two stem convolutions.

  Returns:
    (net, end_points): the last features (or logits) and the end points of every convolution, module and
    block, 'global_pool', '<scope>/logits' and 'predictions'.

  Raises:
    ValueError: for an unreachable `output_stride`, a bad `num_classes` or batch norm method, before anything
      is built.
  """
  caller = scope or 'xception'
  checks.check_images(inputs, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  if sync_batch_norm_method != 'None':
    raise ValueError(f"{caller}: sync_batch_norm_method must be 'None' (plain batch norm), "
                     f'got {sync_batch_norm_method!r}')
  output_stride = checks.as_int(output_stride)
  atrous.check_output_stride(output_stride, atrous.reachable_output_strides(blocks, 2), caller)
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'xception', [inputs], reuse=reuse) as sc:
    collection = sc.original_name_scope + 'end_points'
    with slim.arg_scope([layers.conv2d, layers.separable_conv2d, xception_module, stack_blocks_dense],
                        outputs_collections=collection):
      with slim.arg_scope([layers.batch_norm], is_training=is_training):
        net = atrous.conv2d_same(inputs, root_depths[0], 3, stride=2, scope='entry_flow/conv1_1')
        net = atrous.conv2d_same(net, root_depths[1], 3, stride=1, scope='entry_flow/conv1_2')
        net = stack_blocks_dense(net, blocks, None if output_stride is None else output_stride // 2)
        end_points = slim.utils.convert_collection_to_dict(collection, clear_collection=True)
        if global_pool:
          net = tf.reduce_mean(net, [1, 2], name='global_pool', keepdims=True)
          end_points['global_pool'] = net
        if num_classes:
          net = layers.dropout(net, keep_prob=keep_prob, is_training=is_training, scope='prelogits_dropout')
          net = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None, scope='logits')
          end_points[sc.name + '/logits'] = net
          end_points['predictions'] = layers.softmax(net, scope='predictions')
        return net, end_points


def xception_block(scope: str, depth_list: Sequence[int], skip_connection_type: str,
                   activation_fn_in_separable_conv: bool, regularize_depthwise: bool, num_units: int, stride: int,
                   kernel_size: int = 3, unit_rate_list: Optional[Sequence[int]] = None,
                   use_squeeze_excite: bool = False, se_pool_size=None) -> Block:
  """A block of `num_units` identical `xception_module`s of stride `stride` (each)."""
  unit = {'depth_list': depth_list, 'skip_connection_type': skip_connection_type,
          'activation_fn_in_separable_conv': activation_fn_in_separable_conv,
          'regularize_depthwise': regularize_depthwise, 'stride': stride, 'kernel_size': kernel_size,
          'unit_rate_list': _DEFAULT_MULTI_GRID if unit_rate_list is None else unit_rate_list,
          'use_squeeze_excite': use_squeeze_excite, 'se_pool_size': se_pool_size}
  return Block(scope, xception_module, [unit] * num_units)


# Entry flow blocks (depth, stride) and middle flow units of each depth.
_ENTRY_FLOWS = {41: ((128, 2), (256, 2), (728, 2)), 65: ((128, 2), (256, 2), (728, 2)),
                71: ((128, 2), (256, 1), (256, 2), (728, 1), (728, 2))}
_MIDDLE_UNITS = {41: 8, 65: 16, 71: 16}


def _xception_blocks(layers_count: int, regularize_depthwise: bool, kernel_size: int, multi_grid,
                     depth) -> list:
  blocks = [xception_block(f'entry_flow/block{i + 1}', [depth(d)] * 3, 'conv', False, regularize_depthwise, 1,
                           stride, kernel_size=kernel_size)
            for i, (d, stride) in enumerate(_ENTRY_FLOWS[layers_count])]
  blocks.append(xception_block('middle_flow/block1', [depth(728)] * 3, 'sum', False, regularize_depthwise,
                               _MIDDLE_UNITS[layers_count], 1, kernel_size=kernel_size))
  blocks.append(xception_block('exit_flow/block1', [depth(728), depth(1024), depth(1024)], 'conv', False,
                               regularize_depthwise, 1, 2, kernel_size=kernel_size))
  blocks.append(xception_block('exit_flow/block2', [depth(1536), depth(1536), depth(2048)], 'none', True,
                               regularize_depthwise, 1, 1, kernel_size=kernel_size, unit_rate_list=multi_grid))
  return blocks


def _xception_n(layers_count: int):
  name = f'xception_{layers_count}'

  def network(inputs: tf.Tensor, num_classes: Optional[int] = None, is_training: bool = True,
              global_pool: bool = True, keep_prob: float = 0.5, output_stride: Optional[int] = None,
              regularize_depthwise: bool = False, multi_grid: Optional[Sequence[int]] = None, reuse=None,
              scope: str = name, sync_batch_norm_method: str = 'None', *, depth_multiplier: float = 1,
              min_depth: int = 8):
    checks.check_depth_multiplier(depth_multiplier, scope or name)
    rates = checks.multi_grid(multi_grid, 3, 'separable convolution of exit_flow/block2', scope or name)
    depth = lambda d: max(int(d * depth_multiplier), min_depth)
    blocks = _xception_blocks(layers_count, regularize_depthwise, 3, rates, depth)
    return xception(inputs, blocks, num_classes=num_classes, is_training=is_training, global_pool=global_pool,
                    keep_prob=keep_prob, output_stride=output_stride, reuse=reuse, scope=scope,
                    sync_batch_norm_method=sync_batch_norm_method, root_depths=(depth(32), depth(64)))

  network.__name__ = network.__qualname__ = name
  network.__doc__ = f"""{name}: DeepLab's Xception-{layers_count}.

  Args are those of `xception`, plus:
    regularize_depthwise: one `separable_conv2d` layer per separable convolution (regularized as the arg scope
      says) instead of a depthwise and a pointwise layer.
    multi_grid: None (1, 1, 1) or three rates multiplying the atrous rates of exit_flow/block2.
    depth_multiplier, min_depth: (keyword only, not in DeepLab) scale every depth, for thin networks.
  """
  network.default_image_size = 299
  return network


xception_41 = _xception_n(41)
xception_65 = _xception_n(65)
xception_71 = _xception_n(71)


def xception_arg_scope(weight_decay: float = 0.00004, batch_norm_decay: float = 0.9997,
                       batch_norm_epsilon: float = 0.001, batch_norm_scale: bool = True,
                       weights_initializer_stddev: float = 0.09, regularize_depthwise: bool = False,
                       use_batch_norm: bool = True, use_bounded_activation: bool = False,
                       sync_batch_norm_method: str = 'None', *,
                       batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS) -> dict:
  """DeepLab's Xception arg scope: truncated-normal weights, batch norm and ReLU (ReLU6 when bounded) after the
  convolutions, L2 decay on the regular convolutions (and the depthwise ones with `regularize_depthwise`),
  explicit padding unless activations are bounded.

  `batch_norm_updates_collections` (keyword only, not in DeepLab) is where batch norm puts its moving-average
  updates; None updates in place (eager training, `slimnets.models.Backbone`).
  """
  if sync_batch_norm_method != 'None':
    raise ValueError(f"xception_arg_scope: sync_batch_norm_method must be 'None', got {sync_batch_norm_method!r}")
  regularizer = slim.l2_regularizer(weight_decay)
  with slim.arg_scope([layers.conv2d, layers.separable_conv2d],
                      weights_initializer=tf.compat.v1.truncated_normal_initializer(
                          stddev=weights_initializer_stddev),
                      activation_fn=tf.nn.relu6 if use_bounded_activation else tf.nn.relu,
                      normalizer_fn=layers.batch_norm if use_batch_norm else None):
    with slim.arg_scope([layers.batch_norm], decay=batch_norm_decay, epsilon=batch_norm_epsilon,
                        scale=batch_norm_scale, updates_collections=batch_norm_updates_collections):
      with slim.arg_scope([layers.conv2d], weights_regularizer=regularizer):
        with slim.arg_scope([layers.separable_conv2d],
                            weights_regularizer=regularizer if regularize_depthwise else None):
          with slim.arg_scope([xception_module], use_bounded_activation=use_bounded_activation,
                              use_explicit_padding=not use_bounded_activation) as arg_sc:
            return arg_sc
