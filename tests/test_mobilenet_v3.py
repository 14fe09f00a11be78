"""MobileNet v3 and MobileNet-EdgeTPU beyond research/slim's manifests: the numbers of its activations and
squeeze-excite, every output stride with the head, features without the head pool, the fused blocks dilated."""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets.mobilenet import conv_blocks
from nets.mobilenet import mobilenet_v3
from tests.conftest import atrous_rate
from tests.conftest import randomize_variables

pytestmark = pytest.mark.once


def _run(fn, *inputs):
  with tf.compat.v1.Session() as sess:
    randomize_variables(sess)
    return sess.run(fn(*inputs) if callable(fn) else fn)


def test_hard_swish_and_the_squeeze_excite_gate_are_research_slims_formulas(graph):
  x = np.array([-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0], np.float32)
  np.testing.assert_allclose(_run(mobilenet_v3.hard_swish(tf.constant(x))), x * np.clip(x + 3, 0, 6) / 6,
                             rtol=1e-6, atol=0)
  assert any(op.name == 'hard_swish/Relu6' for op in graph.get_operations())  # under research/slim's name scope


def test_squeeze_excite_scales_each_channel_by_its_gate_from_the_mean_of_the_map(graph):
  images = np.random.RandomState(0).normal(size=[2, 5, 7, 16]).astype(np.float32)
  with slim.arg_scope(mobilenet_v3.training_scope(is_training=False)):
    out = mobilenet_v3.squeeze_excite(tf.constant(images))
  names = {v.op.name: v for v in tf.compat.v1.global_variables()}
  assert {name: v.shape.as_list() for name, v in names.items()} == {
      'squeeze_excite/Conv/weights': [1, 1, 16, 8], 'squeeze_excite/Conv/biases': [8],  # 16 / 4 -> 8
      'squeeze_excite/Conv_1/weights': [1, 1, 8, 16], 'squeeze_excite/Conv_1/biases': [16]}
  with tf.compat.v1.Session() as sess:
    randomize_variables(sess)
    got, values = sess.run([out, names])
  squeezed = np.maximum(images.mean((1, 2)) @ values['squeeze_excite/Conv/weights'][0, 0]
                        + values['squeeze_excite/Conv/biases'], 0)
  gates = np.clip(squeezed @ values['squeeze_excite/Conv_1/weights'][0, 0] + values['squeeze_excite/Conv_1/biases']
                  + 3, 0, 6) * 0.16667
  np.testing.assert_allclose(got, images * gates[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_the_whole_network_builds_at_every_output_stride_which_research_slims_base_cannot(graph):
  images = tf.zeros([1, 65, 65, 3])
  for stride, size in ((32, 3), (16, 5), (8, 9), (4, 17)):
    with tf.compat.v1.variable_scope(f'os{stride}'):
      logits, end_points = mobilenet_v3.small(images, num_classes=5, depth_multiplier=0.25, output_stride=stride)
    assert logits.shape.as_list() == [1, 5]
    assert end_points['layer_13'].shape.as_list()[1:3] == [size, size]  # before the head pool
    assert end_points['layer_14'].shape.as_list()[1:3] == [1, 1]  # reduce_to_1x1 over the whole map


def test_without_global_pool_the_features_end_before_the_head_pool_and_logits_are_dense(graph):
  images = tf.zeros([2, 65, 65, 3])
  features, end_points = mobilenet_v3.large(images, num_classes=None, global_pool=False, output_stride=16)
  assert features.shape.as_list() == [2, 5, 5, 960] and 'layer_18' not in end_points
  with tf.compat.v1.variable_scope('classes'):
    logits, end_points = mobilenet_v3.large(images, num_classes=7, global_pool=False, output_stride=16)
  assert logits.shape.as_list() == [2, 5, 5, 7]
  assert end_points['layer_18'].shape.as_list() == end_points['layer_17'].shape.as_list()  # the map kept
  assert end_points['layer_19'].shape.as_list() == [2, 5, 5, 1280]


def test_the_head_pool_narrows_its_window_to_a_small_map_of_two_sizes(graph):
  pooled = conv_blocks.reduce_to_1x1(tf.reshape(tf.range(15.0), [1, 3, 5, 1]), stride=1, padding='VALID')
  assert _run(pooled).tolist() == [[[[7.0]]]]  # the mean of 0..14; research/slim's 7x7 window fails on 3x5
  square = conv_blocks.reduce_to_1x1(tf.zeros([1, 9, 9, 2]), rate=2, stride=1, padding='VALID')
  assert square.shape.as_list() == [1, 1, 1, 2]


def test_a_fused_edgetpu_block_past_the_output_stride_is_atrous_not_strided(graph):
  images = tf.zeros([1, 64, 64, 3])
  net, end_points = mobilenet_v3.edge_tpu(images, num_classes=None, global_pool=False, output_stride=4,
                                          depth_multiplier=0.25)
  assert net.shape.as_list()[1:3] == [16, 16]
  assert end_points['layer_7'].shape.as_list()[1:3] == [16, 16]  # the fused block of stride 2, at rate 2
  assert atrous_rate(graph, 'MobilenetEdgeTPU/MobilenetEdgeTPU/expanded_conv_6/expand') == 2
  assert atrous_rate(graph, 'MobilenetEdgeTPU/MobilenetEdgeTPU/expanded_conv_2/expand') == 1


@pytest.mark.eager
def test_bfloat16_runs_the_squeeze_excite_and_hard_swish_network():
  from slimnets import models  # pylint: disable=import-outside-toplevel
  backbone = models.Backbone('mobilenet_v3_small', depth_multiplier=0.25, output_stride=16, global_pool=False)
  images = np.random.RandomState(0).uniform(-1, 1, [1, 33, 33, 3]).astype(np.float32)
  low, _ = backbone(tf.cast(images, tf.bfloat16))
  full, _ = backbone(images)
  assert low.dtype == tf.bfloat16 and low.shape == full.shape == (1, 3, 3, 144)
  error = np.abs(tf.cast(low, tf.float32).numpy() - full.numpy()).max() / np.abs(full.numpy()).max()
  assert error < 0.05
