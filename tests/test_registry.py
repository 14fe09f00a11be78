"""Every registry declaration against the built network: levels, first and class variables, strides, sizes.

The registry states each network's facts once; these tests derive each fact from a scratch build of the
network itself (`slimnets.analysis.dry_build`, `slimnets.analysis.features.trace_levels`) and require them to
agree, for every entry.
"""

import math
import re

import pytest

from nets import nets_factory
from slimnets.analysis import features
from slimnets.weights import preprocessing
from slimnets.analysis import dry_build

pytestmark = pytest.mark.once
NAMES = list(nets_factory.REGISTRY)
STRIDE_4_STEMS = ('alexnet_v2', 'overfeat')
STRIDE_8_STEMS = ('nasnet_mobile', 'nasnet_large', 'pnasnet_mobile', 'pnasnet_large')


@pytest.mark.parametrize('network', NAMES)
def test_declared_input_and_class_variables(network):
  spec = nets_factory.get_spec(network)
  rgb = dry_build.build(network, in_channels=3, num_classes=1000).variables
  other = dry_build.build(network, in_channels=5, num_classes=7).variables
  changed = [(name, rgb[name][0], other[name][0]) for name in rgb if rgb[name][0] != other[name][0]]
  # a kernel's input axis: 3 -> 5, or 3m -> 5m for the pointwise kernel of a separable first layer
  follows_inputs = lambda one, two: any(a * 5 == b * 3 for a, b in zip(one, two) if a != b)
  assert spec.input_variables == tuple(name for name, one, two in changed if follows_inputs(one, two))
  assert spec.class_variables == tuple(name for name, one, two in changed if (1000, 7) in zip(one, two))
  assert len(changed) == len(spec.input_variables) + len(spec.class_variables)
  assert spec.num_classes in (1000, 1001) and spec.label_offset == spec.num_classes - 1000


@pytest.mark.parametrize('network', NAMES)
def test_declared_levels_are_the_traced_ones(network):
  assert features.trace_levels(network) == list(nets_factory.get_spec(network).levels)
  names = [level.name for level in nets_factory.get_spec(network).levels]
  # consecutive up to C5; a stem of stride 4 (AlexNet's and OverFeat's 11x11/4 conv1) has no C1, NASNet's and
  # PNASNet's first end point ('Stem') is at stride 8
  count = 4 if network in STRIDE_4_STEMS else 3 if network in STRIDE_8_STEMS else 5
  assert names == list(features.LEVELS)[-len(names):] and len(names) == count


@pytest.mark.parametrize('network', [name for name in NAMES if nets_factory.get_spec(name).decoder_end_points])
def test_declared_decoder_end_points_are_at_their_strides(network):
  from slimnets.analysis import geometry  # pylint: disable=import-outside-toplevel
  spec = nets_factory.get_spec(network)
  built = dry_build.build(network, global_pool=False)
  points = dict(spec.decoder_end_points)
  assert sorted(points) == [4, 8, 16]
  with built.graph.as_default():
    traced = geometry.trace(built.images, {name: built.end_points[name] for name in points.values()})
  assert {stride: traced[name].stride for stride, name in points.items()} == {s: (s, s) for s in points}
  assert spec.decoder_end_point(4) == points[4]
  with pytest.raises(ValueError, match=f'{network} has no DeepLab decoder feature at stride 2; it has one at '
                                       r'strides \[4, 8, 16\]'):
    spec.decoder_end_point(2)


@pytest.mark.parametrize('network', NAMES)
def test_declared_output_strides_build_and_others_are_refused(network):
  spec = nets_factory.get_spec(network)
  size = 2 * spec.minimum_input_size(False)[0] + 33
  if not spec.output_strides:
    assert 'output_stride' not in spec.options
    return
  assert spec.output_strides[-1] == spec.nominal_stride
  for stride in sorted({spec.output_strides[0], spec.nominal_stride}):  # 8 and 16: the manifests' dense builds
    built = dry_build.build(network, input_size=(size, size), global_pool=False, output_stride=stride)
    last = built.end_points[spec.levels[-1].end_point]  # the dense features (a classifier's net may be pooled)
    assert last.shape.as_list()[1:3] == [math.ceil(size / stride)] * 2
  for stride in (spec.output_strides[0] // 2, spec.nominal_stride * 2, 12):
    with pytest.raises(ValueError, match='output_stride'):
      dry_build.build(network, input_size=(size, size), global_pool=False, output_stride=stride)


@pytest.mark.parametrize('network', NAMES)
def test_declared_minimum_input_size_is_the_smallest_that_builds(network):
  spec = nets_factory.get_spec(network)
  for with_classes in (False, True):
    minimum, reason = spec.minimum_input_size(with_classes)
    assert reason
    classes = 10 if with_classes else None
    if with_classes or minimum != spec.minimum_input_size(True)[0]:  # a head never builds below the body
      dry_build.build(network, input_size=(minimum, minimum), num_classes=classes)
    if minimum > 1:
      with pytest.raises(ValueError):
        dry_build.build(network, input_size=(minimum - 1, minimum - 1), num_classes=classes)


@pytest.mark.parametrize('network', NAMES)
def test_declared_value_range_is_what_its_preprocessing_gives(network):
  import numpy as np  # pylint: disable=import-outside-toplevel
  spec = nets_factory.get_spec(network)
  black, white = (np.full([8, 8, 3], value, np.uint8) for value in (0, 255))
  process = preprocessing.get_preprocessing(network)
  low = float(np.min(process(black, 8, 8)))
  high = float(np.max(process(white, 8, 8)))
  assert spec.value_range[0] <= low < spec.value_range[0] + 1 and spec.value_range[1] - 1 < high <= spec.value_range[1]


@pytest.mark.parametrize('network', NAMES)
def test_declared_archive(network):
  archive = nets_factory.get_spec(network).archive
  if archive is None:
    return
  assert archive.url.startswith(('https://download.tensorflow.org/models/',
                                 'https://storage.googleapis.com/mobilenet_v2/checkpoints/',
                                 'https://storage.googleapis.com/mobilenet_v3/checkpoints/'))
  assert archive.url.endswith(('.tar.gz', '.tgz'))
  assert archive.checkpoint.endswith('.ckpt') or re.fullmatch(r'ema/model-\d+', archive.checkpoint)
  assert archive.num_classes in (None, nets_factory.get_spec(network).num_classes)


@pytest.mark.parametrize('network', NAMES)
def test_declared_options_are_the_functions(network):
  spec = nets_factory.get_spec(network)
  assert spec.takes('output_stride') == ('output_stride' in spec.options)
  assert spec.takes('multi_grid') == ('multi_grid' in spec.options)
  if spec.multi_grid:
    rates = tuple(range(1, spec.multi_grid + 1))
    dry_build.build(network, input_size=(33, 33), global_pool=False, multi_grid=rates)
    with pytest.raises(ValueError, match='multi_grid must be None or 3 int rates'):
      dry_build.build(network, input_size=(33, 33), global_pool=False, multi_grid=rates + (1,))
