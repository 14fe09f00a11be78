"""TF1 programs as their users run them: placeholders, sessions, savers, TF1 size types, tf-slim's layers in scopes.

Run in both behaviours by CI (`--tf-behavior=v1` applies `tf.compat.v1.disable_v2_behavior()` first); the
numbers asked of each test are the same in both.
"""

import functools

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import deeplab
from nets import inception_v3
from nets import layers
from nets import nets_factory
from nets import resnet_utils
from nets import resnet_v1
from tests.conftest import atrous_rate
from tests.conftest import randomize_variables
from tests.conftest import tf1_behavior

Dimension = tf.compat.v1.Dimension

# Thin versions of every factory network, so that running, saving and restoring them stays fast.
THIN = {name: {'depth_multiplier': 0.1 if name == 'inception_v3' else 0.125} for name in nets_factory.REGISTRY}
_DENSE = {'output_stride': np.int64(16), 'global_pool': False, 'spatial_squeeze': False}
DENSE = {name: ({"global_pool": True, "create_aux_logits": False, "spatial_squeeze": False} if name == "inception_v3"
                else {k: v for k, v in _DENSE.items() if k in nets_factory.get_spec(name).options})
         for name in nets_factory.REGISTRY}
for _pooling in ('inception_resnet_v2', 'inception_v4'):  # their heads always pool: [batch, classes]
  DENSE[_pooling] = {'create_aux_logits': False}
_NASNETS = ('nasnet_mobile', 'nasnet_large', 'pnasnet_mobile', 'pnasnet_large')
for _pooling in _NASNETS:  # so do NASNet's and PNASNet's (no output_stride; no auxiliary head in inference)
  DENSE[_pooling] = {}
# Their last cell at 321 (conv0 3x3 VALID: 160, then strides 2, 4, 8, 16: 10x10): 6 (NASNet) or 5 (PNASNet)
# hidden states of 4 * max(8, int(filters / 8)) channels each.
_NASNET_C5 = {'nasnet_mobile': 6 * 4 * 8, 'nasnet_large': 6 * 4 * 21, 'pnasnet_mobile': 5 * 4 * 8,
              'pnasnet_large': 5 * 4 * 27}


def _logits_shape(name, batch, classes):
  """The classifier's output at the default size: DeepLab's backbones neither pool (beta) nor squeeze."""
  if name.endswith('_beta'):
    return [batch, 7, 7, classes]
  return [batch, 1, 1, classes] if name.startswith('xception') else [batch, classes]


# The dense classifier's output size at 321 where it is not 21 (stride 16): MobileNet v1 keeps its 7x7/2 VALID
# average pool (21 -> 8); VGG, AlexNet and OverFeat have no output_stride, and fc6 is VALID (pool5 10, 8, 8 and
# fc6 7, 5, 6 wide), as is C5 (fc7).
# Inception v1 and v2 have no output_stride either: Mixed_5c is 11x11, v1's 7x7 VALID pool leaves 5x5 and v2's
# 7x7/2 one 3x3.
_DENSE_SIZE = {'mobilenet_v1': 8, 'vgg': 4, 'alexnet_v2': 4, 'overfeat': 3, 'inception_v1': 5, 'inception_v2': 3}
_STRIDE_32 = ('inception_v1', 'inception_v2')
_CLASSIC = ('vgg', 'alexnet_v2', 'overfeat')


def _dense_output_shape(name, batch, classes):
  size = next((size for prefix, size in _DENSE_SIZE.items() if name.startswith(prefix)), 21)
  return [batch, size, size, classes]


# C5 channels at depth_multiplier 0.125 (MobileNet v2 and v3 round to multiples of 8; mobilenet_v2_035 and
# mobilenet_edgetpu_075 keep 1280; fc7 of the classic networks has 4096).
_C5_CHANNELS = {'inception_v1': 128, 'inception_v2': 128, 'mobilenet_v1': 128, 'mobilenet_v2': 160,
                'mobilenet_v2_035': 1280, 'mobilenet_v3_large': 120, 'mobilenet_v3_large_minimalistic': 120,
                'mobilenet_v3_small': 72, 'mobilenet_v3_small_minimalistic': 72, 'mobilenet_edgetpu': 160,
                'mobilenet_edgetpu_075': 1280,
                'vgg': 512, 'alexnet_v2': 512, 'overfeat': 512}


def _dense_size(name):
  return 331 if name == 'inception_v3' else 321


def _build(name, size, options, num_classes):
  """A TF1 script's build: the factory's network function on a placeholder of unknown batch."""
  network_fn = nets_factory.get_network_fn(name, num_classes=num_classes, is_training=False)
  images = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3])
  net, end_points = network_fn(images, **THIN[name], **options)
  return images, net, end_points


@pytest.mark.tf1  # in TF2 behaviour every network is built in a graph by the manifest and registry tests
@pytest.mark.parametrize('name', sorted(nets_factory.REGISTRY))
def test_a_tf1_script_builds_every_network_at_default_and_dense_settings(name):
  with tf.Graph().as_default():
    _, net, _ = _build(name, nets_factory.get_spec(name).default_image_size, {}, np.int64(7))
    assert net.shape.as_list() == _logits_shape(name, None, 7)
  with tf.Graph().as_default():
    _, net, end_points = _build(name, _dense_size(name), DENSE[name], Dimension(5))
  if name == 'inception_v3':
    assert net.shape.as_list() == [None, 1, 1, 5]
    assert end_points['Mixed_7c'].shape.as_list() == [None, 9, 9, 203]
  elif name in ('inception_resnet_v2', 'inception_v4'):
    assert net.shape.as_list() == [None, 5]
    c5 = nets_factory.get_spec(name).levels[-1].end_point
    assert end_points[c5].shape.as_list() == [None, 8, 8, 192]
  elif name in _NASNETS:
    assert net.shape.as_list() == [None, 5]
    c5 = nets_factory.get_spec(name).levels[-1].end_point
    assert end_points[c5].shape.as_list() == [None, 10, 10, _NASNET_C5[name]]
  else:
    assert net.shape.as_list() == _dense_output_shape(name, None, 5)
    c5 = nets_factory.get_spec(name).levels[-1].end_point
    size = (_dense_output_shape(name, None, 0)[1] if name.startswith(_CLASSIC)
            else 11 if name in _STRIDE_32 else 21)
    channels = _C5_CHANNELS.get(name, _C5_CHANNELS.get(name[:12], _C5_CHANNELS.get(name[:3], 256)))
    assert end_points[c5].shape.as_list() == [None, size, size, channels]


def _run_save_restore(tmp_path, name, size, options, num_classes):
  """Runs the build in a session, saves it with a Saver, restores it into a new graph and runs it again."""
  feed = np.random.RandomState(0).uniform(-1, 1, [2, size, size, 3]).astype(np.float32)
  with tf.Graph().as_default():
    images, net, _ = _build(name, size, options, num_classes)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      randomize_variables(sess)
      before = sess.run(net, {images: feed})
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default():
    images, net, _ = _build(name, size, options, num_classes)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, path)
      after = sess.run(net, {images: feed})
  return before, after


@pytest.mark.parametrize('name', ['inception_v3', 'resnet_v1_50', 'resnet_v2_50', 'resnet_v1_50_beta', 'mobilenet_v1',
                                  'xception_41', 'vgg_16', 'alexnet_v2'])
def test_a_tf1_script_runs_saves_and_restores(tmp_path, name):
  before, after = _run_save_restore(tmp_path, name, nets_factory.get_spec(name).default_image_size, {}, 7)
  assert list(before.shape) == _logits_shape(name, 2, 7)
  assert np.isfinite(before).all() and np.abs(before).max() > 0
  np.testing.assert_array_equal(before, after)
  before, after = _run_save_restore(tmp_path, name, _dense_size(name), DENSE[name], np.int32(5))
  assert list(before.shape) == ([2, 1, 1, 5] if name == 'inception_v3' else _dense_output_shape(name, 2, 5))
  np.testing.assert_array_equal(before, after)


def test_inception_v3_in_the_issue_example_and_with_unknown_sizes():
  with tf.Graph().as_default():
    logits, end_points = inception_v3.inception_v3(tf.compat.v1.placeholder(tf.float32, [1, 299, 299, 3]),
                                                   num_classes=10)
    assert logits.shape.as_list() == [1, 10] and end_points['AuxLogits'].shape.as_list() == [1, 10]
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
    net, end_points = inception_v3.inception_v3(images, num_classes=10, global_pool=True,
                                                spatial_squeeze=False, depth_multiplier=0.1)
    assert net.shape.as_list() == [None, 1, 1, 10]
    assert end_points['Mixed_7c'].shape.as_list() == [None, None, None, 203]
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      assert sess.run(net, {images: np.zeros([1, 150, 120, 3])}).shape == (1, 1, 1, 10)
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 299, 299, None])
    with pytest.raises(ValueError, match=r'inception_v3: inputs must be a 4-D \[batch, height, width, channels\] '
                                         r'tensor with a known channel count, got shape \(1, 299, 299, None\)'):
      inception_v3.inception_v3(images, num_classes=10)
    assert tf.compat.v1.get_default_graph().get_operations() == [images.op]


def test_networks_take_numpy_numbers_and_dimensions():
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [2, 129, 129, 3])  # block4 at 17x17, wider than its rates
    classes = images.shape[0]  # a Dimension under TF1 behaviour, an int under TF2's
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, end_points = resnet_v1.resnet_v1_50(images, classes, output_stride=np.int32(8), global_pool=False,
                                               spatial_squeeze=False, depth_multiplier=np.float32(0.125),
                                               multi_grid=(np.int64(1), 2, Dimension(4)))
    assert net.shape.as_list() == [2, 17, 17, 2]
    graph = tf.compat.v1.get_default_graph()
    rates = [atrous_rate(graph, f'resnet_v1_50/block4/unit_{i}/bottleneck_v1/conv2') for i in (1, 2, 3)]
    assert rates == [4, 8, 16]  # output stride 8: rate 4 in block4, times the multi-grid
    assert end_points['resnet_v1_50/block4'].shape.as_list() == [2, 17, 17, 256]
  for bad, words in ((Dimension(None), 'got Dimension(None)'), ([1, 2], 'got [1, 2]'), (np.float32(1.5), '1.5)')):
    with tf.Graph().as_default(), slim.arg_scope(resnet_v1.resnet_arg_scope()):
      with pytest.raises(ValueError) as error:
        resnet_v1.resnet_v1_50(tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3]), bad)
      assert 'num_classes must be None or 0 (no logits) or a positive int' in str(error.value)
      assert words in str(error.value)


def test_layer_sizes_take_what_tf1_code_passes():
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [2, 12, 14, 3])
    net = layers.conv2d(images, np.int64(4), images.shape[1:2], stride=[np.int32(1), Dimension(1)],
                        padding='VALID', scope='column')
    assert net.shape.as_list() == [2, 1, 3, 4]
    assert [v.shape.as_list() for v in tf.compat.v1.global_variables()][:1] == [[12, 12, 3, 4]]
    net = layers.conv2d(images, 4, (Dimension(3), np.int64(1)), rate=(2, 1), scope='atrous')
    pooled = layers.avg_pool2d(net, net.get_shape()[1:3], stride=1)  # the classic global pool of TF1 code
    assert pooled.shape.as_list() == [2, 1, 1, 4]
    assert layers.max_pool2d(net, tf.TensorShape([3]), stride=np.int64(3)).shape.as_list() == [2, 4, 4, 4]
    unknown = tf.compat.v1.placeholder(tf.float32, [2, None, 10, 3])
    cases = [(lambda: layers.avg_pool2d(unknown, unknown.get_shape()[1:3]), 'kernel_size'),
             (lambda: layers.conv2d(images, 4, [3, 3, 3]), 'kernel_size'),
             (lambda: layers.conv2d(images, 4, 3, stride=tf.TensorShape([2, 2, 1])), 'stride'),
             (lambda: layers.conv2d(images, 4, 3, rate=0), 'rate'),
             (lambda: layers.conv2d(images, 4, 3.0), 'kernel_size')]
    for build, argument in cases:
      count = len(graph.get_operations())
      with pytest.raises(ValueError, match=rf'^{argument} must be a positive int or a pair of positive ints, got '):
        build()
      assert len(graph.get_operations()) == count


def _mixed_6e_under_a_client_scope(normalizer_fn):
  """A style-transfer program's build: inception_v3_base to Mixed_6e under the program's own arg scope."""
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [1, 160, 160, 3])
    with slim.arg_scope([slim.conv2d], normalizer_fn=normalizer_fn,
                        normalizer_params={'is_training': False, 'scale': True}, activation_fn=tf.nn.relu):
      net, _ = inception_v3.inception_v3_base(images, final_endpoint='Mixed_6e', depth_multiplier=0.25)
    return graph, images, net


@pytest.mark.parametrize('normalizer_fn', [slim.batch_norm, functools.partial(slim.batch_norm, epsilon=0.01)],
                         ids=['slim.batch_norm', 'partial'])
def test_tf_slim_batch_norm_in_a_client_arg_scope_runs_our_twin(normalizer_fn):
  graph, images, net = _mixed_6e_under_a_client_scope(normalizer_fn)
  assert net.shape.as_list() == [1, 8, 8, 192]
  names = [v.op.name for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)]
  assert names[:5] == ['InceptionV3/Conv2d_1a_3x3/weights', 'InceptionV3/Conv2d_1a_3x3/BatchNorm/gamma',
                       'InceptionV3/Conv2d_1a_3x3/BatchNorm/beta', 'InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_mean',
                       'InceptionV3/Conv2d_1a_3x3/BatchNorm/moving_variance']
  # 70 convolutions up to Mixed_6e (5 in the stem, 7 in each Mixed_5, 4 in Mixed_6a, 10 in each Mixed_6b..e),
  # each with its weights and 4 batch norm variables
  assert len(names) == 5 * 70
  epsilon = 0.01 if isinstance(normalizer_fn, functools.partial) else 0.001
  norms = [op for op in graph.get_operations() if op.type == 'FusedBatchNormV3']
  assert len(norms) == 70 and {round(op.get_attr('epsilon'), 6) for op in norms} == {epsilon}
  with tf.compat.v1.Session(graph=graph) as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    assert np.isfinite(sess.run(net, {images: np.ones([1, 160, 160, 3])})).all()


def test_own_layer_maps_tf_slim_layers_and_leaves_the_rest():
  assert layers.own_layer(slim.batch_norm) is layers.batch_norm
  assert layers.own_layer(slim.conv2d) is layers.conv2d
  assert layers.own_layer(slim.separable_conv2d) is layers.separable_conv2d
  assert layers.own_layer(layers.batch_norm) is layers.batch_norm
  assert layers.own_layer(tf.nn.relu) is tf.nn.relu and layers.own_layer(None) is None
  partial = layers.own_layer(functools.partial(slim.batch_norm, decay=0.9))
  assert partial.func is layers.batch_norm and partial.keywords == {'decay': 0.9}


@pytest.mark.parametrize('size, kernel, rate, space_to_batch, dilations, filter_size', [
    ((11, 9), [3, 2], [2, 3], 1, [1, 1], [3, 2]),  # small rates: between space-to-batch and batch-to-space
    ((20, 21), [3, 3], [6, 7], 0, [6, 7], [3, 3]),  # large rates: one dilated Conv2D
    ((11, 9), [3, 3], [12, 2], 1, [1, 1], [1, 3]),  # rate 12 on 11 rows: only the centre row reads the image
    ((7, 8), [3, 3], [9, 8], 0, [1, 1], [1, 1]),  # both axes: a 1x1 convolution of the centre tap
])
def test_atrous_convolutions_and_gradients_equal_those_of_tf_nn_convolution(size, kernel, rate, space_to_batch,
                                                                            dilations, filter_size):
  """Each way of computing an atrous convolution (`nets.layers.convolution._convolve`) gives tf.nn.convolution's
  outputs and gradients; on CPUs TensorFlow has no gradient kernel for a dilated Conv2D."""
  rng = np.random.RandomState(3)
  with tf.Graph().as_default() as graph:
    images = tf.constant(rng.normal(size=[2, *size, 3]), tf.float32)
    net = layers.conv2d(images, 4, kernel, rate=rate, activation_fn=None, biases_initializer=None, scope='atrous')
    convolutions = [op for op in graph.get_operations() if op.type == 'Conv2D']
    assert len(convolutions) == 1 and list(convolutions[0].get_attr('dilations'))[1:3] == dilations
    assert convolutions[0].inputs[1].shape[:2] == filter_size
    assert len([op for op in graph.get_operations() if op.type == 'SpaceToBatchND']) == space_to_batch
    weights = tf.compat.v1.global_variables()[0]
    expected = tf.nn.convolution(images, weights, padding='SAME', dilations=rate)
    upstream = tf.constant(rng.normal(size=[2, *size, 4]), tf.float32)
    ours = tf.gradients(net, [images, weights], grad_ys=upstream)
    theirs = tf.gradients(expected, [images, weights], grad_ys=upstream)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      values = sess.run([net, expected] + ours + theirs)
  np.testing.assert_allclose(values[0], values[1], rtol=1e-5, atol=1e-5)
  for mine, reference in zip(values[2:4], values[4:6]):
    assert np.abs(reference).max() > 0.1
    np.testing.assert_allclose(mine, reference, rtol=1e-5, atol=1e-5)


def test_training_an_atrous_resnet_on_cpu():
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [2, 33, 33, 3])
    blocks = [resnet_v1.resnet_v1_block('block1', 2, 2, 2), resnet_v1.resnet_v1_block('block2', 4, 2, 1)]
    with slim.arg_scope(resnet_utils.resnet_arg_scope()):
      net, _ = resnet_v1.resnet_v1(images, blocks, output_stride=4, global_pool=False, scope='tiny')
    loss = tf.reduce_mean(tf.square(net))
    train = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.control_dependencies([train]):
      train = tf.group(*tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))
    feed = {images: np.random.RandomState(0).uniform(-1, 1, [2, 33, 33, 3])}
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      first = sess.run(loss, feed)
      for _ in range(3):
        sess.run(train, feed)
      assert sess.run(loss, feed) < first


def test_backbone_says_it_needs_tf2_behaviour():
  if not tf1_behavior():
    pytest.skip('only under tf.compat.v1.disable_v2_behavior() (--tf-behavior=v1)')
  from slimnets import models  # pylint: disable=import-outside-toplevel
  with pytest.raises(RuntimeError, match=r'slimnets.models.Backbone needs TF2 behaviour \(eager execution\)'):
    models.Backbone('resnet_v1_50')
  with pytest.raises(RuntimeError, match=r'slimnets.models.Segmenter needs TF2 behaviour \(eager execution\)'):
    models.Segmenter(deeplab.ModelOptions({'semantic': 3}))
