"""ResNet v1 and v2 on tiny block lists: shapes, atrous equivalence, conv2d_same, unknown sizes, multi-grid."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2
from tests.conftest import RESNET_VERSIONS
from tests.conftest import atrous_rate
from tests.conftest import run
from tests.conftest import tiny_resnet


def _random_images(shape, seed=0):
  return tf.constant(np.random.RandomState(seed).uniform(-1, 1, shape).astype(np.float32))


@pytest.mark.parametrize('version', RESNET_VERSIONS)
def test_classification_shapes_and_end_points(graph, version):
  logits, end_points = tiny_resnet(version, tf.zeros([2, 224, 224, 3]), num_classes=10, spatial_squeeze=False)
  assert logits.shape.as_list() == [2, 1, 1, 10]
  assert end_points['predictions'].shape.as_list() == [2, 1, 1, 10]
  expected = {'tiny/block1': [2, 28, 28, 4], 'tiny/block2': [2, 14, 14, 8], 'tiny/block3': [2, 7, 7, 16],
              'tiny/block4': [2, 7, 7, 32], 'global_pool': [2, 1, 1, 32], 'tiny/logits': [2, 1, 1, 10]}
  assert {k: end_points[k].shape.as_list() for k in expected} == expected
  unit = f'tiny/block1/unit_1/bottleneck_{version}'  # the stride-4 feature: block1's last unstrided unit
  assert end_points[unit].shape.as_list() == [2, 56, 56, 4]
  assert end_points['tiny/conv1'].shape.as_list() == [2, 112, 112, 64]


@pytest.mark.parametrize('version', RESNET_VERSIONS)
def test_squeezed_logits(graph, version):
  logits, end_points = tiny_resnet(version, tf.zeros([2, 64, 64, 3]), num_classes=7)
  assert logits.shape.as_list() == [2, 7]
  assert end_points['tiny/spatial_squeeze'] is logits


@pytest.mark.parametrize('version', RESNET_VERSIONS)
@pytest.mark.parametrize('output_stride,size', [(None, 11), (32, 11), (16, 21), (8, 41), (4, 81)])
def test_fully_convolutional_shapes(graph, version, output_stride, size):
  net, _ = tiny_resnet(version, tf.zeros([2, 321, 321, 3]), global_pool=False, output_stride=output_stride)
  assert net.shape.as_list() == [2, size, size, 32]


@pytest.mark.parametrize('version', RESNET_VERSIONS)
def test_rootless_network(graph, version):
  net, end_points = tiny_resnet(version, tf.zeros([2, 64, 64, 3]), global_pool=False, include_root_block=False)
  assert net.shape.as_list() == [2, 8, 8, 32]
  assert 'tiny/conv1' not in end_points


@pytest.mark.parametrize('version', RESNET_VERSIONS)
@pytest.mark.parametrize('size', [32, 33])
def test_atrous_features_subsample_to_nominal_ones(graph, version, size):
  images = _random_images([2, size, size, 3])
  nominal, _ = tiny_resnet(version, images, is_training=False, global_pool=False)
  for output_stride in (4, 8, 16):
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
      dense, _ = tiny_resnet(version, images, is_training=False, global_pool=False, output_stride=output_stride)
    factor = 32 // output_stride
    subsampled = dense[:, ::factor, ::factor, :]
    got, want = run(graph, [subsampled, nominal])
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('size', [15, 16])
def test_conv2d_same_equals_convolution_then_subsampling(graph, size):
  images = _random_images([1, size, size, 2])
  same = resnet_utils.conv2d_same(images, 3, 3, stride=2, scope='c')
  with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
    full = layers.conv2d(images, 3, 3, stride=1, scope='c')
  got, want = run(graph, [same, resnet_utils.subsample(full, 2)])
  assert got.shape == (1, (size + 1) // 2, (size + 1) // 2, 3)
  np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize('version', RESNET_VERSIONS)
def test_unknown_batch_size(graph, version):
  images = tf.compat.v1.placeholder(tf.float32, [None, 64, 64, 3])
  logits, _ = tiny_resnet(version, images, num_classes=5)
  assert logits.shape.as_list() == [None, 5]
  assert run(graph, logits, {images: np.zeros([3, 64, 64, 3])}).shape == (3, 5)


@pytest.mark.parametrize('version', RESNET_VERSIONS)
@pytest.mark.parametrize('output_stride,expected', [(None, 3), (8, 9)])
def test_unknown_height_and_width(graph, version, output_stride, expected):
  images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
  net, _ = tiny_resnet(version, images, global_pool=False, output_stride=output_stride)
  assert net.shape.as_list() == [None, None, None, 32]
  assert run(graph, net, {images: np.zeros([1, 65, 65, 3])}).shape == (1, expected, expected, 32)


def test_store_non_strided_activations_keeps_block_resolution(graph):
  _, end_points = tiny_resnet('v1', tf.zeros([1, 64, 64, 3]), global_pool=False, store_non_strided_activations=True)
  assert end_points['tiny/block1'].shape.as_list() == [1, 16, 16, 4]
  assert end_points['tiny/block2/unit_1/bottleneck_v1'].shape.as_list() == [1, 8, 8, 8]


def test_is_training_none_leaves_batch_norm_to_the_enclosing_scope(graph):
  with slim.arg_scope([slim.batch_norm], is_training=False):
    tiny_resnet('v1', tf.zeros([1, 32, 32, 3]), is_training=None)
  assert not tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.Graph().as_default() as other:
    tiny_resnet('v1', tf.zeros([1, 32, 32, 3]), is_training=True)
    # conv1, 3 convolutions in each of 7 units, 4 projection shortcuts: 26 batch norms, 2 updates each
    assert len(other.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == 2 * 26


@pytest.mark.parametrize('network', [resnet_v1.resnet_v1_50, resnet_v2.resnet_v2_50])
def test_multi_grid_multiplies_block4_rates(graph, network):
  images = tf.zeros([1, 129, 129, 3])  # block4 at 9x9: rate 8 still reads the image (see test_tf1's atrous test)
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    network(images, global_pool=False, output_stride=16, depth_multiplier=0.125, multi_grid=(1, 2, 4))
  suffix = 'v1' if network is resnet_v1.resnet_v1_50 else 'v2'
  rates = [atrous_rate(graph, f'{network.__name__}/block4/unit_{i}/bottleneck_{suffix}/conv2') for i in (1, 2, 3)]
  assert rates == [2, 4, 8]  # output stride 16 gives block4 rate 2, times the grid


def test_default_image_sizes():
  for network in (resnet_v1.resnet_v1, resnet_v1.resnet_v1_50, resnet_v1.resnet_v1_101, resnet_v1.resnet_v1_152,
                  resnet_v1.resnet_v1_200, resnet_v2.resnet_v2, resnet_v2.resnet_v2_50, resnet_v2.resnet_v2_200):
    assert network.default_image_size == 224


@pytest.mark.parametrize('version', RESNET_VERSIONS)
def test_spatial_squeeze_that_cannot_hold_names_the_fix(graph, version):
  images = tf.zeros([1, 100, 64, 3])
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'inputs of 100x64 at output stride 32 give 4x2 logits without global '
                                       r'pooling, which spatial_squeeze=True cannot squeeze to \[batch, num_classes\]; '
                                       r'pass global_pool=True or spatial_squeeze=False'):
    tiny_resnet(version, images, num_classes=5, global_pool=False)
  assert len(graph.get_operations()) == ops_before
  logits, _ = tiny_resnet(version, images, num_classes=5, global_pool=False, output_stride=None, spatial_squeeze=False)
  assert logits.shape.as_list() == [1, 4, 2, 5]
