"""Feature levels and `describe`: computed levels, the lookup for decoders, and the description's numbers."""

import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception
from nets import inception_v3
from nets import resnet_v1
from nets import resnet_v2
from slimnets.analysis import describe
from slimnets.analysis import features


def test_resnet_levels_are_the_last_unit_at_each_stride():
  assert features.level_end_points('resnet_v1_50') == (
      ('C1', 'resnet_v1_50/conv1'), ('C2', 'resnet_v1_50/block1/unit_2/bottleneck_v1'),
      ('C3', 'resnet_v1_50/block2/unit_3/bottleneck_v1'), ('C4', 'resnet_v1_50/block3/unit_5/bottleneck_v1'),
      ('C5', 'resnet_v1_50/block4'))
  assert dict(features.level_end_points('resnet_v2_101'))['C4'] == 'resnet_v2_101/block3/unit_22/bottleneck_v2'


def test_inception_levels():
  assert features.level_end_points('inception_v3') == (
      ('C1', 'Conv2d_2b_3x3'), ('C2', 'Conv2d_4a_3x3'), ('C3', 'Mixed_5d'), ('C4', 'Mixed_6e'), ('C5', 'Mixed_7c'))


def test_feature_levels_of_a_built_network_under_another_scope(graph):
  with slim.arg_scope(resnet_v2.resnet_arg_scope()):
    _, end_points = resnet_v2.resnet_v2_50(tf.zeros([1, 65, 65, 3]), output_stride=8, global_pool=False,
                                           depth_multiplier=0.125, scope='backbone')
  levels = features.feature_levels(end_points, 'resnet_v2_50')
  assert list(levels) == ['C1', 'C2', 'C3', 'C4', 'C5']
  assert levels['C2'] is end_points['backbone/block1/unit_2/bottleneck_v2']
  assert levels['C5'] is end_points['backbone/postnorm']  # v2 normalizes only after the last block
  assert [t.shape.as_list()[1:3] for t in levels.values()] == [[33, 33], [17, 17], [9, 9], [9, 9], [9, 9]]


@pytest.mark.eager
def test_resnet_v2_c5_is_the_normalized_output_so_a_decoder_trains_postnorm():
  from slimnets import models  # pylint: disable=import-outside-toplevel
  backbone = models.Backbone('resnet_v2_50', output_stride=16, global_pool=False, depth_multiplier=0.125)
  images = tf.random.stateless_uniform([2, 33, 33, 3], seed=(1, 2), minval=-1, maxval=1)
  with tf.GradientTape() as tape:
    net, end_points = backbone(images, training=True)
    levels = backbone.feature_levels(end_points)
    loss = tf.add_n([tf.reduce_mean(level) for level in levels.values()])
  norm = [backbone.variables_by_name[f'resnet_v2_50/postnorm/{name}'] for name in ('gamma', 'beta')]
  assert all(gradient is not None for gradient in tape.gradient(loss, norm))
  assert levels['C5'] is end_points['resnet_v2_50/postnorm']
  assert float(tf.reduce_min(levels['C5'])) >= 0.0  # after postnorm's ReLU, as `net` is
  assert levels['C5'].numpy().tolist() == net.numpy().tolist()


def test_feature_levels_of_a_partial_inception(graph):
  _, end_points = inception.inception_v3_base(tf.zeros([1, 299, 299, 3]), final_endpoint='Mixed_6e',
                                              depth_multiplier=0.1)
  levels = features.feature_levels(end_points, 'inception_v3')
  assert list(levels) == ['C1', 'C2', 'C3', 'C4'] and levels['C4'] is end_points['Mixed_6e']


def test_feature_levels_of_the_wrong_network(graph):
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    _, end_points = resnet_v1.resnet_v1_50(tf.zeros([1, 33, 33, 3]), depth_multiplier=0.125)
  with pytest.raises(ValueError, match=r"end_points hold none of the feature levels of 'inception_v3'"):
    features.feature_levels(end_points, 'inception_v3')


def test_describe_resnet_v1_50_at_513_output_stride_16():
  d = describe.describe('resnet_v1_50', 513, output_stride=16)
  assert (d['network'], d['input_shape'], d['output_stride'], d['parameters']) == (
      'resnet_v1_50', [1, 513, 513, 3], 16, 23508032)
  rows = {row['name']: row for row in d['end_points']}
  assert rows['resnet_v1_50/block4'] == {'name': 'resnet_v1_50/block4', 'shape': [1, 33, 33, 2048],
                                         'stride': [16, 16], 'receptive_field': [483, 483], 'channels': 2048}
  assert rows['resnet_v1_50/conv1']['receptive_field'] == [7, 7] and rows['resnet_v1_50/conv1']['stride'] == [2, 2]
  assert [(f['level'], f['stride'], f['channels']) for f in d['features']] == [
      ('C1', [2, 2], 64), ('C2', [4, 4], 256), ('C3', [8, 8], 512), ('C4', [16, 16], 1024), ('C5', [16, 16], 2048)]
  assert d['warnings'] == []  # 513 = 32 * 16 + 1: corners aligned
  assert d['minimum_input_size']['size'] == 1


def test_describe_with_classes_counts_the_head_and_flops():
  d = describe.describe('resnet_v1_50', num_classes=1000)
  assert d['parameters'] == 25557032
  assert d['end_points'][-1]['name'] == 'predictions' and d['end_points'][-1]['shape'] == [1, 1000]
  # the logits add 2 * 2048 * 1000 FLOPs to the features-only count
  assert d['flops'] - describe.describe('resnet_v1_50')['flops'] == 2 * 2048 * 1000


def test_describe_warns_about_alignment_and_tiny_inputs():
  d = describe.describe('resnet_v1_50', (224, 230), output_stride=8, in_channels=4)
  assert d['input_shape'] == [1, 224, 230, 4]
  # Height 224: conv1 gives 112, and pool1's SAME 3x3/2 pads 112 by (0, 1), moving the first centre to 2;
  # 28 pixels at stride 8 end at 2 + 27 * 8 = 218. Width 230: conv1 gives 115, pool1 pads (1, 1) and keeps the
  # first centre at 0; 29 pixels end at 224.
  assert d['warnings'] == [
      'input 224x230 is not of the form k*8+1, so the corners of resnet_v1_50/block4 (stride 8) are not aligned with '
      'the image corners: its pixel centres run from (2, 0) to (218, 224), the image corners are (0, 0) and '
      '(223, 229); aligned sizes nearby: 217, 225, 233']
  small = describe.describe('resnet_v2_50', 20)
  assert small['warnings'][1] == (
      'input 20x20 is smaller than the nominal stride 32: the maps stop shrinking at 1x1 from '
      'resnet_v2_50/block3/unit_6/bottleneck_v2/conv2 on, and their receptive fields reach past the image')


@pytest.mark.parametrize('network', ['inception_v3', 'resnet_v1_50', 'resnet_v2_101'])
@pytest.mark.parametrize('size', [(400, 300), (300, 400), (299, 400), (161, 120)])
def test_describe_non_square_inputs(network, size):
  """Each axis on its own: the shapes of the description are those the layer arithmetic gives per axis."""
  d = describe.describe(network, size, num_classes=5)
  rows = {row['name']: row for row in d['end_points']}
  if network == 'inception_v3':
    heights, widths = inception_v3.end_point_sizes(size[0], 0), inception_v3.end_point_sizes(size[1], 1)
    assert rows['Mixed_7c']['shape'] == [1, heights['Mixed_7c'], widths['Mixed_7c'], 2048]
    assert rows['Mixed_6e']['shape'] == [1, heights['Mixed_6e'], widths['Mixed_6e'], 768]
    assert rows['Mixed_6e']['stride'] == [16, 16]
  else:
    assert rows[f'{network}/block4']['shape'] == [1, -(-size[0] // 32), -(-size[1] // 32), 2048]
  assert rows['Predictions' if network == 'inception_v3' else 'predictions']['shape'] == [1, 5]
  assert all('aligned sizes nearby: 1,' not in w for w in d['warnings'])


def test_the_default_inception_size_has_no_warning_nothing_could_act_on():
  assert describe.describe('inception_v3')['warnings'] == []


def test_describe_inception_minimum_and_levels():
  d = describe.describe('inception_v3', 75)
  assert d['minimum_input_size']['size'] == 75
  assert [row['shape'][1] for row in d['end_points'] if row['name'] == 'Mixed_7c'] == [1]
  assert describe.describe('inception_v3', 107, num_classes=10)['minimum_input_size']['size'] == 107


@pytest.mark.parametrize('kwargs,message', [
    ({'network': 'inception_v3', 'output_stride': 16},
     r'inception_v3 has no output_stride option \(it runs at its nominal stride 32\)'),
    ({'network': 'resnet_v1_50', 'input_size': (0, 5)}, r'input_size must be a positive int or \(height, width\), '
                                                        r'got \(0, 5\)'),
    ({'network': 'resnet_v1_50', 'in_channels': 0}, r'in_channels must be a positive int, got 0'),
    ({'network': 'resnet_v1_50', 'num_classes': -1}, r'num_classes must be None or an int >= 0, got -1'),
    ({'network': 'resnet_v1_50', 'output_stride': 12}, r'output_stride must be None \(nominal, 32\) or one of'),
])
def test_describe_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    describe.describe(**kwargs)
