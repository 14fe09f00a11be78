"""Inception v1: the base at any size, the head's honest minimum, errors before building, research/slim's API.

The manifest (test_reference_manifests) pins the default build; these pin the sizes and options around it.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_utils
from nets import inception_v1


def _images(shape):
  return tf.compat.v1.placeholder(tf.float32, shape)


def test_the_base_builds_at_any_size_with_ceil_strides(graph):
  del graph
  with slim.arg_scope(inception.inception_v1_arg_scope()):
    net, end_points = inception.inception_v1_base(_images([1, 33, 47, 3]), depth_multiplier=0.125)
  assert net.shape.as_list() == [1, 2, 2, 128]
  assert list(end_points) == inception_v1.END_POINTS
  # ceil(33 / 8) x ceil(47 / 8); channels 16 + 24 + 16 + 16 (128, 192, 96, 64 at 1/8, at least min_depth 16)
  assert end_points['Mixed_3c'].shape.as_list() == [1, 5, 6, 72]
  assert end_points['MaxPool_5a_2x2'].shape.as_list() == [1, 2, 2, 104]
  assert inception_v1.end_point_sizes(33)['Mixed_5c'] == 2 and inception_v1.end_point_sizes(47, 1)['Mixed_4f'] == 3


def test_base_without_root_block_and_final_endpoint(graph):
  with slim.arg_scope(inception.inception_v1_arg_scope()):
    net, end_points = inception.inception_v1_base(_images([1, 28, 28, 192]), final_endpoint='Mixed_4b',
                                                  include_root_block=False, depth_multiplier=0.25)
  assert list(end_points) == ['Mixed_3b', 'Mixed_3c', 'MaxPool_4a_3x3', 'Mixed_4b']
  assert net.shape.as_list() == [1, 14, 14, 48 + 52 + 16 + 16]
  shapes = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
  assert shapes['InceptionV1/Mixed_3b/Branch_1/Conv2d_0b_3x3/weights'] == [3, 3, 24, 32]
  assert 'InceptionV1/Conv2d_1a_7x7/weights' not in shapes
  count = len(graph.get_operations())
  with pytest.raises(ValueError, match=r"inception_v1_base: final_endpoint must be one of \['Mixed_3b', .*got "
                                       r"'Conv2d_1a_7x7'"):
    inception.inception_v1_base(_images([1, 28, 28, 3]), final_endpoint='Conv2d_1a_7x7', include_root_block=False)
  assert len(graph.get_operations()) == count + 1  # only the new placeholder


@pytest.mark.parametrize('size, kwargs, message', [
    (192, {}, 'inception_v1: inputs of 192x192 are too small for the head: they give a 6x6 Mixed_5c, and its '
              'average pool AvgPool_0a_7x7 is 7x7 VALID, which needs inputs of at least 193x193; pass '
              'global_pool=True (any size, same variables), or use inception_v1_base for the features'),
    (256, {}, 'inception_v1: inputs of 256x256 give 2x2 logits without global pooling, which spatial_squeeze=True '
              'cannot squeeze to [batch, num_classes]; pass global_pool=True (1x1 logits at any size, same '
              'variables) or spatial_squeeze=False'),
    (100, {'num_classes': None}, 'inception_v1: inputs of 100x100 are too small for the head'),
])
def test_head_errors_come_before_anything_is_built(graph, size, kwargs, message):
  images = _images([2, size, size, 3])
  with slim.arg_scope(inception.inception_v1_arg_scope()):
    with pytest.raises(ValueError) as error:
      inception.inception_v1(images, **{'num_classes': 10, **kwargs})
  assert str(error.value).startswith(message)
  assert graph.get_operations() == [images.op]


def test_minimum_and_heads_at_other_sizes(graph):
  del graph
  assert inception_v1.minimum_input_size() == 193 and inception_v1.minimum_input_size(global_pool=True) == 1
  with slim.arg_scope(inception.inception_v1_arg_scope()):
    logits, end_points = inception.inception_v1(_images([2, 193, 224, 3]), 5, depth_multiplier=0.125)
    assert logits.shape.as_list() == [2, 5] and end_points['AvgPool_0a_7x7'].shape.as_list() == [2, 1, 1, 128]
    dense, _ = inception.inception_v1(_images([2, 321, 321, 3]), 5, spatial_squeeze=False, scope='Dense',
                                      depth_multiplier=0.125)
    assert dense.shape.as_list() == [2, 5, 5, 5]
    images = _images([None, None, None, 3])
    pooled, end_points = inception.inception_v1(images, 5, global_pool=True, is_training=False, scope='Pooled',
                                                depth_multiplier=0.125)
    assert pooled.shape.as_list() == [None, 5] and 'global_pool' in end_points
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    out = sess.run(end_points['Predictions'], {images: np.zeros([3, 40, 57, 3], np.float32)})
  assert out.shape == (3, 5)
  np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_research_slim_names():
  assert inception.inception_v1_arg_scope is inception_utils.inception_arg_scope
  assert inception.inception_v3_arg_scope is inception_utils.inception_arg_scope
  assert inception.inception_arg_scope is inception_utils.inception_arg_scope
  assert inception.inception_v1.default_image_size == 224
