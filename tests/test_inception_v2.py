"""Inception v2: any size, the separable first layer and its options, NCHW, the head, research/slim's API.

The manifest (test_reference_manifests) pins the default build; these pin the sizes and options around it.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_utils
from nets import inception_v2
from tests.conftest import randomize_variables


def _images(shape):
  return tf.compat.v1.placeholder(tf.float32, shape)


def _shapes():
  return {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}


def test_the_base_builds_at_any_size_with_ceil_strides(graph):
  del graph
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    net, end_points = inception.inception_v2_base(_images([1, 33, 47, 3]), depth_multiplier=0.5)
  assert list(end_points) == inception_v2.END_POINTS
  assert net.shape.as_list() == [1, 2, 2, 512]  # ceil(33 / 32) x ceil(47 / 32), 1024 / 2
  assert end_points['Conv2d_1a_7x7'].shape.as_list() == [1, 17, 24, 32]
  assert end_points['Mixed_3c'].shape.as_list() == [1, 5, 6, 160]
  assert end_points['Mixed_4e'].shape.as_list() == [1, 3, 3, 288]
  assert inception_v2.end_point_sizes(33)['Mixed_4a'] == 3 and inception_v2.end_point_sizes(47, 1)['Mixed_5a'] == 2
  # depth(64) = 32 output channels: min(int(32 / 3), 8) = 8 depthwise filters per input channel
  shapes = _shapes()
  assert shapes['InceptionV2/Conv2d_1a_7x7/depthwise_weights'] == [7, 7, 3, 8]
  assert shapes['InceptionV2/Conv2d_1a_7x7/pointwise_weights'] == [1, 1, 24, 32]
  assert inception_v2.minimum_input_size() == 1


def test_a_thinner_first_layer_has_fewer_depthwise_filters_and_too_thin_is_an_error(graph):
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    inception.inception_v2_base(_images([1, 32, 32, 3]), final_endpoint='Conv2d_1a_7x7', depth_multiplier=0.25)
  assert _shapes()['InceptionV2/Conv2d_1a_7x7/depthwise_weights'] == [7, 7, 3, 5]  # min(int(16 / 3), 8)
  images = _images([1, 32, 32, 3])
  count = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'inception_v2_base: the separable Conv2d_1a_7x7 would have 0 depthwise '
                                       r'filters per input channel \(min\(int\(channels / 3\), 8\) of its 2 output '
                                       r'channels\) with depth_multiplier=0\.01 and min_depth=2; .*'
                                       r'use_separable_conv=False'):
    inception.inception_v2_base(images, depth_multiplier=0.01, min_depth=2, scope='Thin')
  assert len(graph.get_operations()) == count


def test_without_the_separable_convolution_the_shapes_stay_and_the_first_layer_is_an_ordinary_one(graph):
  del graph
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    _, separable = inception.inception_v2_base(_images([2, 64, 64, 3]), depth_multiplier=0.25)
    _, ordinary = inception.inception_v2_base(_images([2, 64, 64, 3]), depth_multiplier=0.25,
                                              use_separable_conv=False, scope='Ordinary')
  assert {k: v.shape.as_list() for k, v in separable.items()} == {k: v.shape.as_list() for k, v in ordinary.items()}
  shapes = _shapes()
  assert shapes['Ordinary/Conv2d_1a_7x7/weights'] == [7, 7, 3, 16]
  assert 'Ordinary/Conv2d_1a_7x7/BatchNorm/beta' in shapes  # under the arg scope, as the other convolutions
  assert not [name for name in shapes if name.startswith('InceptionV2/Conv2d_1a_7x7/BatchNorm')]


def test_base_without_root_block_and_final_endpoint(graph):
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    net, end_points = inception.inception_v2_base(_images([1, 28, 28, 192]), final_endpoint='Mixed_4a',
                                                  include_root_block=False, depth_multiplier=0.25)
  assert list(end_points) == ['Mixed_3b', 'Mixed_3c', 'Mixed_4a']
  assert net.shape.as_list() == [1, 14, 14, 40 + 24 + 80]  # 160 / 4, 96 / 4, the pooled 320 / 4
  assert 'InceptionV2/Conv2d_1a_7x7/depthwise_weights' not in _shapes()
  count = len(graph.get_operations())
  with pytest.raises(ValueError, match=r"inception_v2_base: final_endpoint must be one of \['Mixed_3b', .*got "
                                       r"'MaxPool_3a_3x3'"):
    inception.inception_v2_base(_images([1, 28, 28, 3]), final_endpoint='MaxPool_3a_3x3', include_root_block=False)
  assert len(graph.get_operations()) == count + 1  # only the new placeholder


@pytest.mark.parametrize('kwargs, message', [
    ({'data_format': 'NCWH'}, "inception_v2_base: data_format must be 'NHWC' or 'NCHW', got 'NCWH'"),
    ({'data_format': 'NCHW'}, "inception_v2_base: data_format='NCHW' needs use_separable_conv=False"),
    ({'depth_multiplier': 0.0}, 'inception_v2_base: depth_multiplier'),
    ({'min_depth': 0}, 'inception_v2_base: min_depth must be a positive int, got 0'),
])
def test_base_errors_come_before_anything_is_built(graph, kwargs, message):
  images = _images([2, 3, 64, 64] if kwargs.get('data_format') == 'NCHW' else [2, 64, 64, 3])
  with pytest.raises(ValueError) as error:
    inception.inception_v2_base(images, **kwargs)
  assert str(error.value).startswith(message)
  assert graph.get_operations() == [images.op]


def test_nchw_gives_the_transposed_end_points_of_the_same_variables(graph):
  rng = np.random.RandomState(0)
  x = rng.uniform(-1, 1, [2, 40, 56, 3]).astype(np.float32)
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    nhwc = _images([2, 40, 56, 3])
    with tf.compat.v1.variable_scope('Net') as scope:
      _, last = inception.inception_v2_base(nhwc, depth_multiplier=0.25, use_separable_conv=False, scope=scope)
    nchw = _images([2, 3, 40, 56])
    with tf.compat.v1.variable_scope('Net', reuse=True) as scope:
      _, first = inception.inception_v2_base(nchw, depth_multiplier=0.25, use_separable_conv=False,
                                             data_format='NCHW', scope=scope)
  del graph
  assert list(first) == list(last)
  for name in last:
    shape = last[name].shape.as_list()
    assert first[name].shape.as_list() == [shape[0], shape[3], shape[1], shape[2]]
  assert all(v.op.name.startswith('Net/') for v in tf.compat.v1.global_variables())
  with tf.compat.v1.Session() as sess:
    randomize_variables(sess)
    a, b = sess.run([last['Mixed_5c'], first['Mixed_5c']], {nhwc: x, nchw: x.transpose(0, 3, 1, 2)})
  np.testing.assert_allclose(b, a.transpose(0, 3, 1, 2), rtol=1e-4, atol=1e-4)


def test_heads_at_other_sizes(graph):
  del graph
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    logits, end_points = inception.inception_v2(_images([2, 112, 112, 3]), 5, depth_multiplier=0.25)
    assert logits.shape.as_list() == [2, 5] and end_points['Mixed_5c'].shape.as_list() == [2, 4, 4, 256]
    assert end_points['AvgPool_1a'].op.name == 'InceptionV2/Logits/AvgPool_1a_4x4/AvgPool2D'  # shrunk to the map
    dense, _ = inception.inception_v2(_images([1, 321, 321, 3]), 5, spatial_squeeze=False, scope='Dense',
                                      depth_multiplier=0.25)
    assert dense.shape.as_list() == [1, 3, 3, 5]  # Mixed_5c 11x11, 7x7/2 VALID (research/slim's default stride)
    squeezed, _ = inception.inception_v2(_images([1, 256, 256, 3]), 5, scope='Largest', depth_multiplier=0.25)
    assert squeezed.shape.as_list() == [1, 5]  # Mixed_5c 8x8: still one 7x7/2 window
    images = _images([1, None, None, 3])
    pooled, end_points = inception.inception_v2(images, 5, global_pool=True, is_training=False, scope='Pooled',
                                                depth_multiplier=0.25)
    assert pooled.shape.as_list() == [1, 5] and 'global_pool' in end_points
    features, _ = inception.inception_v2(_images([3, 224, 224, 3]), None, scope='Features', depth_multiplier=0.25)
    assert features.shape.as_list() == [3, 1, 1, 256]
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    out, mixed_5c = sess.run([end_points['Predictions'], end_points['Mixed_5c']],
                             {images: np.zeros([1, 250, 300, 3], np.float32)})
  assert out.shape == (1, 5) and mixed_5c.shape == (1, 8, 10, 256)
  np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_logits_spatial_squeeze_cannot_squeeze_are_an_error_first(graph):
  images = _images([2, 288, 288, 3])
  with pytest.raises(ValueError) as error:
    inception.inception_v2(images, 10)
  assert str(error.value) == (
      'inception_v2: inputs of 288x288 give 2x2 logits without global pooling (Mixed_5c above 8x8, inputs above '
      '256), which spatial_squeeze=True cannot squeeze to [batch, num_classes]; pass global_pool=True (1x1 logits '
      'at any size, same variables) or spatial_squeeze=False')
  assert graph.get_operations() == [images.op]


def test_research_slim_names():
  assert inception.inception_v2_arg_scope is inception_utils.inception_arg_scope
  assert inception.inception_v2.default_image_size == 224
  assert inception.inception_v2_base is inception_v2.inception_v2_base


def _thin_logits(images):
  with slim.arg_scope(inception.inception_v2_arg_scope()):
    return inception.inception_v2(images, 10, is_training=False, depth_multiplier=0.25)[0]


@pytest.mark.parametrize('mode, channels', [('repeat', 6), ('zeros', 4)])
def test_a_research_slim_checkpoint_adapts_its_separable_first_layer_exactly(tmp_path, mode, channels):
  from slimnets.weights import checkpoints  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(0)
  rgb = rng.uniform(-1, 1, [2, 64, 80, 3]).astype(np.float32)
  with tf.Graph().as_default():
    images = _images([2, 64, 80, 3])
    logits = _thin_logits(images)
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'inception_v2.ckpt'))  # research/slim's names
      expected = sess.run(logits, {images: rgb})
  adapted = checkpoints.adapt(checkpoints.read(path), 'inception_v2', in_channels=channels, channel_mode=mode)
  assert adapted['InceptionV2/Conv2d_1a_7x7/depthwise_weights'].shape == (7, 7, channels, 5)
  assert adapted['InceptionV2/Conv2d_1a_7x7/pointwise_weights'].shape == (1, 1, channels * 5, 16)
  if mode == 'zeros':  # the extra channel keeps filters (so it learns) but no say in the output yet
    assert np.abs(adapted['InceptionV2/Conv2d_1a_7x7/depthwise_weights'][:, :, 3]).min() > 0
    assert not adapted['InceptionV2/Conv2d_1a_7x7/pointwise_weights'][0, 0, 15:].any()
  feed = np.concatenate([rgb, rgb], -1) if mode == 'repeat' else np.concatenate([rgb, rgb[..., :1] * 7], -1)
  with tf.Graph().as_default():
    images = _images([2, 64, 80, channels])
    logits = _thin_logits(images)
    report = checkpoints.restore(checkpoints.write(adapted, str(tmp_path / 'adapted')))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      got = sess.run(logits, {images: feed})
  assert not report.missing and not report.mismatched
  np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_a_gray_separable_first_layer_cannot_be_exact():
  from slimnets.weights import checkpoints  # pylint: disable=import-outside-toplevel
  values = {'InceptionV2/Conv2d_1a_7x7/depthwise_weights': np.ones([7, 7, 3, 8], np.float32),
            'InceptionV2/Conv2d_1a_7x7/pointwise_weights': np.ones([1, 1, 24, 64], np.float32)}
  with pytest.raises(ValueError, match=r"channel_mode 'sum' cannot be exact for a separable first layer: a gray "
                                       r'channel would need the 24 depthwise filters of the three RGB channels, and '
                                       r"the layer has 8 per channel; use 'repeat' \(in_channels=1\) or 'zeros'"):
    checkpoints.adapt(values, 'inception_v2', in_channels=1, channel_mode='sum')
  gray = checkpoints.adapt(values, 'inception_v2', in_channels=1, channel_mode='repeat')
  assert gray['InceptionV2/Conv2d_1a_7x7/pointwise_weights'].shape == (1, 1, 8, 64)
  np.testing.assert_allclose(gray['InceptionV2/Conv2d_1a_7x7/pointwise_weights'], 3.0)
