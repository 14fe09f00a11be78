"""Fuzzing the network functions: random arguments give a documented ValueError, or shapes the geometry predicts.

Each example draws a network, an input (size, channels, batch, dtype) and the arguments research/slim users
pass (output_stride, multi_grid, num_classes, global_pool, spatial_squeeze, VGG's fc_conv_padding), and builds
it through the factory in a fresh graph (each network's own subset of these). To keep CI fast most ResNets are
tiny (research/slim's standard blocks with 1, 1, 1 and 3 units, built by `resnet_v1.resnet_v1` /
`resnet_v2.resnet_v2`), the rest thin registry networks through the factory (`depth_multiplier` 0.125,
Inception v3 0.1). The build must either raise `ValueError` itself, leaving the graph without ops or collection
entries, or succeed with every 4-D end point of the static shape that `slimnets.analysis.geometry` computes from the
ops, and (but for the networks without `output_stride`: Inception v1 and v3, VGG, AlexNet) with the last features at
the stride asked for (NASNet: its 3x3/2 VALID conv0, then stride 16). Any other exception fails. The CI profile
runs 250 examples (120 in the `--tf-behavior=v1` run); `pytest tests/test_fuzz.py --hypothesis-profile=long`
explores 3000.
"""

import math

import hypothesis
from hypothesis import strategies as st
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory
from nets import resnet_utils
from nets import resnet_v1
from nets import resnet_v2
from nets.nasnet import nasnet
from slimnets.analysis import geometry

NETWORKS = ('tiny_v1', 'tiny_v2', 'tiny_v1', 'tiny_v2', 'inception_v3', 'resnet_v1_50', 'resnet_v2_50',
            'resnet_v1_50_beta', 'mobilenet_v1', 'mobilenet_v2', 'xception_41', 'vgg_16', 'alexnet_v2', 'inception_v1',
            'inception_v2', 'nasnet_mobile')
CLASSIC = ('vgg_16', 'alexnet_v2')  # no output_stride; fc6 is a VALID convolution of pool5 by default
TINY = {'tiny_v1': (resnet_v1, resnet_v1.resnet_v1, resnet_v1.resnet_v1_block),
        'tiny_v2': (resnet_v2, resnet_v2.resnet_v2, resnet_v2.resnet_v2_block)}


_NASNET_6_CELLS = nasnet.mobile_imagenet_config()
_NASNET_6_CELLS.set_hparam('num_cells', 6)


@st.composite
def builds(draw):
  network = draw(st.sampled_from(NETWORKS))
  inception = network == 'inception_v3'
  low, high = (60, 140) if inception else (20, 300) if network in CLASSIC + ('inception_v1',) else (1, 140)
  height = draw(st.one_of(st.none(), st.integers(low, high))) if not inception else draw(st.integers(low, high))
  width = draw(st.integers(low, high))
  shape = [draw(st.one_of(st.none(), st.integers(1, 3))), height, width,
           draw(st.one_of(st.integers(1, 6), st.just(None)) if draw(st.booleans()) else st.just(3))]
  dtype = draw(st.sampled_from([tf.float32] * 6 + [tf.bfloat16, tf.int32, tf.uint8]))
  kwargs = {'global_pool': draw(st.booleans()), 'spatial_squeeze': draw(st.booleans())}
  if draw(st.booleans()) or not inception and draw(st.booleans()):
    kwargs['output_stride'] = draw(st.sampled_from([None, 1, 2, 4, 8, 12, 16, 32, 64]))
  if not inception and draw(st.booleans()):
    kwargs['multi_grid'] = draw(st.one_of(st.none(), st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple)))
  if network == 'vgg_16' and draw(st.booleans()):
    kwargs['fc_conv_padding'] = draw(st.sampled_from(['VALID', 'SAME', 'same']))
  num_classes = draw(st.sampled_from([None, 0, 1, 5, 12, -1, 2.5]))
  return network, shape, dtype, num_classes, kwargs


def _build(network, images, num_classes, kwargs):
  if network in TINY:
    module, resnet, block = TINY[network]
    options = dict(kwargs)
    blocks = resnet_utils.standard_blocks(block, (1, 1, 1, 3), depth_multiplier=0.125,
                                          multi_grid=options.pop('multi_grid', None))
    with slim.arg_scope(module.resnet_arg_scope()):
      return resnet(images, blocks, num_classes, is_training=False, scope=network, **options)
  thin = 0.1 if network == 'inception_v3' else 0.125
  options = {key: value for key, value in kwargs.items() if key in nets_factory.get_spec(network).options}
  if network == 'nasnet_mobile':  # 6 cells (reductions after the 2nd and 4th) keep every path, at half the cost
    options['config'] = _NASNET_6_CELLS
  return nets_factory.get_network_fn(network, num_classes)(images, depth_multiplier=thin, **options)


def _last_features(network, end_points):
  """The network's last feature map (its C5): a classifier's output may be pooled (MobileNet's 7x7 pool)."""
  if network in TINY:
    return end_points[f'{network}/block4']
  if network == 'nasnet_mobile':
    return end_points['Cell_5']
  return end_points[nets_factory.get_spec(network).levels[-1].end_point]


def _graph_state(graph):
  return (len(graph.get_operations()),
          {key: len(graph.get_collection(key)) for key in graph.get_all_collection_keys()})


@hypothesis.given(builds())
def test_random_arguments_give_a_value_error_or_the_predicted_shapes(case):
  network, shape, dtype, num_classes, kwargs = case
  graph = tf.Graph()
  with graph.as_default():
    images = tf.compat.v1.placeholder(dtype, shape)
    before = _graph_state(graph)
    try:
      net, end_points = _build(network, images, num_classes, kwargs)
    except ValueError as error:
      assert type(error) is ValueError, repr(error)
      assert _graph_state(graph) == before, str(error)
      return
    assert dtype.is_floating and shape[3] is not None  # these are refused above
    maps = {name: t for name, t in end_points.items() if t.shape.rank == 4}
    known = [axis for axis in (0, 1) if shape[1 + axis] is not None]
    # An unknown axis is traced at an arbitrary size (large enough for MobileNet's 7x7 VALID pool, which is
    # 7x7 when the size is unknown); only the known axes are compared.
    predicted = geometry.trace(images, maps, input_size=tuple(n if n is not None else 261 for n in shape[1:3]))
    for name, tensor in maps.items():
      static = tensor.shape.as_list()
      assert [static[1 + axis] for axis in known] == [predicted[name].size[axis] for axis in known], (
          name, tensor.shape, predicted[name].size)
      assert static[0] == shape[0]
    last = _last_features(network, end_points)
    if network == 'nasnet_mobile' and shape[1] is not None:  # conv0 is 3x3/2 VALID, every later layer SAME
      assert last.shape.as_list()[1:3] == [math.ceil(((n - 3) // 2 + 1) / 16) for n in shape[1:3]]
    elif network not in ('inception_v3',) + CLASSIC and shape[1] is not None:  # every layer SAME up to C5
      takes_stride = network in TINY or 'output_stride' in nets_factory.get_spec(network).options
      stride = (kwargs.get('output_stride') if takes_stride else None) or 32
      assert last.shape.as_list()[1:3] == [math.ceil(shape[1] / stride), math.ceil(shape[2] / stride)]
    if num_classes:
      assert net.shape[-1] == num_classes
