"""slimnets.deploy.inference: the frozen, batch-norm-folded Predictor in float32 and bfloat16; benchmark."""

import numpy as np
import pytest
import tensorflow as tf

from slimnets.deploy import inference
from slimnets.deploy import serving
from slimnets.deploy import precision
from slimnets import models

pytestmark = pytest.mark.eager  # Backbone, Predictor, export and extract run eagerly

THIN = {'depth_multiplier': 0.125}


@pytest.fixture(scope='module')
def backbone():
  """A thin resnet_v1_50 at output stride 16 with random weights and batch norm statistics, all drawn from one
  seed (unseeded initializers made the bfloat16 error vary from run to run around its bound)."""
  net = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN).build()
  rng = np.random.RandomState(0)
  for name, variable in net.variables_by_name.items():
    if name.endswith('weights'):  # He-scaled, as the initializer draws them
      fan_in = int(np.prod(variable.shape[:-1]))
      variable.assign(rng.normal(0, np.sqrt(2.0 / fan_in), variable.shape).astype(np.float32))
    elif name.endswith(('moving_variance', 'gamma')):
      variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
    elif name.endswith(('moving_mean', 'beta')):
      variable.assign(rng.uniform(-0.2, 0.2, variable.shape).astype(np.float32))
  return net


def _images(size=65, seed=1):
  return np.random.RandomState(seed).uniform(-120, 150, [2, size, size + 4, 3]).astype(np.float32)


def test_float32_predictor_equals_the_backbone(backbone):
  images = _images()
  net, end_points = backbone(images, training=False)
  levels = backbone.feature_levels(end_points)
  outputs = inference.Predictor(backbone, 'float32', levels=('C3', 'C5'), pooled=True)(images)
  assert sorted(outputs) == ['C3', 'C5', 'output', 'pooled']
  assert outputs['output'].shape == (2, 5, 5, 256) and outputs['C3'].shape == (2, 9, 9, 64)
  assert outputs['pooled'].shape == (2, 256) and all(v.dtype == np.float32 for v in outputs.values())
  for key, expected in (('output', net), ('C3', levels['C3']), ('C5', levels['C5'])):
    assert serving.max_relative_error(outputs[key], expected.numpy()) < 1e-5
  np.testing.assert_allclose(outputs['pooled'], outputs['C5'].mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_predictor_uses_a_snapshot_of_the_weights(backbone):
  images = _images()
  predictor = inference.Predictor(backbone, 'float32')
  before = predictor(images)['output']
  kernel = backbone.variables_by_name['resnet_v1_50/conv1/weights']
  saved = kernel.numpy()
  kernel.assign(saved * 2)
  try:
    np.testing.assert_array_equal(predictor(images)['output'], before)
    assert serving.max_relative_error(inference.Predictor(backbone, 'float32')(images)['output'], before) > 0.01
  finally:
    kernel.assign(saved)


def test_bfloat16_predictor_stays_within_5_percent_of_float32(backbone):
  images = _images()
  reference = inference.Predictor(backbone, 'float32', levels=('C4',))(images)
  predictor = inference.Predictor(backbone, 'bfloat16', levels=('C4',), unsupported_reason=None)
  assert predictor.precision == 'bfloat16'
  outputs = predictor(images)
  for key in ('output', 'C4'):
    assert outputs[key].dtype == np.float32
    error = serving.max_relative_error(outputs[key], reference[key])
    assert 1e-4 < error < 0.05, (key, error)  # it did compute in bfloat16, and well enough


def test_bfloat16_without_hardware_support_warns_and_runs_float32(backbone):
  with pytest.warns(RuntimeWarning, match=r'bfloat16 requested, running float32: no bf16 here'):
    predictor = inference.Predictor(backbone, 'bfloat16', unsupported_reason='no bf16 here')
  assert predictor.precision == 'float32'
  images = _images()
  np.testing.assert_array_equal(predictor(images)['output'],
                                inference.Predictor(backbone, 'float32')(images)['output'])


@pytest.mark.parametrize('flags, supported', [
    ('fpu sse2 avx512f avx512_bf16 amx_tile', True),
    ('fpu sse2 amx_bf16 amx_tile', True),
    ('fpu sse2 avx2 avx512f', False),
])
def test_bfloat16_detection_reads_the_cpu_flags(tmp_path, flags, supported):
  cpuinfo = tmp_path / 'cpuinfo'
  cpuinfo.write_text(f'processor\t: 0\nflags\t\t: {flags}\n\nprocessor\t: 1\nflags\t\t: fpu\n')
  reason = precision.bfloat16_unsupported_reason(str(cpuinfo))
  if supported:
    assert reason is None
  else:
    assert 'has no bfloat16 instructions (avx512_bf16, amx_bf16' in reason and str(cpuinfo) in reason
  assert precision.bfloat16_unsupported_reason(str(tmp_path / 'absent')) is not None


def test_resolve_precision():
  assert precision.resolve_precision('float32', 'whatever') == ('float32', None)
  assert precision.resolve_precision('bfloat16', None) == ('bfloat16', None)
  assert precision.resolve_precision('bfloat16', 'old CPU') == (
      'float32', 'bfloat16 requested, running float32: old CPU, where bfloat16 is slower than float32')
  with pytest.raises(ValueError, match=r"precision must be one of float32, bfloat16, got 'float16'"):
    precision.resolve_precision('float16')


def test_predictor_refuses_unknown_levels_and_precisions(backbone):
  with pytest.raises(ValueError, match=r'resnet_v1_50 has no feature level C6; it has C1, C2, C3, C4, C5'):
    inference.Predictor(backbone, levels=('C6',))
  with pytest.raises(ValueError, match=r"precision must be one of float32, bfloat16, got 'fp8'"):
    inference.Predictor(backbone, 'fp8')


def test_backbone_weights_argument_needs_every_variable(backbone):
  values = {name: tf.constant(v.numpy()) for name, v in backbone.variables_by_name.items()}
  images = _images(33)
  np.testing.assert_array_equal(backbone(images, weights=values)[0].numpy(), backbone(images)[0].numpy())
  del values['resnet_v1_50/conv1/weights']
  with pytest.raises(ValueError, match=r'1 variables missing: resnet_v1_50/conv1/weights'):
    backbone(images, weights=values)
  with pytest.raises(ValueError, match=r'training=True'):
    backbone(images, training=True, weights=values)


def test_benchmark_reports_speed_and_bfloat16_error(backbone):
  result = inference.benchmark(backbone, (33, 33), batch_size=2, precision='bfloat16', runs=3, warmup=1,
                               unsupported_reason=None)
  assert result['precision'] == result['requested_precision'] == 'bfloat16' and result['message'] is None
  assert result['batch'] == 2 and result['input_size'] == [33, 33] and result['runs'] == 3
  assert result['ms_per_batch_min'] <= result['ms_per_batch_median'] <= result['ms_per_batch_max']
  assert result['images_per_second'] == pytest.approx(2000 / result['ms_per_batch_median'])
  assert 1e-4 < result['max_rel_error_vs_float32'] < 0.05
  fallback = inference.benchmark(backbone, (33, 33), precision='bfloat16', runs=1, unsupported_reason='old CPU')
  assert fallback['precision'] == 'float32' and 'old CPU' in fallback['message']
  assert 'max_rel_error_vs_float32' not in fallback
  with pytest.raises(ValueError, match=r'runs must be a positive int, got 0'):
    inference.benchmark(backbone, (33, 33), runs=0)
