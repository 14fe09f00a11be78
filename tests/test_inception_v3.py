"""Inception v3: end point shapes, final_endpoint, heads at other sizes, tiny depth multipliers."""

import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_v3

SPATIAL_AT_299 = {'Conv2d_1a_3x3': 149, 'Conv2d_2a_3x3': 147, 'Conv2d_2b_3x3': 147, 'MaxPool_3a_3x3': 73,
                  'Conv2d_3b_1x1': 73, 'Conv2d_4a_3x3': 71, 'MaxPool_5a_3x3': 35, 'Mixed_5b': 35, 'Mixed_5c': 35,
                  'Mixed_5d': 35, 'Mixed_6a': 17, 'Mixed_6b': 17, 'Mixed_6c': 17, 'Mixed_6d': 17, 'Mixed_6e': 17,
                  'Mixed_7a': 8, 'Mixed_7b': 8, 'Mixed_7c': 8}


def test_base_end_points_in_order_with_a_tiny_depth_multiplier(graph):
  net, end_points = inception.inception_v3_base(tf.zeros([1, 299, 299, 3]), depth_multiplier=0.1)
  assert list(end_points) == list(SPATIAL_AT_299) == inception_v3.END_POINTS
  assert {k: v.shape.as_list()[1] for k, v in end_points.items()} == SPATIAL_AT_299
  assert end_points['Conv2d_1a_3x3'].shape[-1] == 16  # 32 * 0.1 is below min_depth 16
  assert net is end_points['Mixed_7c']


def test_final_endpoint_stops_the_build(graph):
  net, end_points = inception.inception_v3_base(tf.zeros([1, 299, 299, 3]), final_endpoint='Mixed_5b',
                                                depth_multiplier=0.1)
  assert list(end_points)[-1] == 'Mixed_5b' and len(end_points) == 8
  assert net.shape.as_list() == [1, 35, 35, 64]  # four branches of 64, 64, 96, 32 channels, each * 0.1 -> 16
  assert not [op for op in graph.get_operations() if 'Mixed_5c' in op.name]


def test_unknown_final_endpoint(graph):
  images = tf.zeros([1, 299, 299, 3])
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match="final_endpoint must be one of .* got 'Mixed_9z'"):
    inception.inception_v3_base(images, final_endpoint='Mixed_9z')
  assert len(graph.get_operations()) == ops_before


def test_global_pool_gives_logits_at_another_size(graph):
  with slim.arg_scope(inception.inception_v3_arg_scope()):
    logits, end_points = inception.inception_v3(tf.zeros([2, 400, 300, 3]), num_classes=10, global_pool=True,
                                                depth_multiplier=0.1, create_aux_logits=False)
  assert logits.shape.as_list() == [2, 10]
  # Mixed_7c's branches: 320, 2 x 384, 2 x 384 and 192 channels, each int(c * 0.1): 32 + 76 + 76 + 19
  assert end_points['global_pool'].shape.as_list() == [2, 1, 1, 203]


def test_small_input_shrinks_the_pooling_kernels(graph):
  with slim.arg_scope(inception.inception_v3_arg_scope()):
    logits, end_points = inception.inception_v3(tf.zeros([1, 150, 150, 3]), num_classes=3, depth_multiplier=0.1)
  assert end_points['Mixed_7c'].shape.as_list()[1:3] == [3, 3]
  assert end_points['AvgPool_1a'].shape.as_list()[1:3] == [1, 1]
  assert logits.shape.as_list() == [1, 3]
  # Mixed_6e is 7x7, its 5x5/3 pool 1x1, so the aux 5x5 convolution shrinks to 1x1 (and is named so)
  assert graph.get_operation_by_name('InceptionV3/AuxLogits/Conv2d_2a_1x1/Conv2D')


def test_features_only_without_classes(graph):
  with slim.arg_scope(inception.inception_v3_arg_scope()):
    net, end_points = inception.inception_v3(tf.zeros([1, 299, 299, 3]), num_classes=None, depth_multiplier=0.1)
  assert net is end_points['AvgPool_1a'] and net.shape.as_list() == [1, 1, 1, 203]
  assert 'AuxLogits' not in end_points and 'Logits' not in end_points


def test_default_image_size():
  assert inception.inception_v3.default_image_size == 299
