"""Inception v4: sizes from the specs, the pooled head at any size, the auxiliary head's size rules, errors.

The manifest (test_reference_manifests) pins the classifier at 299.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_v4


def test_base_sizes_follow_the_valid_layers(graph):
  del graph
  assert inception_v4.minimum_input_size() == 75 and inception_v4.minimum_input_size(aux_logits=True) == 107
  # 27 -> 13 (3x3/2) -> 11 (3x3) -> 11 -> 5 (Mixed_3a, 3x3/2) -> 3 (Mixed_4a, 3x3) -> 1 (Mixed_5a, 3x3/2)
  assert inception_v4.minimum_input_size('Mixed_5a') == 27
  with slim.arg_scope(inception.inception_v4_arg_scope()):
    net, end_points = inception.inception_v4_base(tf.compat.v1.placeholder(tf.float32, [1, 200, 131, 3]),
                                                  depth_multiplier=0.125)
  sizes = [inception_v4.end_point_sizes(200), inception_v4.end_point_sizes(131, 1)]
  assert {name: tensor.shape.as_list()[1:3] for name, tensor in end_points.items()} == {
      name: [sizes[0][name], sizes[1][name]] for name in inception_v4.END_POINTS}
  assert net.shape.as_list() == [1, 4, 2, 192] and list(end_points) == inception_v4.END_POINTS  # 200 -> 4, 131 -> 2


def test_classifier_heads(graph):
  del graph
  with slim.arg_scope(inception.inception_v4_arg_scope()):
    logits, end_points = inception.inception_v4(tf.compat.v1.placeholder(tf.float32, [2, 350, 299, 3]), 9,
                                                depth_multiplier=0.125)
    assert logits.shape.as_list() == [2, 9] and end_points['AuxLogits'].shape.as_list() == [2, 9]
    shapes = {v.op.name: v.shape.as_list() for v in tf.compat.v1.global_variables()}
    assert shapes['InceptionV4/AuxLogits/Conv2d_2a/weights'] == [6, 5, 16, 96]  # covers the pooled Mixed_6h
    assert shapes['InceptionV4/Logits/Logits/weights'] == [192, 9]
    images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
    pooled, pooled_points = inception.inception_v4(images, 9, create_aux_logits=False, scope='Any',
                                                   is_training=False, depth_multiplier=0.125)
    features, _ = inception.inception_v4(images, None, global_pool=False, scope='Dense', depth_multiplier=0.125)
  assert pooled.shape.as_list() == [None, 9] and 'AuxLogits' not in pooled_points
  assert features.shape.as_list() == [None, None, None, 192]
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    out = sess.run(pooled_points['Predictions'], {images: np.zeros([1, 80, 97, 3], np.float32)})
  assert out.shape == (1, 9)
  np.testing.assert_allclose(out.sum(), 1, rtol=1e-5)


@pytest.mark.parametrize('function, shape, kwargs, message', [
    ('inception_v4_base', [1, 74, 99, 3], {}, r'^inception_v4_base: inputs of 74x99 are too small: the VALID '
     r'convolutions and pools up to Mixed_7d need at least 75x75; resize or pad the images$'),
    ('inception_v4_base', [1, 99, 99, 3], {'final_endpoint': 'Mixed_8a'},
     r"^inception_v4_base: final_endpoint must be one of \['Conv2d_1a_3x3', .*got 'Mixed_8a'$"),
    ('inception_v4', [1, 106, 120, 3], {'num_classes': 5}, r'^inception_v4: inputs of 106x120 are too small for the '
     r'auxiliary head \(create_aux_logits=True\), whose 5x5/3 VALID average pool needs Mixed_6h of at least 5x5, '
     r'i\.e\. inputs of at least 107x107; pass create_aux_logits=False to go down to 75x75$'),
    ('inception_v4', [1, 299, None, 3], {'num_classes': 5}, r'^inception_v4: inputs of 299x\?: the auxiliary head'),
    ('inception_v4', [1, 299, 299, 3], {'num_classes': 5, 'global_pool': False},
     r'^inception_v4: global_pool=False is for features only'),
])
def test_errors_come_before_anything_is_built(graph, function, shape, kwargs, message):
  images = tf.compat.v1.placeholder(tf.float32, shape)
  with slim.arg_scope(inception.inception_v4_arg_scope()):
    with pytest.raises(ValueError, match=message):
      getattr(inception, function)(images, **kwargs)
  assert graph.get_operations() == [images.op]
