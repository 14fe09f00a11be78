"""The DeepLab-style backbones at every output stride: atrous features are the nominal ones, denser.

For ResNet v1 beta, MobileNet v1 and v2 and Xception (thin), the last feature level built at output_stride 8 and 16
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

THIN = {'resnet_v1_50_beta': 0.125, 'mobilenet_v1': 0.25, 'mobilenet_v2': 0.25, 'xception_41': 0.125}


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
  scale = np.abs(values[0]).max()  # float32 sums in another order: errors scale with the features' size
  for subsampled in values[1:]:
    np.testing.assert_allclose(subsampled, values[0], rtol=1e-4, atol=max(1e-4, 1e-6 * scale))


@pytest.mark.eager
@pytest.mark.parametrize('network', ['mobilenet_v1', 'mobilenet_v2', 'xception_41'])
def test_depthwise_backbone_in_tf2_folds_saves_restores_in_tf1_and_adapts_to_4_channels(tmp_path, network):
  """A thin depthwise network end to end: TF2 `Backbone` with the graph build's variable names, batch norm folded
  into depthwise layers, a checkpoint a TF1 session restores by name, and a 4-channel adaptation."""
  from slimnets.weights import checkpoints  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import inference  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import serving  # pylint: disable=import-outside-toplevel
  from slimnets.analysis import dry_build  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = {'output_stride': 16, 'global_pool': False, 'depth_multiplier': THIN[network]}
  backbone = models.Backbone(network, **options).build()
  inference.randomize_batch_norm(backbone, seed=3)
  assert list(backbone.variables_by_name) == list(dry_build.build(network, **options).variables)
  images = np.random.RandomState(1).uniform(-1, 1, [2, 49, 45, 3]).astype(np.float32)
  net, end_points = backbone(images)
  c5 = end_points[nets_factory.get_spec(network).levels[-1].end_point].numpy()
  assert c5.shape[1:3] == (4, 3) and np.abs(c5).max() > 0
  folded = inference.Predictor(backbone, 'float32', levels=('C2', 'C5'))(images)
  assert serving.max_relative_error(folded['C5'], c5) < 1e-5
  assert serving.max_relative_error(folded['output'], net.numpy()) < 1e-5

  path = backbone.save(str(tmp_path / 'model.ckpt'))
  with tf.Graph().as_default() as graph:
    placeholder = tf.compat.v1.placeholder(tf.float32, [None, 49, 45, 3])
    _, graph_points = nets_factory.get_network_fn(network, None)(placeholder, **options)
    report = checkpoints.restore(path, allow_missing=False)  # loads when the variables are initialized
    assert not report.missing and not report.unused and len(report.restored) == len(backbone.variables_by_name)
    with tf.compat.v1.Session(graph=graph) as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      restored = sess.run(graph_points[nets_factory.get_spec(network).levels[-1].end_point], {placeholder: images})
  np.testing.assert_allclose(restored, c5, rtol=1e-5, atol=1e-5)

  adapted = checkpoints.adapt(checkpoints.read(path), network, in_channels=4, channel_mode='zeros')
  four = models.Backbone(network, in_channels=4, **options)
  four.restore(checkpoints.write(adapted, str(tmp_path / 'four.ckpt')), allow_missing=False)
  extra = np.random.RandomState(2).uniform(-1, 1, [2, 49, 45, 1]).astype(np.float32)
  _, four_points = four(np.concatenate([images, extra], axis=-1))
  np.testing.assert_allclose(four_points[nets_factory.get_spec(network).levels[-1].end_point].numpy(), c5,
                             rtol=1e-5, atol=1e-5)
