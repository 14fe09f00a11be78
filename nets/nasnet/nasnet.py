"""NASNet-A (Zoph et al., "Learning Transferable Architectures for Scalable Image Recognition", arXiv:1707.07012)
with research/slim's API (nets/nasnet/nasnet.py): `build_nasnet_mobile` (224), `build_nasnet_large` (331),
`build_nasnet_cifar` (32), their configs (`mobile_imagenet_config`, ...) and arg scopes; scope, end point and
variable names as research/slim's (there is no enclosing scope: 'conv0/weights', 'cell_0/...', 'final_layer/FC').

The ImageNet networks: a 3x3 VALID convolution of stride 2, two reduction cells as the stem ('Stem', stride 8),
then `num_cells` normal cells in three stacks separated by reduction cells ('Cell_k', 'Reduction_Cell_k', strides
8, 16 and 32), an auxiliary head on the last cell at stride 16 in training ('AuxLogits'), and the global average
pool ('global_pool') before the dropout and the fully connected classifier ('final_layer/FC').

In training mode (`is_training=True`) with a `drop_path_keep_prob` below 1 (the large network's 0.7), drop-path
reads the training step: `current_step`, or the graph's global step, which research/slim creates inside the first
cell where none exists ('cell_stem_0/comb_iter_0/left/global_step'); create it before the network (e.g.
`tf.compat.v1.train.get_or_create_global_step()`) to have it outside. Inference mode has no drop-path.

    with slim.arg_scope(nasnet.nasnet_mobile_arg_scope()):
      logits, end_points = nasnet.build_nasnet_mobile(images, num_classes=1001, is_training=False)

The published checkpoints have 1001 classes (background first) and expect images scaled to [-1, 1].
Extensions: `global_pool=False` without classes returns the last cell's map (after its relu) instead of the
pooled vector; `depth_multiplier` scales every filter count; the smallest input is `minimum_input_size`.
"""

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers
from nets.nasnet import nasnet_utils


def cifar_config() -> nasnet_utils.HParams:
  """NASNet-A for CIFAR-10 (32x32): 18 cells of 32 filters, drop-path to 0.6 over 937500 steps."""
  return nasnet_utils.HParams(stem_multiplier=3.0, drop_path_keep_prob=0.6, num_cells=18, use_aux_head=1,
                              num_conv_filters=32, dense_dropout_keep_prob=1.0, filter_scaling_rate=2.0,
                              num_reduction_layers=2, data_format='NHWC', skip_reduction_layer_input=0,
                              total_training_steps=937500, use_bounded_activation=False)


def large_imagenet_config() -> nasnet_utils.HParams:
  """NASNet-A 6@4032 for ImageNet (331x331): 18 cells of 168 filters, drop-path to 0.7 over 250000 steps."""
  return nasnet_utils.HParams(stem_multiplier=3.0, dense_dropout_keep_prob=0.5, num_cells=18, filter_scaling_rate=2.0,
                              num_conv_filters=168, drop_path_keep_prob=0.7, use_aux_head=1, num_reduction_layers=2,
                              data_format='NHWC', skip_reduction_layer_input=1, total_training_steps=250000,
                              use_bounded_activation=False)


def mobile_imagenet_config() -> nasnet_utils.HParams:
  """NASNet-A 4@1056 for ImageNet (224x224): 12 cells of 44 filters, no drop-path."""
  return nasnet_utils.HParams(stem_multiplier=1.0, dense_dropout_keep_prob=0.5, num_cells=12, filter_scaling_rate=2.0,
                              drop_path_keep_prob=1.0, num_conv_filters=44, use_aux_head=1, num_reduction_layers=2,
                              data_format='NHWC', skip_reduction_layer_input=0, total_training_steps=250000,
                              use_bounded_activation=False)


def _update_hparams(hparams: nasnet_utils.HParams, is_training: bool) -> None:
  """No drop-path outside training."""
  if not is_training:
    hparams.set_hparam('drop_path_keep_prob', 1.0)


def _arg_scope(weight_decay: float, batch_norm_decay: float, batch_norm_epsilon: float,
               batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """He initialization on the fan-out, L2 weight decay, no activation or biases in the convolutions (the cells
  apply relu themselves), batch norm with scale, the classifier scoped 'FC'. `batch_norm_updates_collections`
  (keyword only in the functions below; every arg scope of the factory takes it): where the moving average
  updates go, None to update in place."""
  regularizer = slim.l2_regularizer(weight_decay)
  initializer = slim.variance_scaling_initializer(mode='FAN_OUT')
  with layers.BUILD_LOCK, slim.arg_scope([layers.fully_connected, layers.conv2d, layers.separable_conv2d],
                                         weights_regularizer=regularizer, weights_initializer=initializer):
    with slim.arg_scope([layers.fully_connected], activation_fn=None, scope='FC'):
      with slim.arg_scope([layers.conv2d, layers.separable_conv2d], activation_fn=None, biases_initializer=None):
        with slim.arg_scope([layers.batch_norm], decay=batch_norm_decay, epsilon=batch_norm_epsilon, scale=True,
                            fused=True, updates_collections=batch_norm_updates_collections) as sc:
          return sc


def nasnet_cifar_arg_scope(weight_decay=5e-4, batch_norm_decay=0.9, batch_norm_epsilon=1e-5, *,
                          batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The arg scope of NASNet-A for CIFAR."""
  return _arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, batch_norm_updates_collections)


def nasnet_mobile_arg_scope(weight_decay=4e-5, batch_norm_decay=0.9997, batch_norm_epsilon=1e-3, *,
                          batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The arg scope of NASNet-A mobile."""
  return _arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, batch_norm_updates_collections)


def nasnet_large_arg_scope(weight_decay=5e-5, batch_norm_decay=0.9997, batch_norm_epsilon=1e-3, *,
                          batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The arg scope of NASNet-A large."""
  return _arg_scope(weight_decay, batch_norm_decay, batch_norm_epsilon, batch_norm_updates_collections)


def _build_aux_head(net, end_points, num_classes, hparams, scope):
  """The auxiliary classifier: 5x5/3 VALID average pool, 1x1 to 128, a convolution over the whole remaining map to
  768, the fully connected classifier ('AuxLogits')."""
  activation = tf.nn.relu6 if hparams.use_bounded_activation else tf.nn.relu
  with tf.compat.v1.variable_scope(scope):
    with tf.compat.v1.variable_scope('aux_logits'):
      aux = layers.avg_pool2d(tf.identity(net), [5, 5], stride=3, padding='VALID')
      aux = activation(layers.batch_norm(layers.conv2d(aux, 128, [1, 1], scope='proj'), scope='aux_bn0'))
      kernel = aux.shape[1:3].as_list()
      if None in kernel:
        raise ValueError(f'{scope}: the auxiliary head needs a known image size (its last convolution spans the '
                         f'whole map), got a map of {kernel}; build with is_training=False or a known size')
      aux = layers.conv2d(aux, 768, kernel, padding='VALID')
      aux = activation(layers.batch_norm(aux, scope='aux_bn1'))
      end_points['AuxLogits'] = layers.fully_connected(layers.flatten(aux), num_classes)


def _imagenet_stem(inputs, hparams, stem_cell, current_step=None):
  """conv0 (3x3/2 VALID) and two stride-2 stem cells; returns the net and the outputs the cells read."""
  net = layers.conv2d(inputs, hparams.stem_filters, [3, 3], stride=2, padding='VALID', scope='conv0')
  net = layers.batch_norm(net, scope='conv0_bn')
  cell_outputs = [None, net]
  filter_scaling = 1.0 / hparams.filter_scaling_rate ** 2
  for cell_num in range(2):
    net = stem_cell(net, scope=f'cell_stem_{cell_num}', filter_scaling=filter_scaling, stride=2,
                    prev_layer=cell_outputs[-2], cell_num=cell_num, current_step=current_step,
                    prev_is_larger=cell_num > 0)
    cell_outputs.append(net)
    filter_scaling *= hparams.filter_scaling_rate
  return net, cell_outputs


def _cifar_stem(inputs, hparams):
  net = layers.conv2d(inputs, int(hparams.num_conv_filters * hparams.stem_multiplier), 3, scope='l1_stem_3x3')
  net = layers.batch_norm(net, scope='l1_stem_bn')
  return net, [None, net]


def minimum_input_size(with_aux_head: bool = False) -> int:
  """The smallest input height and width: 3 (conv0 is a 3x3 VALID convolution; every later layer pads SAME), or
  67 with the auxiliary head of training, whose 5x5 VALID pool needs a map of 5 at stride 16 (before conv0's
  border: (5 - 1) * 16 + 3)."""
  return 67 if with_aux_head else 3


def end_point_names(hparams, pnasnet: bool = False) -> list:
  """The end points of a build of `hparams`, in order (the auxiliary head's 'AuxLogits' aside); PNASNet has no
  reduction cells."""
  reductions = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
  names = ['Stem']
  for cell in range(hparams.num_cells):
    if cell in reductions and not pnasnet:
      names.append(f'Reduction_Cell_{reductions.index(cell)}')
    names.append(f'Cell_{cell}')
  return names + ['global_pool', 'Logits', 'Predictions']


def _check_inputs(images, num_classes, is_training, hparams, caller, final_endpoint=None, pnasnet=False):
  names = end_point_names(hparams, pnasnet)
  if final_endpoint is not None and final_endpoint not in names:
    raise ValueError(f'{caller}: final_endpoint must be None or one of {", ".join(names)}, got {final_endpoint!r}')
  checks.check_images(images, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  aux = bool(hparams.use_aux_head and num_classes and is_training)
  minimum = minimum_input_size(aux)
  for axis, size in zip(('height', 'width'), images.shape.as_list()[1:3]):
    if size is not None and size < minimum:
      why = ' (with the auxiliary head of training)' if aux else ''
      raise ValueError(f'{caller}: the images are {size} pixels in {axis}; the network needs at least {minimum}{why}')
  return num_classes


def build_nasnet_cifar(images, num_classes, is_training=True, config=None, current_step=None, global_pool=True,
                       depth_multiplier=1.0):
  """NASNet-A for CIFAR-10 (32x32 images); see `build_nasnet_mobile`."""
  return _build('build_nasnet_cifar', cifar_config, images, num_classes, is_training, None, config, current_step,
                'cifar', global_pool, depth_multiplier)


build_nasnet_cifar.default_image_size = 32


def build_nasnet_mobile(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None,
                        global_pool=True, depth_multiplier=1.0):
  """NASNet-A mobile (4@1056) for ImageNet.

  Args:
    images: [batch, height, width, 3] float images, scaled to [-1, 1]; any size from 3 (67 with the auxiliary head
      of training).
    num_classes: the classes of the classifier; None or 0: no classifier, the pooled features are returned.
    is_training: batch norm statistics, dropout, drop-path and the auxiliary head are training's.
    final_endpoint: stop after this end point ('Stem', 'Cell_3', 'Reduction_Cell_0', ..., 'Predictions').
    config: an `HParams` (default `mobile_imagenet_config()`); it is copied, not changed.
    current_step: the training step for the drop-path schedule; None: the global step.
    global_pool: without classes, False returns the last cell's activated map instead of its average.
    depth_multiplier: scales the filters of the stem and of every cell (at least 8 at filter scaling 1; an
      extension, for thin networks in tests and experiments).

  Returns:
    (logits, end_points); without classes (features, end_points).
  """
  return _build('build_nasnet_mobile', mobile_imagenet_config, images, num_classes, is_training, final_endpoint,
                config, current_step, 'imagenet', global_pool, depth_multiplier)


build_nasnet_mobile.default_image_size = 224


def build_nasnet_large(images, num_classes, is_training=True, final_endpoint=None, config=None, current_step=None,
                       global_pool=True, depth_multiplier=1.0):
  """NASNet-A large (6@4032) for ImageNet; arguments as `build_nasnet_mobile`'s (default
  `large_imagenet_config()`)."""
  return _build('build_nasnet_large', large_imagenet_config, images, num_classes, is_training, final_endpoint,
                config, current_step, 'imagenet', global_pool, depth_multiplier)


build_nasnet_large.default_image_size = 331


def _build(caller, default_config, images, num_classes, is_training, final_endpoint, config, current_step, stem_type,
           global_pool, depth_multiplier):
  hparams = nasnet_utils.check_config(default_config() if config is None else config, caller, depth_multiplier)
  _update_hparams(hparams, is_training)
  num_classes = _check_inputs(images, num_classes, is_training, hparams, caller, final_endpoint)
  # The cells and the reduction cells, and the two stem cells of the ImageNet networks.
  total_num_cells = hparams.num_cells + 2 + (2 if stem_type == 'imagenet' else 0)
  cell_args = (hparams.num_conv_filters, hparams.drop_path_keep_prob, total_num_cells, hparams.total_training_steps,
               hparams.use_bounded_activation)
  normal_cell = nasnet_utils.NasNetANormalCell(*cell_args)
  reduction_cell = nasnet_utils.NasNetAReductionCell(*cell_args)
  with layers.BUILD_LOCK, slim.arg_scope([layers.dropout, nasnet_utils.drop_path, layers.batch_norm],
                                         is_training=is_training):
    return _build_nasnet_base(images, normal_cell, reduction_cell, num_classes, hparams, is_training, stem_type,
                              final_endpoint, current_step, global_pool)


def _build_nasnet_base(images, normal_cell, reduction_cell, num_classes, hparams, is_training, stem_type,
                       final_endpoint=None, current_step=None, global_pool=True):
  """The stem, the cells, the auxiliary and final heads."""
  end_points = {}

  def add(name, net):
    end_points[name] = net
    return final_endpoint and name == final_endpoint

  reductions = nasnet_utils.calc_reduction_layers(hparams.num_cells, hparams.num_reduction_layers)
  if stem_type == 'imagenet':
    net, cell_outputs = _imagenet_stem(images, hparams, reduction_cell, current_step)
  else:
    net, cell_outputs = _cifar_stem(images, hparams)
  if add('Stem', net):
    return net, end_points
  # How many times each cell output was reduced (stride 2), to tell the cells which inputs they must reduce.
  levels = [None, 0] + ([1, 2] if stem_type == 'imagenet' else [])
  aux_cells = [reductions[1] - 1] if len(reductions) >= 2 else []
  activation = tf.nn.relu6 if hparams.use_bounded_activation else tf.nn.relu
  filter_scaling = 1.0
  true_cell_num = 2 if stem_type == 'imagenet' else 0
  for cell_num in range(hparams.num_cells):
    if hparams.skip_reduction_layer_input:
      prev_layer, prev_level = cell_outputs[-2], levels[-2]
    if cell_num in reductions:
      filter_scaling *= hparams.filter_scaling_rate
      index = reductions.index(cell_num)
      net = reduction_cell(net, scope=f'reduction_cell_{index}', filter_scaling=filter_scaling, stride=2,
                           prev_layer=cell_outputs[-2], cell_num=true_cell_num, current_step=current_step,
                           prev_is_larger=_is_larger(levels[-2], levels[-1]))
      if add(f'Reduction_Cell_{index}', net):
        return net, end_points
      true_cell_num += 1
      cell_outputs.append(net)
      levels.append(levels[-1] + 1)
    if not hparams.skip_reduction_layer_input:
      prev_layer, prev_level = cell_outputs[-2], levels[-2]
    net = normal_cell(net, scope=f'cell_{cell_num}', filter_scaling=filter_scaling, stride=1, prev_layer=prev_layer,
                      cell_num=true_cell_num, current_step=current_step,
                      prev_is_larger=_is_larger(prev_level, levels[-1]))
    if add(f'Cell_{cell_num}', net):
      return net, end_points
    true_cell_num += 1
    if hparams.use_aux_head and cell_num in aux_cells and num_classes and is_training:
      _build_aux_head(activation(net), end_points, num_classes, hparams, scope=f'aux_{cell_num}')
    cell_outputs.append(net)
    levels.append(levels[-1])
  return _final_layer(net, end_points, add, num_classes, hparams, global_pool)


def _is_larger(prev_level, level) -> bool:
  """Whether a previous layer reduced `prev_level` times (None: no layer) is larger than one reduced `level`
  times."""
  return prev_level is not None and prev_level < level


def _final_layer(net, end_points, add, num_classes, hparams, global_pool):
  """relu, global average pool ('global_pool'), dropout and the classifier ('final_layer/FC')."""
  with tf.compat.v1.variable_scope('final_layer'):
    net = tf.nn.relu6(net) if hparams.use_bounded_activation else tf.nn.relu(net)
    if not num_classes and not global_pool:
      return net, end_points
    net = nasnet_utils.global_avg_pool(net)
    if add('global_pool', net) or not num_classes:
      return net, end_points
    net = layers.dropout(net, hparams.dense_dropout_keep_prob, scope='dropout')
    logits = layers.fully_connected(net, num_classes)
    if add('Logits', logits):
      return net, end_points
    predictions = tf.nn.softmax(logits, name='predictions')
    if add('Predictions', predictions):
      return net, end_points
  return logits, end_points
