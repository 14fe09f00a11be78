"""Atrous convolutions on CPUs: the three ways `nets.layers.convolution._convolve` can compute one, per layer and in
a whole DeepLab model.

- `layers`: one 3x3 convolution at the shapes of DeepLab's ASPP (2048 -> 256 channels at 33x33, output stride 16
  of 513x513, and at 10x10) and of a ResNet's block4 (512 -> 512, rate 2 and 4), as space-to-batch around a
  plain convolution (`tf.nn.convolution`, what tf-slim's layers run), one dilated `Conv2D`, and, where the rate
  is at least the map's size, the centre tap alone; medians in one process.
- `deeplab`: DeepLab v3+ on resnet_v1_50 with plain (not separable) ASPP and decoder convolutions, inference at
  513x513 (`Segmenter.predict` in a `tf.function`), with `_convolve`'s choice against every atrous convolution
  through space-to-batch (as research/deeplab on tf-slim computes it), in alternating fresh processes.

    python benchmarks/atrous.py [--parts layers,deeplab] [--runs 9] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

import numpy as np  # pylint: disable=wrong-import-position

import _timing  # pylint: disable=wrong-import-position,import-error

LAYER_CASES = [  # (size, in channels, out channels, rate)
    (33, 2048, 256, 6), (33, 2048, 256, 12), (33, 2048, 256, 18), (10, 2048, 256, 6), (10, 2048, 256, 12),
    (10, 2048, 256, 18), (21, 512, 512, 2), (33, 512, 512, 2), (65, 512, 512, 4)]


def _median_ms(function, runs: int) -> float:
  return round(1000 * _timing.median_seconds(lambda: function().numpy(), runs), 1)


def layers(runs: int) -> list:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  rows = []
  for size, channels, outputs, rate in LAYER_CASES:
    rng = np.random.RandomState(0)
    images = tf.constant(rng.normal(size=[1, size, size, channels]).astype(np.float32))
    kernel = tf.constant(rng.normal(size=[3, 3, channels, outputs]).astype(np.float32))
    ways = {'space_to_batch': lambda: tf.nn.convolution(images, kernel, padding='SAME', dilations=rate),
            'dilated_conv2d': lambda: tf.nn.conv2d(images, kernel, 1, 'SAME', dilations=rate)}
    if rate >= size:
      ways['centre_tap'] = lambda: tf.nn.conv2d(images, kernel[1:2, 1:2], 1, 'SAME')
    row = {'case': f'{size}x{size}, {channels} -> {outputs}, rate {rate}'}
    row.update({f'{way}_ms': _median_ms(tf.function(function), runs) for way, function in ways.items()})
    rows.append(row)
  return rows


_DEEPLAB = r'''
import json, os, statistics, sys, time
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
sys.path.insert(0, {root!r})
import numpy as np, tensorflow as tf
from nets import deeplab
from nets.layers import convolution
from slimnets import models
if {way!r} == 'space_to_batch':  # every atrous convolution as tf-slim's layers compute it
  convolution.DILATED_KERNEL_RATE = 10 ** 9
  convolution._without_padding_taps = lambda inputs, weights, padding, rates: (weights, rates)
options = deeplab.ModelOptions({{'semantic': 21}}, atrous_rates=(6, 12, 18), output_stride=16,
                               decoder_output_stride=(4,), model_variant='resnet_v1_50',
                               aspp_with_separable_conv=False, decoder_use_separable_conv=False)
segmenter = models.Segmenter(options).build(65)
images = tf.constant(np.random.RandomState(0).uniform(0, 255, [1, 513, 513, 3]).astype(np.float32))
predict = tf.function(segmenter.predict)
predict(images); predict(images)
times = []
for _ in range({runs}):
  start = time.perf_counter(); predict(images).numpy(); times.append(time.perf_counter() - start)
print(json.dumps(statistics.median(times)))
'''


def deeplab_inference(runs: int, rounds: int = 2) -> dict:
  seconds = {'chosen': [], 'space_to_batch': []}
  for _ in range(rounds):
    for way in seconds:
      code = _DEEPLAB.format(root=ROOT, way=way, runs=runs)
      done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False)
      if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
      seconds[way].append(json.loads(done.stdout.strip().splitlines()[-1]))
  chosen, baseline = (statistics.median(seconds[way]) for way in ('chosen', 'space_to_batch'))
  return {'case': 'deeplab v3+ resnet_v1_50, plain ASPP 6/12/18 and decoder, output stride 16, 513x513, batch 1',
          'chosen_ms': round(1000 * chosen, 1), 'space_to_batch_ms': round(1000 * baseline, 1),
          'ratio': round(chosen / baseline, 3), 'processes_per_way': rounds}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--parts', default='layers,deeplab')
  parser.add_argument('--runs', type=int, default=9)
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  parts = args.parts.split(',')
  results = {}
  if 'layers' in parts:
    results['layers'] = layers(args.runs)
  if 'deeplab' in parts:
    results['deeplab'] = deeplab_inference(args.runs)
  print(json.dumps(results, indent=None if args.json else 1))


if __name__ == '__main__':
  main()
