"""VGG, AlexNet v2 and OverFeat (nets.classic and its three public modules): sizes, FCN use, heads, errors.

The manifests (test_reference_manifests) pin the default builds; these pin what follows from the sizes: the
exact minimum of each network and its reason, the logits map of the fully convolutional use at any size,
global pooling, and the errors that come before anything is created.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import alexnet
from nets import classic
from nets import nets_factory
from nets import overfeat
from nets import vgg


def _build(fn, scope_fn, shape, **kwargs):
  images = tf.compat.v1.placeholder(tf.float32, shape)
  with slim.arg_scope(scope_fn()):
    return (images, *fn(images, **kwargs))


@pytest.mark.parametrize('design, padding, minimum', [
    (vgg.VGG_A, 'VALID', 224), (vgg.VGG_16, 'VALID', 224), (vgg.VGG_19, 'VALID', 224), (vgg.VGG_16, 'SAME', 32),
    (alexnet.ALEXNET_V2, 'VALID', 195), (overfeat.OVERFEAT, 'VALID', 231)])
def test_minimum_input_sizes(design, padding, minimum):
  assert classic.minimum_input_size(design, padding) == minimum
  assert classic.output_size(design, minimum, padding) == 1
  assert classic.output_size(design, minimum - 1, padding) < 1


@pytest.mark.parametrize('fn, scope_fn, size, kwargs, message', [
    (vgg.vgg_16, vgg.vgg_arg_scope, 223, {},
     "vgg_16: inputs of 223x223 are too small: they give a 6x6 pool5, and fc6 is a 7x7 VALID convolution "
     "(fc_conv_padding='VALID'); it needs inputs of at least 224x224; fc_conv_padding='SAME' builds from 32x32; "
     "resize or pad the images"),
    (vgg.vgg_16, vgg.vgg_arg_scope, 31, {'fc_conv_padding': 'SAME', 'num_classes': None},
     'vgg_16: inputs of 31x31 are too small: the VALID max pools of the trunk leave nothing of them; it needs '
     'inputs of at least 32x32; resize or pad the images'),
    (alexnet.alexnet_v2, alexnet.alexnet_v2_arg_scope, 194, {},
     'alexnet_v2: inputs of 194x194 are too small: they give a 4x4 pool5, and fc6 is a 5x5 VALID convolution; '
     'it needs inputs of at least 195x195; resize or pad the images'),
    (overfeat.overfeat, overfeat.overfeat_arg_scope, 230, {'global_pool': True},
     'overfeat: inputs of 230x230 are too small: they give a 5x5 pool5, and fc6 is a 6x6 VALID convolution; '
     'it needs inputs of at least 231x231; resize or pad the images'),
    (vgg.vgg_19, vgg.vgg_arg_scope, 321, {},
     'vgg_19: inputs of 321x321 give 4x4 logits (fc8) without global pooling, which spatial_squeeze=True cannot '
     'squeeze to [batch, num_classes]; pass global_pool=True (one prediction per image at any size, same '
     'variables) or spatial_squeeze=False (a map of predictions, as FCN)'),
    (vgg.vgg_a, vgg.vgg_arg_scope, 224, {'fc_conv_padding': 'same'},
     "vgg_a: fc_conv_padding must be 'VALID' (fc6 sees the whole 7x7 map, as in training) or 'SAME' (a "
     "prediction map at stride 32), got 'same'"),
    (alexnet.alexnet_v2, alexnet.alexnet_v2_arg_scope, 224, {'dropout_keep_prob': 0},
     r'alexnet_v2: dropout_keep_prob must be a number in (0, 1] (or a scalar tensor), got 0'),
])
def test_errors_come_before_anything_is_built(graph, fn, scope_fn, size, kwargs, message):
  images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
  with slim.arg_scope(scope_fn()):
    with pytest.raises(ValueError) as error:
      fn(images, **kwargs)
  assert str(error.value) == message
  assert graph.get_operations() == [images.op]


def test_vgg_16_fully_convolutional_at_any_size(graph):
  del graph
  # FCN: fc6 VALID gives (H // 32 - 6) x (W // 32 - 6) logits with the classification variables
  _, net, end_points = _build(vgg.vgg_16, vgg.vgg_arg_scope, [1, 400, 300, 3], num_classes=21, spatial_squeeze=False,
                           is_training=False, depth_multiplier=0.125)
  assert net.shape.as_list() == [1, 6, 3, 21]
  assert end_points['vgg_16/pool5'].shape.as_list() == [1, 12, 9, 64]
  assert end_points['vgg_16/fc7'].shape.as_list() == [1, 6, 3, 512]
  variables = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert variables['vgg_16/fc6/weights'] == [7, 7, 64, 512]


def test_vgg_same_fc6_and_global_pool(graph):
  del graph
  images, net, _ = _build(vgg.vgg_19, vgg.vgg_arg_scope, [2, None, None, 3], num_classes=5, spatial_squeeze=False,
                          fc_conv_padding='SAME', depth_multiplier=0.125)
  assert net.shape.as_list() == [2, None, None, 5]
  with tf.compat.v1.variable_scope('pooled'):
    _, pooled, pooled_points = _build(vgg.vgg_19, vgg.vgg_arg_scope, [2, 250, 330, 3], num_classes=5, global_pool=True,
                                      depth_multiplier=0.125)
  assert pooled.shape.as_list() == [2, 5]
  assert pooled_points['global_pool'].shape.as_list() == [2, 1, 1, 512]
  assert list(pooled_points)[-3:] == ['pooled/vgg_19/fc7', 'global_pool', 'pooled/vgg_19/fc8']
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    feed = np.random.RandomState(0).uniform(-100, 100, [2, 64, 96, 3])
    # SAME fc6 at 64x96: the stride-32 map of logits
    assert sess.run(net, {images: feed}).shape == (2, 2, 3, 5)


def test_features_only_is_fc7_and_dropout_follows_a_tensor(graph):
  del graph
  keep = tf.compat.v1.placeholder_with_default(1.0, [])
  training = tf.compat.v1.placeholder_with_default(False, [])
  images, net, end_points = _build(alexnet.alexnet_v2, alexnet.alexnet_v2_arg_scope, [1, 224, 224, 3], num_classes=None,
                           dropout_keep_prob=keep, is_training=training, depth_multiplier=0.25)
  assert net is end_points['alexnet_v2/fc7'] and net.shape.as_list() == [1, 1, 1, 1024]
  assert 'alexnet_v2/fc8' not in end_points
  variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    # AlexNet's head keeps research/slim's initializers: biases of 0.1 in fc6/fc7 and in the arg scope's convs
    assert np.all(sess.run(variables['alexnet_v2/fc7/biases']) == np.float32(0.1))
    assert np.all(sess.run(variables['alexnet_v2/conv1/biases']) == np.float32(0.1))
    image = np.random.RandomState(1).uniform(-100, 100, [1, 224, 224, 3])
    evaluation = sess.run(net, {images: image})
    np.testing.assert_array_equal(sess.run(net, {images: image, training: True}), evaluation)  # keep 1
    assert not np.array_equal(sess.run(net, {images: image, training: True, keep: 0.5}), evaluation)


def test_research_slim_imports_and_factory_names():
  assert vgg.vgg_d is vgg.vgg_16 and vgg.vgg_e is vgg.vgg_19
  assert (vgg.vgg_16.default_image_size, alexnet.alexnet_v2.default_image_size,
          overfeat.overfeat.default_image_size) == (224, 224, 231)
  for name in ('vgg_a', 'vgg_16', 'vgg_19', 'alexnet_v2', 'overfeat'):
    spec = nets_factory.get_spec(name)
    assert nets_factory.networks_map[name] is spec.fn
    assert spec.minimum_input_size(True) == spec.minimum_input_size(False)  # fc6 is built either way
  assert nets_factory.get_spec('vgg_16').published().url.endswith('/vgg_16_2016_08_28.tar.gz')
  with pytest.raises(ValueError, match='vgg_a has no published TF-Slim checkpoint'):
    nets_factory.get_spec('vgg_a').published()


def _thin_vgg(images, num_classes, **kwargs):
  with slim.arg_scope(vgg.vgg_arg_scope()):
    return vgg.vgg_16(images, num_classes, is_training=False, depth_multiplier=0.125, **kwargs)[0]


def test_a_research_slim_checkpoint_adapts_to_6_channels_and_21_classes_for_fcn(tmp_path):
  from slimnets.weights import checkpoints  # pylint: disable=import-outside-toplevel
  from tests.conftest import randomize_variables  # pylint: disable=import-outside-toplevel
  rgb = np.random.RandomState(0).uniform(-100, 100, [1, 256, 288, 3]).astype(np.float32)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 256, 288, 3])
    net = _thin_vgg(images, 1000, spatial_squeeze=False)
    fc7 = tf.compat.v1.get_default_graph().get_tensor_by_name('vgg_16/fc7/Relu:0')
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'vgg_16.ckpt'))  # research/slim's names
      expected = sess.run(fc7, {images: rgb})
  assert net.shape.as_list() == [1, 2, 3, 1000]
  adapted = checkpoints.adapt(checkpoints.read(path), 'vgg_16', in_channels=6, channel_mode='repeat', num_classes=21)
  assert adapted['vgg_16/conv1/conv1_1/weights'].shape == (3, 3, 6, 8) and 'vgg_16/fc8/weights' not in adapted
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 256, 288, 6])
    net = _thin_vgg(images, 21, spatial_squeeze=False)
    report = checkpoints.restore(checkpoints.write(adapted, str(tmp_path / 'adapted')))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      fc7 = tf.compat.v1.get_default_graph().get_tensor_by_name('vgg_16/fc7/Relu:0')
      got, logits = sess.run([fc7, net], {images: np.concatenate([rgb, rgb], axis=-1)})
  assert report.missing == ['vgg_16/fc8/weights', 'vgg_16/fc8/biases'] and len(report.restored) == 30
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-3 * np.abs(expected).max())
  assert logits.shape == (1, 2, 3, 21)


@pytest.mark.eager
def test_eager_backbone_has_the_graph_names_and_levels():
  from slimnets import models  # pylint: disable=import-outside-toplevel
  backbone = models.Backbone('overfeat', depth_multiplier=0.125)
  net, end_points = backbone(np.zeros([1, 263, 231, 3]), training=False)  # float64 is cast
  assert net.shape == (1, 2, 1, 512)  # fc7: pool5 7x6, fc6 6x6 VALID
  levels = backbone.feature_levels(end_points)
  assert {name: tuple(t.shape) for name, t in levels.items()} == {
      'C2': (1, 64, 56, 8), 'C3': (1, 28, 24, 32), 'C4': (1, 14, 12, 128), 'C5': (1, 2, 1, 512)}
  names = sorted(v.name for v in backbone.trainable_variables)  # no fc8 without classes
  assert len(names) == 14 and names[:2] == ['overfeat/conv1/biases:0', 'overfeat/conv1/weights:0']
  assert names[-2:] == ['overfeat/fc7/biases:0', 'overfeat/fc7/weights:0']
