"""Deployment paths side by side: Predictor, the exported SavedModel, OpenVINO and TFLite, float32 and bf16/int8.

For each case (network, head, size, batch) every path runs the same folded network on the same random images
(weights random, batch norm given trained-like statistics): `Predictor` (weights as constants in TensorFlow),
the SavedModel `slimnets.deploy.export.export_saved_model` writes, loaded back in this process (any size, and
'SavedModel sized': exported with the case's `input_size`), `OpenVINOPredictor` (if
openvino is installed) and `TFLitePredictor` (float32, and int8 calibrated on 16 random images of the case's
size; XNNPACK with one thread per core). All paths of a case are warmed up, then timed alternately, `--runs`
times each; medians are reported with images/s, achieved GFLOP/s (the network's convolution FLOPs from
`slimnets.analysis.describe`) and the percentage of the machine's matmul rate in that precision (a 4096x4096 float32 /
bfloat16 matmul in TensorFlow, measured in the same process), and each path's time over Predictor's of the same
precision. bfloat16 is asked for whatever the CPU supports (`unsupported_reason=None`): on a CPU without
bfloat16 instructions it measures emulation.

    python benchmarks/deployment.py [--runs 9]
        [--cases all|classification_224,os16_321,os16_513,mobilenet_v2_513,mobilenet_v3_513]
        [--json]
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import numpy as np  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position

from nets import nets_factory  # pylint: disable=wrong-import-position
from slimnets.deploy import backends  # pylint: disable=wrong-import-position
from slimnets.analysis import describe  # pylint: disable=wrong-import-position
from slimnets.deploy import export  # pylint: disable=wrong-import-position
from slimnets.deploy import inference  # pylint: disable=wrong-import-position
from slimnets.deploy import serving  # pylint: disable=wrong-import-position
from slimnets.deploy import precision as precisions  # pylint: disable=wrong-import-position
from slimnets import models  # pylint: disable=wrong-import-position

# name: (network, num_classes, output_stride, size, batch)
CASES = {
    'classification_224': ('resnet_v1_50', 1000, None, 224, 8),
    'os16_321': ('resnet_v1_50', None, 16, 321, 1),
    'os16_513': ('resnet_v1_50', None, 16, 513, 1),
    'mobilenet_v2_513': ('mobilenet_v2', None, 16, 513, 1),
    'mobilenet_v3_513': ('mobilenet_v3_large', None, 16, 513, 1),
}


def matmul_rate(dtype: tf.DType, runs: int = 5) -> float:
  """GFLOP/s of a 4096x4096 matmul in TensorFlow: the practical peak of this machine in `dtype`."""
  n = 4096
  a = tf.random.uniform([n, n], dtype=tf.float32)
  a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
  product = tf.function(lambda x, y: tf.reduce_sum(tf.cast(tf.matmul(x, y)[:1, :1], tf.float32)))
  product(a, b).numpy()
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    product(a, b).numpy()
    times.append(time.perf_counter() - start)
  return 2 * n ** 3 / statistics.median(times) / 1e9


class _SavedModel:
  """The exported SavedModel, loaded back, with Predictor's call."""

  def __init__(self, path: str):
    self._serve = tf.saved_model.load(path).signatures['serving_default']

  def __call__(self, images):
    return {name: value.numpy() for name, value in self._serve(images=tf.constant(images)).items()}


def _paths(backbone: models.Backbone, size: int, batch: int, folder: str, name: str) -> dict:
  """{(path, precision): predictor} for one case; TFLite int8 calibrated on 16 random images of its range."""
  quiet = {'unsupported_reason': None}
  paths = {}
  for precision in precisions.PRECISIONS:
    paths[('Predictor', precision)] = inference.Predictor(backbone, precision, **quiet)
    saved = export.export_saved_model(backbone, os.path.join(folder, f'{name}-{precision}'), precision=precision)
    paths[('SavedModel', precision)] = _SavedModel(saved)
    sized = export.export_saved_model(backbone, os.path.join(folder, f'{name}-{precision}-sized'),
                                      precision=precision, input_size=(size, size))
    paths[('SavedModel sized', precision)] = _SavedModel(sized)
    try:
      paths[('OpenVINO', precision)] = backends.OpenVINOPredictor(backbone, precision, **quiet)
    except ImportError:
      pass
  low, high = nets_factory.get_spec(backbone.network).value_range
  calibration = [np.random.RandomState(i).uniform(low, high, [size, size, 3]).astype(np.float32) for i in range(16)]
  for quantization in ('float32', 'int8'):
    lite = export.export_tflite(backbone, os.path.join(folder, f'{name}-{quantization}.tflite'), (size, size),
                                batch_size=batch, quantization=quantization, representative=calibration)
    paths[('TFLite', quantization)] = backends.TFLitePredictor(lite, threads=os.cpu_count())
  return paths


def run_case(name: str, runs: int, rates: dict, folder: str) -> list:
  network, num_classes, output_stride, size, batch = CASES[name]
  options = {'global_pool': False} if num_classes is None else {}
  backbone = models.Backbone(network, num_classes, output_stride=output_stride, **options)
  backbone.build()
  inference.randomize_batch_norm(backbone)
  flops = describe.describe(network, size, output_stride=output_stride, num_classes=num_classes)['flops'] * batch
  with warnings.catch_warnings():
    warnings.simplefilter('ignore')
    paths = _paths(backbone, size, batch, folder, name)
  low, high = nets_factory.get_spec(network).value_range
  images = np.random.RandomState(0).uniform(low, high, [batch, size, size, 3]).astype(np.float32)
  reference = paths[('Predictor', 'float32')](images)['output']
  errors = {key: serving.max_relative_error(path(images)['output'], reference) for key, path in paths.items()}
  for path in paths.values():
    for _ in range(2):
      path(images)
  times = {key: [] for key in paths}
  for _ in range(runs):
    for key, path in paths.items():
      start = time.perf_counter()
      path(images)
      times[key].append(1000 * (time.perf_counter() - start))
  rows = []
  for (path, precision), measured in times.items():
    median = statistics.median(measured)
    same = ('Predictor', 'bfloat16' if precision in ('bfloat16', 'int8') else 'float32')
    rate = rates['bfloat16' if precision in ('bfloat16', 'int8') else 'float32']
    gflops = flops / median / 1e6
    rows.append({'case': name, 'path': path, 'precision': precision, 'ms_per_batch': median,
                 'images_per_second': 1000 * batch / median, 'gflop_per_s': gflops,
                 'percent_of_matmul_rate': 100 * gflops / rate,
                 'vs_predictor': median / statistics.median(times[same]),
                 'max_rel_error_vs_float32': errors[(path, precision)]})
  return rows


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=9)
  parser.add_argument('--cases', default='all')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  cases = list(CASES) if args.cases == 'all' else args.cases.split(',')
  rates = {'float32': matmul_rate(tf.float32), 'bfloat16': matmul_rate(tf.bfloat16)}
  native = precisions.bfloat16_unsupported_reason() is None
  rows = []
  with tempfile.TemporaryDirectory() as folder:
    for case in cases:
      rows.extend(run_case(case, args.runs, rates, folder))
  if args.json:
    print(json.dumps({'runs': args.runs, 'matmul_gflop_per_s': rates, 'bfloat16_native': native, 'rows': rows},
                     indent=1))
    return
  print(f'{os.cpu_count()} cores; matmul 4096: {rates["float32"]:.0f} GFLOP/s float32, {rates["bfloat16"]:.0f} '
        f'bfloat16 ({"native" if native else "EMULATED"}); median of {args.runs}; time ratio to Predictor in the '
        'same precision (int8: to bfloat16)')
  print('| case | path | precision | ms/batch | images/s | GFLOP/s | % of matmul | vs Predictor | error |')
  print('| --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  for row in rows:
    print(f"| {row['case']} | {row['path']} | {row['precision']} | {row['ms_per_batch']:.1f} | "
          f"{row['images_per_second']:.1f} | {row['gflop_per_s']:.0f} | {row['percent_of_matmul_rate']:.0f}% | "
          f"{row['vs_predictor']:.2f} | {100 * row['max_rel_error_vs_float32']:.2f}% |")


if __name__ == '__main__':
  main()
