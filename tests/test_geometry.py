"""slimnets.analysis.geometry: sizes, strides, receptive fields and alignment read off built graphs."""

from fractions import Fraction

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim
from hypothesis import example, given, settings, strategies as st

from nets import layers
from tests.conftest import RESNET_VERSIONS
from tests.conftest import run
from tests.conftest import tiny_resnet
from slimnets.analysis import geometry
from slimnets.analysis import dry_build


def test_resnet_v1_50_at_513_output_stride_16():
  built = dry_build.build('resnet_v1_50', (513, 513), output_stride=16, global_pool=False)
  with built.graph.as_default():
    geo = geometry.trace(built.images, built.end_points)
  block4 = geo['resnet_v1_50/block4']
  assert built.end_points['resnet_v1_50/block4'].shape.as_list() == [1, 33, 33, 2048]
  assert (block4.size, block4.stride, block4.receptive_field) == ((33, 33), (16, 16), (483, 483))
  assert block4.aligned((513, 513))  # 513 = 32 * 16 + 1
  conv1 = geo['resnet_v1_50/conv1']
  assert (conv1.stride, conv1.receptive_field, conv1.start) == ((2, 2), (7, 7), (-3, -3))
  # slim's block1 is at stride 8 (its last unit is strided); the stride-4 feature is block1/unit_2
  assert geo['resnet_v1_50/block1'].stride == (8, 8)
  assert geo['resnet_v1_50/block1/unit_2/bottleneck_v1'].stride == (4, 4)


def _block4_receptive_field(multi_grid):
  """resnet_v1_50 at output stride 16, by hand.

  conv1 7x7/2: 7 (stride 2); pool1 3x3/2: 7 + 2*2 = 11 (stride 4). Each 3x3 conv at stride j and rate d adds
  2*d*j. block1: 3 units at j=4 (the last one strides to 8): 11 + 3*8 = 35. block2: 4 units at j=8: 35 + 4*16 = 99
  (stride 16). block3: 6 units at j=16, rate 1 (its stride is skipped): 99 + 6*32 = 291. block4: 3 units at
  j=16 with rate 2 * r for multi-grid rate r: 291 + sum(2 * 2 * r * 16).
  """
  return 291 + sum(2 * 2 * r * 16 for r in multi_grid)


@pytest.mark.parametrize('multi_grid', [None, (1, 2, 4)])
def test_multi_grid_grows_the_block4_receptive_field(multi_grid):
  built = dry_build.build('resnet_v1_50', (513, 513), output_stride=16, global_pool=False, multi_grid=multi_grid)
  with built.graph.as_default():
    geo = geometry.trace(built.images, {'block4': built.end_points['resnet_v1_50/block4']})['block4']
  expected = _block4_receptive_field(multi_grid or (1, 1, 1))
  assert expected == (483 if multi_grid is None else 739)
  assert geo.receptive_field == (expected, expected)
  assert geo.size == (33, 33) and geo.stride == (16, 16)


def test_conv_flops_by_hand(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 2])
  net = layers.conv2d(images, 4, 3, stride=2, scope='a')  # 5x5x4 outputs of 3*3*2 multiply-adds each
  layers.conv2d(net, 3, 1, scope='b')  # 5x5x3 outputs of 4 multiply-adds
  assert geometry.conv_flops(images) == 2 * (5 * 5 * 4 * 3 * 3 * 2 + 5 * 5 * 3 * 4)


def test_unknown_size_gives_strides_and_fields_but_no_sizes(graph):
  images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
  _, end_points = tiny_resnet('v1', images, is_training=False, global_pool=False, output_stride=8)
  geo = geometry.trace(images, {'block4': end_points['tiny/block4']})['block4']
  assert geo.size is None and geo.start is None
  assert geo.stride == (8, 8)
  assert geo.receptive_field == geometry.trace(images, {'b': end_points['tiny/block4']}, (64, 64))['b'].receptive_field


def test_ops_without_known_geometry_are_refused(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 8, 8, 1])
  flipped = tf.image.flip_left_right(images)
  with pytest.raises(geometry.GeometryError, match=r"'flipped' depends on the input through ReverseV2 op"):
    geometry.trace(images, {'flipped': flipped})
  with pytest.raises(geometry.GeometryError, match=r"'other' does not depend on the input tensor"):
    geometry.trace(images, {'other': tf.zeros([1, 8, 8, 1])})


def test_trunk_skips_branches_inside_units(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 32, 32, 3])
  net, end_points = tiny_resnet('v1', images, is_training=False, global_pool=False)
  on_trunk = geometry.trunk(images, net, end_points)
  assert 'tiny/block1/unit_1/bottleneck_v1' in on_trunk and 'tiny/conv1' in on_trunk
  assert not [name for name in on_trunk if name.split('/')[-1] in ('conv1', 'conv2', 'conv3', 'shortcut')
              and name != 'tiny/conv1']


@settings(max_examples=25, deadline=None)
@given(version=st.sampled_from(sorted(RESNET_VERSIONS)), height=st.integers(1, 80), width=st.integers(1, 80),
       output_stride=st.sampled_from([None, 4, 8, 16, 32]))
def test_property_every_end_point_size_is_predicted(version, height, width, output_stride):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, height, width, 3])
    _, end_points = tiny_resnet(version, images, is_training=False, global_pool=False,
                                 output_stride=output_stride)
    spatial = {name: t for name, t in end_points.items() if t.shape.rank == 4}
    geo = geometry.trace(images, spatial)
  for name, tensor in spatial.items():
    assert geo[name].size == tuple(tensor.shape.as_list()[1:3]), name
  last = geo['tiny/block4']
  assert last.stride == ((output_stride or 32),) * 2
  if (height - 1) % last.stride[0] == 0 and (width - 1) % last.stride[1] == 0:
    assert last.aligned((height, width))


_LAYER = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.sampled_from(['SAME', 'VALID']))


@settings(max_examples=20, deadline=None)
@given(stack=st.lists(_LAYER, min_size=1, max_size=4), size=st.integers(12, 40))
@example(stack=[(1, 2, 1, 'SAME'), (3, 1, 3, 'SAME')], size=12)  # a field clipped at the border, with holes
@example(stack=[(1, 3, 1, 'SAME'), (2, 3, 1, 'VALID'), (2, 1, 2, 'SAME')], size=12)  # an empty support
def test_property_receptive_field_is_the_support_of_the_gradient(stack, size):
  """With positive weights and linear layers, output pixel (i, i) depends on exactly its receptive field.

  The field [first, last] = [start + i * stride, start + i * stride + field - 1] bounds the support of the
  gradient, and each end of it that lies inside the image is reached. (An end outside the image is clipped, and
  atrous or strided layers can leave holes, so the support may then stop short of the image border.)
  """
  with tf.Graph().as_default() as g:
    images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 1])
    net = images
    with slim.arg_scope([layers.conv2d], activation_fn=None, weights_initializer=tf.compat.v1.ones_initializer(),
                        biases_initializer=None):
      for kernel, stride, rate, padding in stack:
        stride, rate = (stride, 1) if rate == 1 else (1, rate)  # a stride and a rate cannot both exceed 1
        if padding == 'VALID' and net.shape[1] is not None and net.shape[1] < rate * (kernel - 1) + 1:
          break
        net = layers.conv2d(net, 1, kernel, stride=stride, rate=rate, padding=padding)
    geo = geometry.trace(images, {'out': net})['out']
    index = geo.size[0] // 2
    gradient = tf.gradients(net[0, index, index, 0], images)[0]
    support = np.nonzero(run(g, gradient, {images: np.zeros([1, size, size, 1], np.float32)})[0, :, :, 0])
  first = geo.start[0] + index * geo.stride[0]
  last = first + geo.receptive_field[0] - 1
  if support[0].size == 0:  # every path from the pixel ends in padding (e.g. a dilated even kernel on a 1x1 map)
    assert first < 0 or last > size - 1
    return
  for axis_support in support:
    low, high = axis_support.min(), axis_support.max()
    assert max(first, 0) <= low and high <= min(last, size - 1)
    if first >= 0:
      assert low == first
    if last <= size - 1:
      assert high == last


@pytest.mark.parametrize('size, padding, rate', [((21, 20), 'SAME', 2), ((21, 20), 'VALID', 3), ((7, 9), 'SAME', 4)])
def test_dilated_depthwise_convolution_through_space_to_batch(graph, size, padding, rate):
  # CPU has no dilated depthwise kernel: tf.nn.depthwise_conv2d pads, cuts the map into rate x rate phases
  # (SpaceToBatchND), convolves them and joins them (BatchToSpaceND). That must trace as the dilated convolution.
  images = tf.compat.v1.placeholder(tf.float32, [1, *size, 4])
  depthwise = tf.nn.depthwise_conv2d(images, tf.ones([3, 3, 4, 1]), [1, 1, 1, 1], padding, dilations=[rate, rate])
  dense = tf.nn.conv2d(images, tf.ones([3, 3, 4, 4]), 1, padding, dilations=rate)
  assert {op.type for op in graph.get_operations()} >= {'SpaceToBatchND', 'BatchToSpaceND'}
  geo = geometry.trace(images, {'depthwise': depthwise, 'dense': dense})
  assert geo['depthwise'] == geo['dense']
  assert geo['depthwise'].size == tuple(depthwise.shape.as_list()[1:3])
  assert geo['depthwise'].receptive_field == (2 * rate + 1, 2 * rate + 1)
  on_phases = next(op for op in graph.get_operations() if op.type == 'DepthwiseConv2dNative').outputs[0]
  dense_flops = 2 * 9 * 4 * 4 * np.prod(dense.shape.as_list()[1:3])
  assert geometry.conv_flops(images) == 2 * 9 * np.prod(on_phases.shape.as_list()) + dense_flops


@pytest.mark.parametrize('shape', [[1, None, 21, 4], [None, None, None, 4]])
def test_dilated_depthwise_convolution_on_an_input_of_unknown_size(graph, shape):
  # Then TensorFlow computes the space-to-batch paddings at run time, from the map's Shape.
  images = tf.compat.v1.placeholder(tf.float32, shape)
  depthwise = tf.nn.depthwise_conv2d(images, tf.ones([3, 3, 4, 1]), [1, 1, 1, 1], 'SAME', dilations=[2, 2])
  dense = tf.nn.conv2d(images, tf.ones([3, 3, 4, 4]), 1, 'SAME', dilations=2)
  assert tf.get_static_value(next(op for op in graph.get_operations() if op.type == 'SpaceToBatchND').inputs[2]) is None
  for size in (None, (19, 21)):
    geo = geometry.trace(images, {'depthwise': depthwise, 'dense': dense}, input_size=size)
    assert geo['depthwise'] == geo['dense']
    assert geo['depthwise'].receptive_field == (5, 5) and geo['depthwise'].stride == (1, 1)
  assert geo['depthwise'].size == (19, 21) and geo['depthwise'].start == (-2, -2)


def _resized(net, size):
  return tf.raw_ops.ResizeBilinear(images=net, size=size, align_corners=True)


def test_bilinear_upsampling_with_aligned_corners(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 2])
  net = layers.conv2d(images, 3, 3, stride=2, scope='down')  # 5x5, stride 2, field 3 from -1
  upsampled = _resized(net, [9, 9])  # each output pixel sits at i / 2 of the 5x5 map
  subsampled = _resized(net, [3, 3])  # pixels 0, 2, 4 of the 5x5 map: no interpolation
  geo = geometry.trace(images, {'net': net, 'up': upsampled, 'sub': subsampled})
  assert (geo['net'].stride, geo['net'].receptive_field, geo['net'].start) == ((2, 2), (3, 3), (-1, -1))
  # Odd output pixels interpolate two input pixels 2 apart: field 3 + 2, centred on the interpolated position.
  assert (geo['up'].size, geo['up'].stride, geo['up'].receptive_field, geo['up'].start) == (
      (9, 9), (1, 1), (5, 5), (-2, -2))
  assert geo['up'].aligned((9, 9)) and geo['net'].aligned((9, 9))
  assert (geo['sub'].stride, geo['sub'].receptive_field, geo['sub'].start) == ((4, 4), (3, 3), (-1, -1))
  assert not geo['up'].image_level


def test_bilinear_resize_to_sizes_not_of_the_form_k_stride_plus_1_gives_fractional_strides(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 9, 9, 2])
  net = layers.conv2d(images, 3, 3, stride=2, scope='down')
  geo = geometry.trace(images, {'up': _resized(net, [8, 7])})['up']
  assert geo.stride == (Fraction(8, 7), Fraction(8, 6)) and geo.receptive_field == (5, 5)
  assert [geometry.number_text(s) for s in geo.stride] == ['1.143', '1.333']
  assert geometry.number_text(Fraction(8, 2)) == '4' and not geo.aligned((8, 7))
  other = layers.conv2d(tf.image.resize(images, [8, 7]), 3, 1, scope='other')  # half-pixel centres
  with pytest.raises(geometry.GeometryError, match='only resizing with aligned corners is mapped'):
    geometry.trace(images, {'other': other})
  stride_1 = layers.conv2d(images, 3, [2, 3], padding='VALID', scope='stride_1')  # 8x7 at stride 1
  joined = tf.concat([_resized(net, [8, 7]), stride_1], 3)
  with pytest.raises(geometry.GeometryError, match=r'cannot join maps of size 8 and 8, stride 1.143 and 1'):
    geometry.trace(images, {'joined': joined})
  # FLOPs: convolutions after such a join (or a resize that is not mapped) are counted from their static shapes.
  layers.conv2d(joined, 4, 3, scope='after')
  flops = 2 * (5 * 5 * 3 * 9 * 2 + 8 * 7 * 3 * 2 + 8 * 7 * 3 * 6 * 2 + 8 * 7 * 4 * 9 * 6)
  assert geometry.conv_flops(images) == flops


@pytest.mark.parametrize('pool', ['mean', 'avg_pool'])
def test_an_image_level_feature_broadcast_to_the_map_marks_it(graph, pool):
  # DeepLab's image pooling: global average, 1x1 convolution, resized to the feature map and concatenated.
  images = tf.compat.v1.placeholder(tf.float32, [1, 17, 17, 2])
  features = layers.conv2d(images, 4, 3, stride=4, scope='features')  # 5x5, stride 4, field 3
  pooled = (tf.reduce_mean(features, [1, 2], keepdims=True) if pool == 'mean' else
            layers.avg_pool2d(features, [5, 5], padding='VALID'))
  image_level = _resized(layers.conv2d(pooled, 4, 1, scope='image_pooling'), [5, 5])
  local = layers.conv2d(features, 4, 3, scope='local')  # field 3 + 2 * 4 = 11
  joined = tf.concat([image_level, local], 3)
  projected = layers.conv2d(joined, 4, 1, scope='projection')
  geo = geometry.trace(images, {'local': local, 'projected': projected})
  assert geo['local'].receptive_field == (11, 11) and not geo['local'].image_level
  assert (geo['projected'].stride, geo['projected'].receptive_field) == ((4, 4), (11, 11))
  assert geo['projected'].image_level and geo['projected'].aligned((17, 17))
  with pytest.raises(geometry.GeometryError, match='one image-level feature broadcast to a map'):
    geometry.trace(images, {'image_level': image_level})
  # The 1x1 convolution runs on the pooled pixel, the projection on all 5x5.
  assert geometry.conv_flops(images) == 2 * (25 * 4 * 9 * 2 + 4 * 4 + 25 * 4 * 9 * 4 + 25 * 4 * 8)
