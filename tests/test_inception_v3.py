"""Inception v3: end point shapes, final_endpoint, heads at other sizes, tiny depth multipliers."""

import functools

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


def test_minimum_input_sizes():
  assert inception_v3.minimum_input_size() == 75
  assert inception_v3.minimum_input_size(aux_logits=True) == 107
  # backwards from a 1x1 MaxPool_5a_3x3 (3x3/2 VALID): 3; Conv2d_4a 3x3 VALID: 5; Conv2d_3b 1x1: 5;
  # MaxPool_3a 3x3/2: 11; Conv2d_2b SAME: 11; Conv2d_2a 3x3 VALID: 13; Conv2d_1a 3x3/2: 27
  assert inception_v3.minimum_input_size('MaxPool_5a_3x3') == 27
  sizes = inception_v3.end_point_sizes(27)
  assert [sizes[k] for k in inception_v3.END_POINTS[:7]] == [13, 11, 11, 5, 5, 3, 1]
  assert inception_v3.end_point_sizes(26)['MaxPool_5a_3x3'] == 0


@pytest.mark.parametrize('size', [75, 76, 107, 150, 299, 331, 400])
def test_spec_sizes_match_the_built_shapes(graph, size):
  _, end_points = inception.inception_v3_base(tf.zeros([1, size, size + 7, 3]), depth_multiplier=0.1)
  heights, widths = inception_v3.end_point_sizes(size), inception_v3.end_point_sizes(size + 7, axis=1)
  assert {k: v.shape.as_list()[1:3] for k, v in end_points.items()} == {k: [heights[k], widths[k]] for k in heights}


def test_too_small_for_the_base(graph):
  inception.inception_v3_base(tf.zeros([1, 75, 75, 3]), depth_multiplier=0.1)  # Mixed_7a..7c are 1x1
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'inception_v3_base: inputs of 74x80 are too small: the VALID convolutions '
                                       r'and pools up to Mixed_7c need at least 75x75; resize or pad the images'):
    inception.inception_v3_base(tf.zeros([1, 74, 80, 3]), depth_multiplier=0.1)
  assert len(graph.get_operations()) == ops_before + 3  # tf.zeros' three ops, nothing of the network
  _, end_points = inception.inception_v3_base(tf.zeros([1, 40, 40, 3]), final_endpoint='Mixed_5d',
                                              depth_multiplier=0.1)
  # 40 -> 19 (3x3/2) -> 17 (3x3) -> 17 (SAME) -> 8 (pool 3x3/2) -> 8 (1x1) -> 6 (3x3) -> 2 (pool 3x3/2)
  assert end_points['Mixed_5d'].shape.as_list() == [1, 2, 2, 16 + 16 + 16 + 16]


def test_too_small_adds_nothing_to_the_graph(graph):
  images = tf.zeros([1, 100, 100, 3])
  tiny_images = tf.zeros([1, 74, 74, 3])
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'inception_v3: inputs of 100x100 are too small for the auxiliary head '
                                       r'\(create_aux_logits=True\).* at least 107x107; pass '
                                       r'create_aux_logits=False to go down to 75x75'):
    inception.inception_v3(images, num_classes=10, depth_multiplier=0.1)
  with pytest.raises(ValueError, match=r'inputs of 74x74 are too small: .* need at least 75x75, and the auxiliary '
                                       r'head \(create_aux_logits=True\) needs 107x107'):
    inception.inception_v3(tiny_images, num_classes=10, depth_multiplier=0.1)
  assert len(graph.get_operations()) == ops_before
  assert not tf.compat.v1.global_variables()
  logits, _ = inception.inception_v3(images, num_classes=10, depth_multiplier=0.1, create_aux_logits=False)
  assert logits.shape.as_list() == [1, 10]


def test_spatial_squeeze_that_cannot_hold_names_the_fix(graph):
  images = tf.zeros([1, 400, 400, 3])
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'inception_v3: inputs of 400x400 give 2x2 Logits without global pooling, '
                                       r'which spatial_squeeze=True cannot squeeze to \[batch, num_classes\]; pass '
                                       r'global_pool=True \(1x1 logits at any size, same variables\) or '
                                       r'spatial_squeeze=False'):
    inception.inception_v3(images, num_classes=10, depth_multiplier=0.1)
  assert len(graph.get_operations()) == ops_before


@functools.lru_cache(maxsize=None)
def _head_variables(size, **kwargs):
  with tf.Graph().as_default():
    with slim.arg_scope(inception.inception_v3_arg_scope()):
      logits, end_points = inception.inception_v3(tf.zeros([2, size, size, 3]), num_classes=10,
                                                  depth_multiplier=0.1, **kwargs)
    variables = [(v.op.name, v.shape.as_list()) for v in tf.compat.v1.global_variables()]
    return logits.shape.as_list(), end_points['AuxLogits'].shape.as_list(), variables


@pytest.mark.parametrize('size', [107, 150, 511])
def test_global_pool_heads_at_any_size_keep_the_default_variables(size):
  logits, aux, variables = _head_variables(size, global_pool=True)
  assert logits == aux == [2, 10]
  assert variables == _head_variables(299)[2]
  assert ('InceptionV3/AuxLogits/Conv2d_2a_5x5/weights', [5, 5, 16, 76]) in variables


def test_aux_logits_honour_spatial_squeeze(graph):
  with slim.arg_scope(inception.inception_v3_arg_scope()):
    logits, end_points = inception.inception_v3(tf.zeros([1, 299, 299, 3]), num_classes=4, depth_multiplier=0.1,
                                                spatial_squeeze=False)
  assert logits.shape.as_list() == end_points['AuxLogits'].shape.as_list() == [1, 1, 1, 4]
