"""Inception-ResNet v2: atrous output_stride 8 equals the nominal network subsampled, sizes, heads, errors.

The manifests (test_reference_manifests) pin the classifier at 299 and the base at output_stride 16 at 321.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_resnet_v2
from tests.conftest import randomize_variables


def _base(images, **kwargs):
  with slim.arg_scope(inception.inception_resnet_v2_arg_scope()), slim.arg_scope([slim.batch_norm],
                                                                                 is_training=False):
    return inception.inception_resnet_v2_base(images, depth_multiplier=0.125, **kwargs)


@pytest.mark.parametrize('size', [(95, 117)])
def test_output_stride_8_is_output_stride_16_densified(size):
  feed = np.random.RandomState(0).uniform(-1, 1, [2, *size, 3]).astype(np.float32)
  with tf.Graph().as_default() as graph:
    images = tf.compat.v1.placeholder(tf.float32, [2, *size, 3])
    nominal, _ = _base(images, final_endpoint='PreAuxLogits', output_stride=16)
    with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):  # the same variables
      dense, end_points = _base(images, final_endpoint='PreAuxLogits', output_stride=8, scope='InceptionResnetV2')
    rates = [tuple(tf.get_static_value(op.inputs[1])) for op in graph.get_operations()
             if op.type == 'SpaceToBatchND' and op.name.startswith('InceptionResnetV2_1/Repeat_1/')]
    # The 1x7 and 7x1 convolutions of the 20 Block17 units at rate 2, as in research/slim (atrous convolutions
    # run between space-to-batch and batch-to-space; a 1x1 convolution is the same at any rate)
    assert rates == [(2, 2)] * 40
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      nominal_out, dense_out = sess.run([nominal, dense], {images: feed})
  sizes = [inception_resnet_v2.end_point_sizes(n, axis) for axis, n in enumerate(size)]
  # Mixed_6a's channels at 1/8: 48 + 48 + Mixed_5b's 64 (16 + 16 + 16 + 16) passed through its max pool
  assert nominal_out.shape == (2, sizes[0]['PreAuxLogits'], sizes[1]['PreAuxLogits'], 160)
  # Mixed_6a unstrided: its VALID 3x3 layers take 2 from MaxPool_5a_3x3 instead of halving it
  assert dense_out.shape == (2, sizes[0]['MaxPool_5a_3x3'] - 2, sizes[1]['MaxPool_5a_3x3'] - 2, 160)
  assert end_points['PreAuxLogits'].shape.as_list() == list(dense_out.shape)
  np.testing.assert_allclose(dense_out[:, ::2, ::2], nominal_out, rtol=1e-4, atol=1e-4 * np.abs(nominal_out).max())


def test_sizes_minimums_and_aligned_feature_maps(graph):
  del graph
  assert inception_resnet_v2.minimum_input_size() == 75
  assert inception_resnet_v2.minimum_input_size(aux_logits=True) == 107
  assert inception_resnet_v2.minimum_input_size(align_feature_maps=True) == 1
  net, end_points = _base(tf.compat.v1.placeholder(tf.float32, [1, 299, 299, 3]), align_feature_maps=True)
  assert net.shape.as_list() == [1, 10, 10, 192]  # SAME everywhere: ceil(299 / 32)
  assert end_points['PreAuxLogits'].shape.as_list() == [1, 19, 19, 160]
  net, _ = _base(tf.compat.v1.placeholder(tf.float32, [1, 75, 80, 3]), scope='Smallest')
  assert net.shape.as_list() == [1, 1, 1, 192]


def test_classifier_at_other_sizes_features_and_relu6(graph):
  with slim.arg_scope(inception.inception_resnet_v2_arg_scope(activation_fn=tf.nn.relu6)):
    logits, end_points = inception.inception_resnet_v2(tf.compat.v1.placeholder(tf.float32, [2, 400, 300, 3]), 7,
                                                       activation_fn=tf.nn.relu6, depth_multiplier=0.125)
    assert logits.shape.as_list() == [2, 7] and end_points['AuxLogits'].shape.as_list() == [2, 7]
    shapes = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
    # the auxiliary head's last convolution covers its pooled map, whose size follows the input's
    assert shapes['InceptionResnetV2/AuxLogits/Conv2d_2a_5x5/weights'] == [7, 5, 16, 96]
    # research/slim's band-pass: each residual unit but the last Block8 clips its residual to [-6, 6]
    clips = [op for op in graph.get_operations() if op.name.endswith('/clip_by_value')]
    assert len(clips) == 10 + 20 + 9
    images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
    pooled, pooled_points = inception.inception_resnet_v2(images, 7, create_aux_logits=False, scope='Any',
                                                          depth_multiplier=0.125)
    assert pooled.shape.as_list() == [None, 7] and 'AuxLogits' not in pooled_points
    features, _ = inception.inception_resnet_v2(images, None, global_pool=False, scope='Dense',
                                                depth_multiplier=0.125)
    assert features.shape.as_list() == [None, None, None, 192]


@pytest.mark.parametrize('function, shape, kwargs, message', [
    ('inception_resnet_v2_base', [1, 99, 99, 3], {'output_stride': 32},
     r'^inception_resnet_v2_base: output_stride must be 8 or 16, got 32$'),
    ('inception_resnet_v2_base', [1, 99, 99, 3], {'output_stride': 8},
     r"^inception_resnet_v2_base: output_stride=8 builds up to final_endpoint='PreAuxLogits' only"),
    ('inception_resnet_v2_base', [1, 74, 99, 3], {},
     r'^inception_resnet_v2_base: inputs of 74x99 are too small: the VALID convolutions and pools up to '
     r'Conv2d_7b_1x1 need at least 75x75; resize or pad the images, or pass align_feature_maps=True'),
    ('inception_resnet_v2', [1, 100, 100, 3], {'num_classes': 5},
     r'^inception_resnet_v2: inputs of 100x100 are too small for the auxiliary head \(create_aux_logits=True\)'),
    ('inception_resnet_v2', [1, None, 200, 3], {'num_classes': 5},
     r'^inception_resnet_v2: inputs of \?x200: the auxiliary head \(create_aux_logits=True\) needs a known height'),
    ('inception_resnet_v2', [1, 299, 299, 3], {'num_classes': 5, 'global_pool': False},
     r'^inception_resnet_v2: global_pool=False is for features only'),
])
def test_errors_come_before_anything_is_built(graph, function, shape, kwargs, message):
  images = tf.compat.v1.placeholder(tf.float32, shape)
  with slim.arg_scope(inception.inception_resnet_v2_arg_scope()):
    with pytest.raises(ValueError, match=message):
      getattr(inception, function)(images, **kwargs)
  assert graph.get_operations() == [images.op]
