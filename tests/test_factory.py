"""nets_factory: research/slim's names and get_network_fn, and the registry."""

import pytest
import tensorflow as tf

from nets import nets_factory
from tests.conftest import atrous_rate

NAMES = ['inception_v3', 'resnet_v1_50', 'resnet_v1_101', 'resnet_v1_152', 'resnet_v1_200',
         'resnet_v2_50', 'resnet_v2_101', 'resnet_v2_152', 'resnet_v2_200', 'resnet_v1_50_beta', 'resnet_v1_101_beta',
         'mobilenet_v1', 'mobilenet_v1_075', 'mobilenet_v1_050', 'mobilenet_v1_025',
         'mobilenet_v2', 'mobilenet_v2_140', 'mobilenet_v2_035', 'mobilenet_v3_large', 'mobilenet_v3_small',
         'mobilenet_v3_large_minimalistic', 'mobilenet_v3_small_minimalistic', 'mobilenet_edgetpu',
         'mobilenet_edgetpu_075',
         'xception_41', 'xception_65', 'xception_71', 'vgg_a', 'vgg_16', 'vgg_19', 'alexnet_v2', 'overfeat',
         'inception_v1', 'inception_v2', 'inception_resnet_v2', 'inception_v4', 'nasnet_mobile', 'nasnet_large',
         'pnasnet_mobile', 'pnasnet_large']


def test_maps_cover_the_networks():
  assert list(nets_factory.networks_map) == NAMES
  assert list(nets_factory.arg_scopes_map) == NAMES


def test_get_network_fn_builds_under_the_arg_scope(graph):
  network_fn = nets_factory.get_network_fn('resnet_v2_50', num_classes=5, weight_decay=0.001)
  assert network_fn.default_image_size == 224
  logits, _ = network_fn(tf.zeros([1, 64, 64, 3]), output_stride=16, global_pool=True)
  assert logits.shape.as_list() == [1, 5]
  assert not tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)  # is_training defaults to False
  assert len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)) == 54


def test_inception_default_size():
  assert nets_factory.get_network_fn('inception_v3', 1001).default_image_size == 299


def test_unknown_name_lists_networks_and_suggests_the_closest():
  with pytest.raises(ValueError, match=r"Unknown network name 'resnet_v1_5'\. Did you mean 'resnet_v1_50'\? "
                                       r"Known networks: inception_v3, resnet_v1_50, "):
    nets_factory.get_network_fn('resnet_v1_5', 10)


def test_get_network_fn_passes_multi_grid_and_checks_it(graph):
  network_fn = nets_factory.get_network_fn('resnet_v1_101', num_classes=None)
  images = tf.zeros([1, 65, 65, 3])  # block4 at 9x9: rate 8 still reads the image (see test_tf1's atrous test)
  ops_before = len(graph.get_operations())
  with pytest.raises(ValueError, match=r'multi_grid must be None or 3 int rates >= 1, one per unit of block4, '
                                       r'got \(1, 0, 2\)'):
    network_fn(images, multi_grid=(1, 0, 2), output_stride=8)
  assert len(graph.get_operations()) == ops_before
  network_fn(images, multi_grid=(1, 2, 1), output_stride=8, global_pool=False)
  conv2 = 'resnet_v1_101/block4/unit_{}/bottleneck_v1/conv2'
  assert [atrous_rate(graph, conv2.format(i)) for i in (1, 2, 3)] == [4, 8, 4]


def test_unknown_names_suggest_every_equally_close_network():
  with pytest.raises(ValueError, match=r"Unknown network name 'resnet50'\. Did you mean 'resnet_v1_50' or "
                                       r"'resnet_v2_50'\? Known networks: "):
    nets_factory.get_spec('resnet50')
  with pytest.raises(ValueError, match=r"Did you mean 'resnet_v1_50'\? Known"):
    nets_factory.get_spec('resnet_v1_5O')
  with pytest.raises(ValueError, match=r"Unknown network name 'vgg_11'\. Did you mean 'vgg_16' or 'vgg_19'\? "):
    nets_factory.get_spec('vgg_11')
  with pytest.raises(ValueError, match=r"Unknown network name 'squeezenet'\. Known networks: "):
    nets_factory.get_spec('squeezenet')
