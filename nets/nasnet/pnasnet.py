"""PNASNet-5 (Liu et al., "Progressive Neural Architecture Search", arXiv:1712.00559) with research/slim's API
(nets/nasnet/pnasnet.py): `build_pnasnet_mobile` (224), `build_pnasnet_large` (331), their configs and arg scopes;
names as research/slim's.

PNASNet has one cell, strided where NASNet puts its reduction cells: NASNet's ImageNet stem built of that cell
('Stem', stride 8), then `num_cells` cells ('Cell_k'; strides 8, 16, 32), the auxiliary head in training
('AuxLogits') and NASNet's final layer. Drop-path, the global step and the extensions are as in
`nets.nasnet.nasnet` (see there).

    with slim.arg_scope(pnasnet.pnasnet_large_arg_scope()):
      logits, end_points = pnasnet.build_pnasnet_large(images, num_classes=1001, is_training=False)
"""

import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets.nasnet import nasnet
from nets.nasnet import nasnet_utils

# NASNet's pieces that PNASNet shares (research/slim's pnasnet calls them the same way).
# pylint: disable=protected-access
_imagenet_stem, _build_aux_head, _final_layer = nasnet._imagenet_stem, nasnet._build_aux_head, nasnet._final_layer
_update_hparams, _check_inputs, _is_larger = nasnet._update_hparams, nasnet._check_inputs, nasnet._is_larger
# pylint: enable=protected-access


def large_imagenet_config() -> nasnet_utils.HParams:
  """PNASNet-5 large for ImageNet (331x331): 12 cells of 216 filters, drop-path to 0.6 over 250000 steps."""
  return nasnet_utils.HParams(stem_multiplier=3.0, dense_dropout_keep_prob=0.5, num_cells=12, filter_scaling_rate=2.0,
                              num_conv_filters=216, drop_path_keep_prob=0.6, use_aux_head=1, num_reduction_layers=2,
                              data_format='NHWC', skip_reduction_layer_input=1, total_training_steps=250000,
                              use_bounded_activation=False)


def mobile_imagenet_config() -> nasnet_utils.HParams:
  """PNASNet-5 mobile for ImageNet (224x224): 9 cells of 54 filters, no drop-path."""
  return nasnet_utils.HParams(stem_multiplier=1.0, dense_dropout_keep_prob=0.5, num_cells=9, filter_scaling_rate=2.0,
                              num_conv_filters=54, drop_path_keep_prob=1.0, use_aux_head=1, num_reduction_layers=2,
                              data_format='NHWC', skip_reduction_layer_input=1, total_training_steps=250000,
                              use_bounded_activation=False)


def pnasnet_large_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997, batch_norm_epsilon=0.001, *,
                           batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The arg scope of PNASNet large (NASNet large's, with its own weight decay default)."""
  return nasnet.nasnet_large_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon,
                                       batch_norm_updates_collections=batch_norm_updates_collections)


def pnasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997, batch_norm_epsilon=0.001, *,
                           batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The arg scope of PNASNet mobile (NASNet mobile's)."""
  return nasnet.nasnet_mobile_arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon,
                                       batch_norm_updates_collections=batch_norm_updates_collections)


class PNasNetNormalCell(nasnet_utils.NasNetABaseCell):
  """PNASNet-5's cell (strided at the reductions)."""

  def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells, total_training_steps,
               use_bounded_activation=False):
    operations = ['separable_5x5_2', 'max_pool_3x3', 'separable_7x7_2', 'max_pool_3x3', 'separable_5x5_2',
                  'separable_3x3_2', 'separable_3x3_2', 'max_pool_3x3', 'separable_3x3_2', 'none']
    super().__init__(num_conv_filters, operations, [1, 1, 0, 0, 0, 0, 0], [1, 1, 0, 0, 0, 0, 4, 0, 1, 0],
                     drop_path_keep_prob, total_num_cells, total_training_steps, use_bounded_activation)


def build_pnasnet_large(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None,
                        global_pool=True, depth_multiplier=1.0):
  """PNASNet-5 large for ImageNet; arguments as `nets.nasnet.nasnet.build_nasnet_mobile`'s (default
  `large_imagenet_config()`)."""
  return _build('build_pnasnet_large', large_imagenet_config, images, num_classes, is_training, final_endpoint,
                config, current_step, global_pool, depth_multiplier)


build_pnasnet_large.default_image_size = 331


def build_pnasnet_mobile(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None,
                         global_pool=True, depth_multiplier=1.0):
  """PNASNet-5 mobile for ImageNet; arguments as `nets.nasnet.nasnet.build_nasnet_mobile`'s (default
  `mobile_imagenet_config()`)."""
  return _build('build_pnasnet_mobile', mobile_imagenet_config, images, num_classes, is_training, final_endpoint,
                config, current_step, global_pool, depth_multiplier)


build_pnasnet_mobile.default_image_size = 224


def _build(caller, default_config, images, num_classes, is_training, final_endpoint, config, current_step,
           global_pool, depth_multiplier):
  hparams = nasnet_utils.check_config(default_config() if config is None else config, caller, depth_multiplier)
  _update_hparams(hparams, is_training)
  num_classes = _check_inputs(images, num_classes, is_training, hparams, caller, final_endpoint, pnasnet=True)
  # No reduction cells: the cells and the two stem cells.
  cell = PNasNetNormalCell(hparams.num_conv_filters, hparams.drop_path_keep_prob, hparams.num_cells + 2,
                           hparams.total_training_steps, hparams.use_bounded_activation)
  with layers.BUILD_LOCK, slim.arg_scope([layers.dropout, nasnet_utils.drop_path, layers.batch_norm],
                                         is_training=is_training):
    return _build_pnasnet_base(images, cell, num_classes, hparams, is_training, final_endpoint, current_step,
                               global_pool)


def _build_pnasnet_base(images, normal_cell, num_classes, hparams, is_training, final_endpoint=None,
                        current_step=None, global_pool=True):
  """The stem, the cells, the auxiliary and final heads."""
  end_points = {}

  def add(name, net):
    end_points[name] = net
    return final_endpoint and name == final_endpoint

  reductions = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
  net, cell_outputs = _imagenet_stem(images, hparams, normal_cell, current_step)
  if add('Stem', net):
    return net, end_points
  levels = [None, 0, 1, 2]  # how many times each output was reduced (see nasnet._build_nasnet_base)
  aux_cells = [reductions[1] - 1] if len(reductions) >= 2 else []
  activation = tf.nn.relu6 if hparams.use_bounded_activation else tf.nn.relu
  filter_scaling = 1.0
  true_cell_num = 2
  for cell_num in range(hparams.num_cells):
    reduction = cell_num in reductions
    if reduction:
      filter_scaling *= hparams.filter_scaling_rate
    if hparams.skip_reduction_layer_input or not reduction:
      prev_layer, prev_level = cell_outputs[-2], levels[-2]
    net = normal_cell(net, scope=f'cell_{cell_num}', filter_scaling=filter_scaling, stride=2 if reduction else 1,
                      prev_layer=prev_layer, cell_num=true_cell_num, current_step=current_step,
                      prev_is_larger=_is_larger(prev_level, levels[-1]))
    if add(f'Cell_{cell_num}', net):
      return net, end_points
    true_cell_num += 1
    cell_outputs.append(net)
    levels.append(levels[-1] + int(reduction))
    if hparams.use_aux_head and cell_num in aux_cells and num_classes and is_training:
      _build_aux_head(activation(net), end_points, num_classes, hparams, scope=f'aux_{cell_num}')
  return _final_layer(net, end_points, add, num_classes, hparams, global_pool)
