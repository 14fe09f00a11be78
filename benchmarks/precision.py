"""Inference speed in float32 and bfloat16: slimnets' Predictor against Keras's `keras.applications.ResNet50`.

One process, same images, same batch and size for every side; each side is warmed up (3 runs after its first
call), then the sides are timed alternately, `--runs` times each; medians and ratios are reported. Two settings:

- dense: resnet_v1_50 at output_stride 16 (the issue's bar: bfloat16 >= 1.8x the float32 images/second, with the
  largest output difference under 5% of the float32 output range). Keras's ResNet50 has no output stride: it runs
  `include_top=False` at its nominal stride 32, about a third of the work of stride 16 at this size.
- features: the same at output stride 32 (slimnets `global_pool=False`), the same task on both sides.
- classify: logits of 1000 classes at 224x224 (Keras `include_top=True`): the same task on both sides.

Keras's bfloat16 side uses its `mixed_bfloat16` policy (float32 variables, bfloat16 computation).
Weights are random on every side (`weights=None` for Keras), with batch norm statistics and biases drawn like a
trained network's (`inference.randomize_batch_norm`): fresh zero offsets would be removed by grappler and time a
network no training leaves.

    python benchmarks/precision.py [--runs 15] [--settings dense,features,classify] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import keras  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position

from slimnets.deploy import inference  # pylint: disable=wrong-import-position
from slimnets.deploy import serving  # pylint: disable=wrong-import-position
from slimnets import models  # pylint: disable=wrong-import-position

SETTINGS = {
    'dense': {'size': 321, 'batch': 1, 'backbone': {'output_stride': 16, 'global_pool': False}, 'num_classes': None,
              'keras': {'include_top': False}},
    'features': {'size': 321, 'batch': 1, 'backbone': {'global_pool': False}, 'num_classes': None,
                 'keras': {'include_top': False}},
    'classify': {'size': 224, 'batch': 8, 'backbone': {}, 'num_classes': 1000, 'keras': {'include_top': True}},
}


def _keras_side(precision: str, size: int, options: dict):
  keras.mixed_precision.set_global_policy('mixed_bfloat16' if precision == 'bfloat16' else 'float32')
  try:
    model = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3), **options)
  finally:
    keras.mixed_precision.set_global_policy('float32')
  rng = np.random.RandomState(1)
  for variable in model.weights:  # as for slimnets: no all-zero biases or identity batch norm
    if variable.name in ('gamma', 'moving_variance'):
      variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
    elif variable.name in ('beta', 'moving_mean', 'bias'):
      variable.assign(rng.uniform(-0.1, 0.1, variable.shape).astype(np.float32))
  function = tf.function(lambda images: model(images, training=False))
  return lambda images: function(tf.constant(images)).numpy()


def _sides(setting: dict):
  backbone = models.Backbone('resnet_v1_50', setting['num_classes'], **setting['backbone']).build(setting['size'])
  inference.randomize_batch_norm(backbone)
  sides = {}
  for precision in ('float32', 'bfloat16'):
    predictor = inference.Predictor(backbone, precision, unsupported_reason=None)
    sides[f'slimnets_{precision}'] = lambda images, p=predictor: p(images)['output']
  for precision in ('float32', 'bfloat16'):
    sides[f'keras_{precision}'] = _keras_side(precision, setting['size'], setting['keras'])
  return sides


def measure(name: str, runs: int) -> dict:
  setting = SETTINGS[name]
  images = np.random.RandomState(0).uniform(-120, 150, [setting['batch'], setting['size'], setting['size'], 3])
  images = images.astype(np.float32)
  sides = _sides(setting)
  outputs = {side: run(images) for side, run in sides.items()}
  for run in sides.values():
    for _ in range(3):
      run(images)
  times = {side: [] for side in sides}
  for _ in range(runs):
    for side, run in sides.items():
      start = time.perf_counter()
      run(images)
      times[side].append(1000.0 * (time.perf_counter() - start))
  ms = {side: statistics.median(t) for side, t in times.items()}
  return {
      'setting': name, 'size': setting['size'], 'batch': setting['batch'], 'runs': runs,
      'ms_per_batch_median': ms,
      'images_per_second': {side: setting['batch'] * 1000.0 / value for side, value in ms.items()},
      'slimnets_bfloat16_speedup': ms['slimnets_float32'] / ms['slimnets_bfloat16'],
      'keras_bfloat16_speedup': ms['keras_float32'] / ms['keras_bfloat16'],
      'slimnets_vs_keras_float32': ms['keras_float32'] / ms['slimnets_float32'],
      'slimnets_vs_keras_bfloat16': ms['keras_bfloat16'] / ms['slimnets_bfloat16'],
      'slimnets_bfloat16_max_rel_error': serving.max_relative_error(outputs['slimnets_bfloat16'],
                                                                      outputs['slimnets_float32']),
  }


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=15)
  parser.add_argument('--settings', default='dense,features,classify')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  results = [measure(name, args.runs) for name in args.settings.split(',')]
  if args.json:
    print(json.dumps(results, indent=1))
    return
  for r in results:
    ms = r['ms_per_batch_median']
    print(f"{r['setting']}: {r['size']}x{r['size']}, batch {r['batch']}, median ms per batch of {r['runs']} runs")
    for side, value in ms.items():
      print(f'  {side:18s} {value:8.1f} ms  {r["images_per_second"][side]:7.2f} images/s')
    print(f"  bfloat16 speed-up: slimnets {r['slimnets_bfloat16_speedup']:.2f}x, keras {r['keras_bfloat16_speedup']:.2f}x;"
          f" slimnets/keras speed: float32 {r['slimnets_vs_keras_float32']:.2f}x, bfloat16 "
          f"{r['slimnets_vs_keras_bfloat16']:.2f}x; slimnets bfloat16 error {100 * r['slimnets_bfloat16_max_rel_error']:.2f}%"
          ' of the float32 range')


if __name__ == '__main__':
  main()
