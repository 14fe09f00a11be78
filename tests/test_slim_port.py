"""`import nets.slim as slim`: a program written for tf-slim runs with only its import line changed.

The oracle is tf-slim itself: its layers other than batch norm still build on TF 2.21, so a head written
against tf-slim's API is built with both modules and compared (variables, shapes, collections, losses, values).
Batch norm, which tf-slim cannot build here, is checked against `tf.nn` computations.
"""

import warnings

import numpy as np
import pytest
import tensorflow as tf
import tf_slim

import nets.slim as ported
from nets import layers

Keys = tf.compat.v1.GraphKeys


def _head(slim, images, batch_norm=False):
  """A DeepLab-style head in tf-slim's API: ASPP with separable convolutions, image pooling, a decoder."""
  normalizer = {'normalizer_fn': slim.batch_norm, 'normalizer_params': {'is_training': False, 'scale': True}}
  with slim.arg_scope([slim.conv2d, slim.separable_conv2d, slim.conv2d_transpose],
                      weights_regularizer=slim.l2_regularizer(1e-4), **(normalizer if batch_norm else {})):
    aspp0 = slim.conv2d(images, 8, 1, scope='aspp0')
    aspp1 = slim.separable_conv2d(images, 8, 3, depth_multiplier=1, rate=2, scope='aspp1')
    pooled = tf.reduce_mean(images, [1, 2], keepdims=True)
    pooled = slim.conv2d(pooled, 8, 1, scope='image_pooling')
    pooled = tf.tile(pooled, [1, 9, 9, 1])
    net = slim.conv2d(tf.concat([aspp0, aspp1, pooled], 3), 8, 1, scope='concat_projection')
    depthwise = slim.separable_conv2d(images, None, [3, 3], depth_multiplier=2, stride=2, scope='depthwise')
    up = slim.conv2d_transpose(net, 4, 3, stride=2, scope='decoder/upsample')
    up_valid = slim.conv2d_transpose(net, 4, [3, 2], stride=2, padding='VALID', scope='decoder/upsample_valid')
    logits = slim.conv2d(up, 5, [1, 1], activation_fn=None, normalizer_fn=None, scope='logits')
    classes = slim.fully_connected(slim.flatten(depthwise), 3, activation_fn=None, scope='classes')
    dense = slim.fully_connected(net, 6)
  return {'aspp0': aspp0, 'aspp1': aspp1, 'depthwise': depthwise, 'up': up, 'up_valid': up_valid,
          'logits': logits, 'classes': classes, 'dense': dense}


def _build(slim, batch_norm=False, seed=0):
  """Builds `_head` with `slim`; returns variables, collections, shapes and values at fixed weights."""
  rng = np.random.RandomState(seed)
  feed_images = rng.uniform(-1, 1, [2, 9, 9, 3]).astype(np.float32)
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [2, 9, 9, 3])
    outputs = _head(slim, images, batch_norm)
    variables = graph.get_collection(Keys.GLOBAL_VARIABLES)
    names = lambda key: [v.op.name for v in graph.get_collection(key)]
    described = {
        'variables': [(v.op.name, v.shape.as_list(), v.trainable) for v in variables],
        'model': names(Keys.MODEL_VARIABLES), 'trainable': names(Keys.TRAINABLE_VARIABLES),
        'losses': len(graph.get_collection(Keys.REGULARIZATION_LOSSES)),
        'shapes': {k: t.shape.as_list() for k, t in outputs.items()},
    }
    weights = {v.op.name: (rng.uniform(0.5, 1.5, v.shape.as_list()) if 'variance' in v.op.name
                           else rng.normal(0, 0.3, v.shape.as_list())).astype(np.float32) for v in variables}
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run([v.initializer for v in variables], {v.initializer.inputs[1]: weights[v.op.name] for v in variables})
      values = sess.run(outputs, {images: feed_images})
      loss = sess.run(tf.add_n(graph.get_collection(Keys.REGULARIZATION_LOSSES)))
  return described, values, weights, feed_images, loss


def test_a_head_written_for_tf_slim_builds_what_tf_slim_builds():
  theirs, their_values, _, _, their_loss = _build(tf_slim)
  ours, our_values, _, _, our_loss = _build(ported)
  assert ours == theirs
  assert [name for name, _, _ in ours['variables']] == [
      'aspp0/weights', 'aspp0/biases', 'aspp1/depthwise_weights', 'aspp1/pointwise_weights', 'aspp1/biases',
      'image_pooling/weights', 'image_pooling/biases', 'concat_projection/weights', 'concat_projection/biases',
      'depthwise/depthwise_weights', 'depthwise/biases', 'decoder/upsample/weights', 'decoder/upsample/biases',
      'decoder/upsample_valid/weights', 'decoder/upsample_valid/biases', 'logits/weights', 'logits/biases',
      'classes/weights', 'classes/biases', 'fully_connected/weights', 'fully_connected/biases']
  assert ours['shapes'] == {'aspp0': [2, 9, 9, 8], 'aspp1': [2, 9, 9, 8], 'depthwise': [2, 5, 5, 6],
                            'up': [2, 18, 18, 4], 'up_valid': [2, 19, 18, 4], 'logits': [2, 18, 18, 5],
                            'classes': [2, 3], 'dense': [2, 9, 9, 6]}
  assert ours['losses'] == 9  # one per weight tensor of the 8 scoped layers; aspp1 has two
  np.testing.assert_allclose(our_loss, their_loss, rtol=1e-5)
  for key, value in their_values.items():
    np.testing.assert_allclose(our_values[key], value, rtol=1e-4, atol=1e-4, err_msg=key)


def _reference(weights, images):
  """The batch-norm head computed with tf.nn ops from the weights (inference mode)."""
  x = tf.constant(images)

  def normalized(y, scope):
    w = lambda name: tf.constant(weights[f'{scope}/BatchNorm/{name}'])
    return tf.nn.relu(tf.nn.batch_normalization(y, w('moving_mean'), w('moving_variance'), w('beta'), w('gamma'),
                                                0.001))

  w = lambda name: tf.constant(weights[name])
  aspp0 = normalized(tf.nn.conv2d(x, w('aspp0/weights'), 1, 'SAME'), 'aspp0')
  aspp1 = normalized(tf.nn.separable_conv2d(x, w('aspp1/depthwise_weights'), w('aspp1/pointwise_weights'),
                                            [1, 1, 1, 1], 'SAME', dilations=[2, 2]), 'aspp1')
  depthwise = normalized(tf.nn.depthwise_conv2d(x, w('depthwise/depthwise_weights'), [1, 2, 2, 1], 'SAME'),
                         'depthwise')
  pooled = normalized(tf.nn.conv2d(tf.reduce_mean(x, [1, 2], keepdims=True), w('image_pooling/weights'), 1, 'SAME'),
                      'image_pooling')
  net = tf.concat([aspp0, aspp1, tf.tile(pooled, [1, 9, 9, 1])], 3)
  net = normalized(tf.nn.conv2d(net, w('concat_projection/weights'), 1, 'SAME'), 'concat_projection')
  up = tf.nn.conv2d_transpose(net, w('decoder/upsample/weights'), [2, 18, 18, 4], 2, 'SAME')
  up = normalized(up, 'decoder/upsample')
  logits = tf.nn.conv2d(up, w('logits/weights'), 1, 'SAME') + w('logits/biases')
  classes = tf.reshape(depthwise, [2, -1]) @ w('classes/weights') + w('classes/biases')
  dense = tf.nn.relu(tf.tensordot(net, w('fully_connected/weights'), 1) + w('fully_connected/biases'))
  outputs = {'aspp0': aspp0, 'aspp1': aspp1, 'depthwise': depthwise, 'up': up, 'logits': logits, 'classes': classes,
             'dense': dense}
  if tf.executing_eagerly():
    return {k: v.numpy() for k, v in outputs.items()}
  with tf.compat.v1.Session() as sess:
    return sess.run(outputs)


def test_the_head_with_batch_norm_runs_and_equals_tf_nn():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    described, values, weights, images, _ = _build(ported, batch_norm=True)
  assert [str(w.message) for w in caught if '/nets/' in w.filename] == []
  names = [name for name, _, _ in described['variables']]
  assert names[:6] == ['aspp0/weights', 'aspp0/BatchNorm/gamma', 'aspp0/BatchNorm/beta', 'aspp0/BatchNorm/moving_mean',
                       'aspp0/BatchNorm/moving_variance', 'aspp1/depthwise_weights']
  assert 'aspp1/biases' not in names and 'logits/biases' in names
  assert [n for n, _, trainable in described['variables'] if not trainable] == [
      n for n in names if n.endswith(('moving_mean', 'moving_variance'))]
  with tf.Graph().as_default():
    expected = _reference(weights, images)
  for key, value in expected.items():
    np.testing.assert_allclose(values[key], value, rtol=1e-4, atol=1e-4, err_msg=key)


def test_the_module_offers_tf_slims_whole_api_with_our_layers():
  public = [name for name in dir(tf_slim) if not name.startswith('_')]
  assert [name for name in public if not hasattr(ported, name)] == []
  replaced = set(ported.layers.REPLACED)
  assert [name for name in public if name not in replaced and name != 'layers'
          and getattr(ported, name) is not getattr(tf_slim, name)] == []
  assert ported.conv2d is ported.convolution2d is layers.conv2d and ported.batch_norm is layers.batch_norm
  assert ported.separable_conv2d is ported.separable_convolution2d is layers.separable_conv2d
  assert ported.linear.func is layers.fully_connected and ported.linear.keywords == {'activation_fn': None}
  assert ported.arg_scope is tf_slim.arg_scope and ported.losses is tf_slim.losses
  for name in tf_slim.layers.__all__:  # tf-slim's `slim.layers` module
    if name not in replaced:
      assert getattr(ported.layers, name) is getattr(tf_slim.layers, name), name


def test_names_research_slim_reaches_through_slim_layers():
  assert not hasattr(tf_slim.layers, 'l2_regularizer')  # the reason for nets.slim.layers
  with tf.Graph().as_default():
    weights = tf.constant(np.full([2, 2], 3.0, np.float32))
    with tf.compat.v1.Session() as sess:
      assert sess.run(ported.layers.l2_regularizer(0.5)(weights)) == pytest.approx(0.5 * 36 / 2)
    initializer = ported.layers.variance_scaling_initializer(mode='FAN_OUT')
    variable = tf.compat.v1.get_variable('v', [3, 3, 16, 64], initializer=initializer)
    with tf.compat.v1.Session() as sess:
      sess.run(variable.initializer)
      std = sess.run(variable).std()
  assert std == pytest.approx(np.sqrt(2.0 / (3 * 3 * 64)), rel=0.1)


def test_scopes_opened_on_either_module_reach_both():
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3])
    with tf_slim.arg_scope([tf_slim.separable_conv2d], depth_multiplier=3, activation_fn=None):
      net = ported.separable_conv2d(images, None, 3)
    assert net.shape.as_list() == [1, 8, 8, 9]
    with ported.arg_scope([ported.fully_connected], num_outputs=4):
      assert tf_slim.fully_connected(tf.zeros([2, 5])).shape.as_list() == [2, 4]


def test_bad_arguments_name_the_layer_and_leave_the_graph():
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 3])
    unranked = tf.compat.v1.placeholder(tf.float32)
    cases = [(lambda: ported.separable_conv2d(images, 0, 3), 'separable_conv2d: num_outputs must be None'),
             (lambda: ported.separable_conv2d(images, 4, 3, stride=2, rate=2), 'cannot both exceed 1'),
             (lambda: ported.conv2d_transpose(images, 4, 3, padding='FULL'), "padding must be 'SAME' or 'VALID'"),
             (lambda: ported.fully_connected(images, 2.5), 'fully_connected: num_outputs must be a positive int'),
             (lambda: ported.flatten(unranked), 'flatten needs an input of known rank')]
    for build, words in cases:
      count = len(graph.get_operations())
      with pytest.raises(ValueError, match=words):
        build()
      assert len(graph.get_operations()) == count, words
