"""slimnets.models.Backbone: eager networks with the graph's variable names, training with GradientTape (distribution:
tests/test_distributed.py)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_utils
from nets import resnet_v1
from tests.conftest import randomize_variables
from slimnets.weights import checkpoints
from slimnets.analysis import dry_build
from slimnets import models

pytestmark = pytest.mark.eager  # Backbone, Predictor, export and extract run eagerly

THIN = {'depth_multiplier': 0.125}  # resnet_v1_50 with its real names and 1/8 of its channels


def _graph_network(images, num_classes=None, **kwargs):
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    return resnet_v1.resnet_v1_50(images, num_classes, is_training=False, **THIN, **kwargs)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  """A thin resnet_v1_50 with 5 classes and random weights and statistics, saved by graph code."""
  with tf.Graph().as_default():
    _graph_network(tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3]), 5)
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      return tf.compat.v1.train.Saver().save(sess, str(tmp_path_factory.mktemp('tf2') / 'model.ckpt'))


def _graph_outputs(checkpoint_path, images, num_classes, **kwargs):
  with tf.Graph().as_default():
    net, end_points = _graph_network(tf.constant(images), num_classes, **kwargs)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, checkpoint_path)
      return sess.run((net, end_points))


def _images(size, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, [2, size, size + 3, 3]).astype(np.float32)


def test_variables_are_the_graph_networks():
  backbone = models.Backbone('resnet_v1_50', 10, output_stride=16, **THIN).build()
  expected = dry_build.build('resnet_v1_50', num_classes=10, output_stride=16, **THIN).variables
  got = {name: (tuple(v.shape.as_list()), v.trainable) for name, v in backbone.variables_by_name.items()}
  assert list(got) == list(expected) and got == expected
  assert {v.name for v in backbone.variables} == {name + ':0' for name in expected}
  assert len(backbone.trainable_variables) == sum(trainable for _, trainable in expected.values())


@pytest.mark.parametrize('size', [33, 40])
def test_outputs_equal_the_graph_network_with_the_same_checkpoint(checkpoint, size):
  images = _images(size)
  want_net, want_points = _graph_outputs(checkpoint, images, 5, output_stride=16, global_pool=False,
                                         spatial_squeeze=False)
  backbone = models.Backbone('resnet_v1_50', 5, output_stride=16, global_pool=False, spatial_squeeze=False, **THIN)
  report = backbone.restore(checkpoint)
  assert not report.missing and not report.mismatched and len(report.restored) == len(backbone.variables)
  net, end_points = backbone(images, training=False)
  assert sorted(end_points) == sorted(want_points)
  np.testing.assert_allclose(net.numpy(), want_net, rtol=1e-4, atol=1e-5)
  levels = backbone.feature_levels(end_points)
  np.testing.assert_allclose(levels['C3'].numpy(), want_points['resnet_v1_50/block2/unit_3/bottleneck_v1'],
                             rtol=1e-4, atol=1e-5)


def test_variables_are_created_once_and_reused_across_calls_and_traces():
  backbone = models.Backbone('resnet_v1_50', 3, **THIN)
  backbone(_images(33), training=False)
  created = {name: id(v) for name, v in backbone.variables_by_name.items()}

  @tf.function
  def twice(images, training):
    return backbone(images, training=training)[0] - backbone(images, training=training)[0]

  for size, training in ((33, False), (41, tf.constant(True))):
    difference = twice(_images(size), training)
    assert {name: id(v) for name, v in backbone.variables_by_name.items()} == created
  assert np.all(difference.numpy() == 0)


def test_training_step_reduces_the_loss_with_weight_decay_and_moving_averages():
  tf.random.set_seed(0)  # the initial weights: six steps from an unlucky draw once halved the loss too slowly
  backbone = models.Backbone('resnet_v1_50', 4, weight_decay=1e-3, **THIN)
  images = tf.constant(_images(33))
  labels = tf.constant([1, 3])
  optimizer = keras.optimizers.SGD(0.05, momentum=0.9)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      logits, _ = backbone(images, training=True)
      data_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
      loss = data_loss + backbone.regularization_loss()
    gradients = tape.gradient(loss, backbone.trainable_variables)
    optimizer.apply_gradients(zip(gradients, backbone.trainable_variables))
    return data_loss

  losses = [float(step()) for _ in range(6)]
  assert losses[-1] < 0.5 * losses[0]
  weights = [v for name, v in backbone.variables_by_name.items() if name.endswith('/weights')]
  assert len(weights) == 54  # 53 convolutions and the logits, as the graph build's REGULARIZATION_LOSSES
  expected_decay = 1e-3 * sum(float(tf.reduce_sum(w ** 2)) for w in weights) / 2
  assert float(backbone.regularization_loss()) == pytest.approx(expected_decay, rel=1e-5)
  moving_mean = backbone.variables_by_name['resnet_v1_50/conv1/BatchNorm/moving_mean']
  assert np.any(moving_mean.numpy() != 0)


def test_inference_leaves_the_moving_averages_alone():
  backbone = models.Backbone('resnet_v1_50', **THIN)
  backbone(_images(33), training=False)
  moving = [v for name, v in backbone.variables_by_name.items() if 'moving' in name]
  assert all(np.all(v.numpy() == (1 if 'variance' in v.name else 0)) for v in moving)


@pytest.mark.parametrize('network, kwargs, call_with, message', [
    ('resnet_v1_50', {}, tf.zeros([1, 33, 33, 4]), r'images must be \[batch, height, width, 3\], got shape'),
    ('resnet_v1_50', {}, tf.zeros([33, 33, 3]), r'images must be \[batch, height, width, 3\]'),
    ('resnet_v1_50', {}, tf.zeros([1, 33, 33, 3], tf.int32),
     'images must be uint8 pixels or a float tensor, got dtype int32'),
    ('resnet_v1_50', {'output_stride': 3}, tf.zeros([1, 33, 33, 3]), 'output_stride'),
])
def test_bad_calls_create_no_variables(network, kwargs, call_with, message):
  backbone = models.Backbone(network, **THIN, **kwargs)
  with pytest.raises(ValueError, match=message):
    backbone(call_with)
  assert not backbone.variables


@pytest.mark.parametrize('args, kwargs, message', [
    (('resnet_v1_5',), {}, "Unknown network name 'resnet_v1_5'. Did you mean 'resnet_v1_50'"),
    (('inception_v3',), {'output_stride': 16}, 'inception_v3 does not take output_stride; it takes'),
    (('resnet_v1_50',), {'in_channels': 0}, 'in_channels must be a positive int, got 0'),
])
def test_bad_options(args, kwargs, message):
  with pytest.raises(ValueError, match=message):
    models.Backbone(*args, **kwargs)


def test_bfloat16_images_compute_with_casts_of_the_float32_variables():
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  images = _images(33)
  full, _ = backbone(images, training=False)
  names = list(backbone.variables_by_name)
  half, _ = backbone(tf.cast(images, tf.bfloat16), training=False)
  assert half.dtype == tf.bfloat16
  assert list(backbone.variables_by_name) == names  # no new variables, all still float32
  assert {v.dtype for v in backbone.variables} == {tf.float32}
  error = np.abs(tf.cast(half, tf.float32).numpy() - full.numpy()).max() / np.abs(full.numpy()).max()
  assert 0 < error < 0.05


def test_float64_images_run_as_float32():
  backbone = models.Backbone('resnet_v1_50', 5, **THIN)
  images = np.random.RandomState(0).uniform(-1, 1, [1, 33, 33, 3])  # numpy's default float64
  logits, _ = backbone(images)
  assert logits.dtype == tf.float32 and {v.dtype for v in backbone.variables_by_name.values()} == {tf.float32}
  np.testing.assert_array_equal(logits.numpy(), backbone(images.astype(np.float32))[0].numpy())


def test_a_call_failing_inside_the_network_leaves_no_variables(monkeypatch):
  backbone = models.Backbone('resnet_v1_50', 5, **THIN)

  @slim.add_arg_scope
  def failing_stack(*args, **kwargs):
    raise RuntimeError('interrupted after the root')

  monkeypatch.setattr(resnet_utils, 'stack_blocks_dense', failing_stack)
  with pytest.raises(RuntimeError, match='interrupted after the root'):
    backbone(np.zeros([1, 33, 33, 3], np.float32))
  assert backbone.variables_by_name == {}  # conv1's variables were made, then dropped
  monkeypatch.undo()
  assert backbone(np.zeros([1, 33, 33, 3], np.float32))[0].shape == (1, 5)
  assert len(backbone.variables_by_name) == 267


def test_tf2_checkpoints_of_a_backbone_restore_by_name_in_eager_and_graph_code(tmp_path):
  trained = models.Backbone('resnet_v1_50', 5, **THIN).build()
  for i, variable in enumerate(trained.variables_by_name.values()):
    variable.assign(np.random.RandomState(i).normal(0, 0.1, variable.shape).astype(np.float32))
  images = np.random.RandomState(9).uniform(-1, 1, [1, 33, 33, 3]).astype(np.float32)
  want = trained(images)[0].numpy()
  object_based = tf.train.Checkpoint(model=trained).save(str(tmp_path / 'object' / 'ckpt'))
  name_based = trained.save(str(tmp_path / 'named' / 'model.ckpt'))
  with pytest.raises(FileExistsError):
    trained.save(name_based)
  for path in (object_based, name_based):
    fresh = models.Backbone('resnet_v1_50', 5, **THIN)
    report = fresh.restore(path, allow_missing=False)
    assert len(report.restored) == 267 and report.unused == (['save_counter/.ATTRIBUTES/VARIABLE_VALUE']
                                                            if path == object_based else [])
    np.testing.assert_array_equal(fresh(images)[0].numpy(), want)
    with tf.Graph().as_default():  # graph code restores the same file by name (through the initializers)
      net, _ = _graph_network(tf.constant(images), 5)
      checkpoints.restore(path, allow_missing=False)
      with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        np.testing.assert_allclose(sess.run(net), want, rtol=1e-5, atol=1e-5)


@pytest.mark.eager
def test_update_batch_norm_statistics_averages_each_batchs_statistics():
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, depth_multiplier=0.125).build(33)
  rng = np.random.RandomState(3)
  first, second = (rng.uniform(-1, 1, [3, 33, 33, 3]).astype(np.float32) for _ in range(2))
  names = [name for name in backbone.variables_by_name if name.endswith(('moving_mean', 'moving_variance'))]
  weights = {name: v.numpy() for name, v in backbone.variables_by_name.items() if v.trainable}

  def statistics(batches):
    assert models.update_batch_norm_statistics(backbone, batches) == len(batches)
    return {name: backbone.variables_by_name[name].numpy() for name in names}

  # In training mode each batch's statistics depend on the weights and images only, not on the moving averages:
  # over both batches each layer gets the mean of what each batch alone gives.
  alone = [statistics([first]), statistics([second])]
  both = statistics([first, second])
  assert len(names) == 2 * 53 and any(np.abs(alone[0][n] - alone[1][n]).max() > 1e-2 for n in names)
  for name in names:
    np.testing.assert_allclose(both[name], (alone[0][name] + alone[1][name]) / 2, rtol=1e-5, atol=1e-6)
  mean = backbone.variables_by_name['resnet_v1_50/conv1/BatchNorm/moving_mean'].numpy()
  assert not np.allclose(mean, 0.0)  # moved from its initial zeros
  for name, value in weights.items():
    np.testing.assert_array_equal(backbone.variables_by_name[name].numpy(), value)
  with pytest.raises(ValueError, match='update_batch_norm_statistics: batches holds no batch'):
    models.update_batch_norm_statistics(backbone, [])


@pytest.mark.eager
def test_update_batch_norm_statistics_needs_a_segmenter_that_fine_tunes_batch_norm():
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, model_variant='mobilenet_v2', depth_multiplier=0.25)
  frozen = models.Segmenter(options, fine_tune_batch_norm=False)
  with pytest.raises(ValueError, match=r'keeps batch norm frozen in training \(fine_tune_batch_norm=False\)'):
    models.update_batch_norm_statistics(frozen, [np.zeros([2, 33, 33, 3], np.float32)])
