"""NASNet-A and PNASNet beyond research/slim's manifests: the configs, any image size with the checkpoints'
variables, the drop-path schedule and its step in graph code, in `slimnets.models.Backbone` and in Keras's `fit`."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets.nasnet import nasnet
from nets.nasnet import nasnet_utils
from nets.nasnet import pnasnet

pytestmark = pytest.mark.once  # graph builds of fixed facts; the eager tests need TF2 behaviour anyway


def _six_cells(make_config):
  """A config of 6 cells (reductions after the 2nd and the 4th): every kind of cell and input, at half the cost."""
  config = make_config()
  config.set_hparam('num_cells', 6)
  return config


def _variables(build, shape, **kwargs):
  with tf.Graph().as_default() as graph:
    with slim.arg_scope(nasnet.nasnet_mobile_arg_scope()):
      net, end_points = build(tf.compat.v1.placeholder(tf.float32, shape), 5, **kwargs)
    return [(v.op.name, v.shape.as_list()) for v in tf.compat.v1.global_variables()], net, end_points, graph


def test_configs_and_reduction_layers_are_research_slims():
  assert nasnet_utils.calc_reduction_layers(12, 2) == [4, 8]
  assert nasnet_utils.calc_reduction_layers(18, 2) == [6, 12]
  assert nasnet_utils.calc_reduction_layers(9, 2) == [3, 6]
  config = nasnet.large_imagenet_config()
  assert (config.num_cells, config.num_conv_filters, config.drop_path_keep_prob, config.total_training_steps,
          config.skip_reduction_layer_input) == (18, 168, 0.7, 250000, 1)
  config.set_hparam('num_cells', 6)
  assert config.values()['num_cells'] == 6
  with pytest.raises(KeyError, match="'num_cell' is not a hyperparameter of this configuration; it has stem_mult"):
    config.set_hparam('num_cell', 6)
  assert (pnasnet.large_imagenet_config().num_conv_filters, pnasnet.mobile_imagenet_config().num_cells) == (216, 9)


@pytest.mark.parametrize('build,config', [(nasnet.build_nasnet_mobile, nasnet.mobile_imagenet_config),
                                          (pnasnet.build_pnasnet_mobile, pnasnet.mobile_imagenet_config)])
def test_unknown_and_tiny_images_build_the_variables_of_the_default_size(build, config):
  """research/slim compares static widths: unknown sizes fail, and a 1-pixel map left at 1 pixel by a stride-2
  layer builds a 1x1 convolution in place of the factorized reduction (variables no checkpoint has)."""
  options = {'is_training': False, 'depth_multiplier': 0.125, 'config': _six_cells(config)}
  default, _, _, _ = _variables(build, [1, 224, 224, 3], **options)
  unknown, net, end_points, _ = _variables(build, [None, None, None, 3], **options)
  tiny, _, tiny_points, _ = _variables(build, [1, 16, 16, 3], **options)
  assert unknown == default and tiny == default
  assert net.shape.as_list() == [None, 5]
  assert end_points['Cell_5'].shape.as_list()[1:3] == [None, None]
  assert tiny_points['Cell_5'].shape.as_list()[1:3] == [1, 1]  # 16 -> conv0 7 -> 4, 2, 1, 1


def test_global_pool_false_without_classes_returns_the_last_cells_map(graph):
  with slim.arg_scope(nasnet.nasnet_mobile_arg_scope()):
    net, end_points = nasnet.build_nasnet_mobile(tf.zeros([2, 99, 99, 3]), None, is_training=False,
                                                 global_pool=False, depth_multiplier=0.125)
  assert net.shape.as_list() == [2, 4, 4, 192] and 'global_pool' not in end_points
  assert net.op.type == 'Relu' and net.op.inputs[0] is end_points['Cell_11']


def test_drop_path_reads_the_global_step_made_before_the_network_or_the_step_given(graph):
  step = tf.compat.v1.train.get_or_create_global_step()
  with slim.arg_scope(nasnet.nasnet_large_arg_scope()):
    nasnet.build_nasnet_large(tf.zeros([1, 67, 67, 3]), 3, depth_multiplier=0.125,
                              config=_six_cells(nasnet.large_imagenet_config))
  assert [v for v in tf.compat.v1.global_variables() if 'global_step' in v.op.name] == [step]
  uniforms = [op for op in graph.get_operations() if op.type == 'RandomUniform']
  # one per operation but 'none' of the 10 cells (6 normal of 8, 2 stem and 2 reduction cells of 9) and the
  # final dropout's
  assert len(uniforms) == 6 * 8 + 4 * 9 + 1
  with tf.Graph().as_default():
    current = tf.compat.v1.placeholder(tf.int64, [])
    with slim.arg_scope(pnasnet.pnasnet_large_arg_scope()):
      pnasnet.build_pnasnet_large(tf.zeros([1, 67, 67, 3]), 3, depth_multiplier=0.125, current_step=current,
                                  config=_six_cells(pnasnet.large_imagenet_config))
    assert not tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.GLOBAL_STEP)


def _keep_probability(step, cell_num, total_cells=22, final=0.7, steps=250000):
  """research/slim's schedule 'v3': the drop probability grows with depth and with training."""
  return 1 - min(1.0, step / steps) * (cell_num + 1) / total_cells * (1 - final)


def test_the_drop_path_schedule_in_graph_code(graph):
  step = tf.compat.v1.placeholder(tf.int64, [])
  cell = nasnet_utils.NasNetANormalCell(8, 0.7, 22, 250000)
  cell._cell_num = 10  # pylint: disable=protected-access
  ones = tf.ones([4000, 1, 1, 1])
  with slim.arg_scope([nasnet_utils.drop_path], is_training=True):
    dropped = cell._apply_drop_path(ones, current_step=step)  # pylint: disable=protected-access
  with tf.compat.v1.Session() as session:
    for value in (0, 125000, 500000):
      out = session.run(dropped, {step: value}).reshape(-1)
      keep = _keep_probability(value, 10)
      kept = out > 0
      np.testing.assert_allclose(out[kept], 1 / keep, rtol=1e-6)
      assert abs(kept.mean() - keep) < 0.02, (value, kept.mean(), keep)


@pytest.mark.eager
def test_a_backbone_counts_its_training_calls_as_the_drop_path_step():
  from slimnets import models  # pylint: disable=import-outside-toplevel
  backbone = models.Backbone('nasnet_large', None, depth_multiplier=0.125,
                             config=_six_cells(nasnet.large_imagenet_config))
  images = tf.random.stateless_uniform([2, 64, 64, 3], [1, 2])
  backbone(images, training=True)
  backbone(images, training=False)
  step, = [v for v in backbone.variables if v.name.startswith(models.backbone.DROP_PATH_STEP)]
  assert step.numpy() == 1 and step.dtype == tf.int64 and not step.trainable
  assert models.backbone.DROP_PATH_STEP not in backbone.variables_by_name  # TF-Slim checkpoints do not hold it
  step.assign(250000)  # the end of the schedule: paths are dropped at random, so two calls differ
  first, _ = backbone(images, training=True)
  second, _ = backbone(images, training=True)
  assert np.abs(first - second).max() > 0.1 and step.numpy() == 250002
  traced = tf.function(lambda x: backbone(x, training=True)[0])
  traced(images)
  traced(images)
  assert step.numpy() == 250004


@pytest.mark.eager
def test_keras_fit_trains_with_the_auxiliary_head_built_and_counts_the_steps():
  import keras  # pylint: disable=import-outside-toplevel
  from slimnets import keras as slimnets_keras  # pylint: disable=import-outside-toplevel
  model = slimnets_keras.Backbone('pnasnet_mobile', 3, depth_multiplier=0.125)
  assert any(name.startswith('aux_5/aux_logits/') for name in model.variables_by_name)  # traced at build
  model.compile(keras.optimizers.SGD(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  images = np.random.RandomState(0).uniform(-1, 1, [4, 72, 72, 3]).astype(np.float32)
  model.fit(images, np.array([0, 1, 2, 0]), batch_size=2, epochs=1, verbose=0)
  assert int(model.variables_by_name['drop_path_step'].numpy()) == 2
