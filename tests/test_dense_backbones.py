"""The DeepLab-style backbones at every output stride: atrous features are the nominal ones, denser.

For ResNet v1 beta, MobileNet v1 and Xception (thin), the last feature level built at output_stride 8 and 16
(with the same variables) and subsampled to stride 32 equals the nominal network's. Every strided layer pads
so that its output is the stride-1 output subsampled (explicit padding, or SAME on odd sizes), so the atrous
network computes the same function sampled more densely.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory
from tests.conftest import run

THIN = {'resnet_v1_50_beta': 0.125, 'mobilenet_v1': 0.25, 'xception_41': 0.125}


@pytest.mark.parametrize('network', sorted(THIN))
def test_atrous_features_subsample_to_nominal_ones(graph, network):
  spec = nets_factory.get_spec(network)
  images = tf.constant(np.random.RandomState(0).uniform(-1, 1, [1, 65, 65, 3]).astype(np.float32))
  c5 = spec.levels[-1].end_point

  def build(output_stride=None):
    with slim.arg_scope(spec.arg_scope()):
      _, end_points = spec.fn(images, None, is_training=False, global_pool=False, output_stride=output_stride,
                              depth_multiplier=THIN[network])
    return end_points[c5]

  nominal = build()
  with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
    dense = {stride: build(stride) for stride in (8, 16)}
  values = run(graph, [nominal] + [dense[8][:, ::4, ::4], dense[16][:, ::2, ::2]])
  assert values[0].shape == (1, 3, 3, spec.levels[-1].channels * THIN[network])
  assert [d.shape.as_list() for d in dense.values()] == [[1, 9, 9, values[0].shape[-1]], [1, 5, 5, values[0].shape[-1]]]
  assert np.abs(values[0]).max() > 0
  for subsampled in values[1:]:
    np.testing.assert_allclose(subsampled, values[0], rtol=1e-4, atol=1e-4)
