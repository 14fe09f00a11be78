"""Depthwise 3x3 convolutions on CPUs: which formulation TensorFlow runs fastest, at MobileNet v2's shapes (224x224,
batch 1, float32), against the matmul rate of the same machine.

Formulations of one depthwise 3x3 convolution (stride 1, 'SAME', depth multiplier 1):
- `depthwise_native`: `tf.nn.depthwise_conv2d` (DepthwiseConv2dNative; oneDNN's kernel when TensorFlow's oneDNN
  optimizations are on, the default on x86 Linux): what `nets.layers.separable_conv2d` runs;
- `grouped_conv2d`: `tf.nn.conv2d` with a `[3, 3, 1, C]` filter over C groups (Conv2D's grouped form);
- `shifted_sums`: nine shifted slices of the padded input times the taps, summed (elementwise, fusable);
- `depthwise_xla`: the native op compiled by XLA (`jit_compile=True`).
Each case is also given in GFLOP/s (2 x 9 x H x W x C multiply-adds) beside a 1024x1024 float32 matmul's rate.

    python benchmarks/depthwise.py [--runs 30] [--json]
"""

import argparse
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

import numpy as np  # pylint: disable=wrong-import-position

import _timing  # pylint: disable=wrong-import-position,import-error

SHAPES = [(112, 32), (112, 96), (56, 144), (28, 192), (14, 384), (14, 576), (7, 960)]  # (size, channels)


def _median_seconds(function, runs: int) -> float:
  return _timing.median_seconds(lambda: function().numpy(), runs, warmup=3)


def formulations(tf):
  def native(x, w):
    return tf.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], 'SAME')

  def grouped(x, w):
    return tf.nn.conv2d(x, tf.reshape(w, [3, 3, 1, -1]), 1, 'SAME')

  def shifted(x, w):
    padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    height, width = x.shape[1], x.shape[2]
    return tf.add_n([padded[:, i:i + height, j:j + width, :] * w[i, j, :, 0] for i in range(3) for j in range(3)])

  return {'depthwise_native': tf.function(native), 'grouped_conv2d': tf.function(grouped),
          'shifted_sums': tf.function(shifted), 'depthwise_xla': tf.function(native, jit_compile=True)}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--runs', type=int, default=30)
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  a = tf.constant(np.random.RandomState(0).normal(size=[1024, 1024]).astype(np.float32))
  matmul = tf.function(lambda: tf.matmul(a, a))
  matmul_rate = 2 * 1024 ** 3 / _median_seconds(matmul, args.runs) / 1e9
  rows = []
  for size, channels in SHAPES:
    rng = np.random.RandomState(size + channels)
    x = tf.constant(rng.normal(size=[1, size, size, channels]).astype(np.float32))
    w = tf.constant(rng.normal(size=[3, 3, channels, 1]).astype(np.float32))
    reference = None
    row = {'case': f'{size}x{size}x{channels}'}
    for name, function in formulations(tf).items():
      output = function(x, w).numpy()
      reference = output if reference is None else reference
      if not np.allclose(output, reference, rtol=1e-4, atol=1e-4):
        raise AssertionError(f'{name} differs from depthwise_native at {row["case"]}')
      seconds = _median_seconds(lambda: function(x, w), args.runs)  # pylint: disable=cell-var-from-loop
      row[f'{name}_us'] = round(1e6 * seconds, 1)
      row[f'{name}_gflops'] = round(2 * 9 * size * size * channels / seconds / 1e9, 2)
    rows.append(row)
  print(json.dumps({'matmul_1024_gflops': round(matmul_rate, 1), 'cases': rows}, indent=None if args.json else 1))


if __name__ == '__main__':
  main()
