"""fp32 inference time of resnet_v1_50 at output_stride 16 on 321x321 (batch 1): nets.layers vs tf-slim's layers.

Both graphs are built in the same process with the same random weights, in inference mode, and timed
alternately: a warm-up of 3 runs, then `--runs` timed runs of each, reported as medians and their ratio
(the issue's bar: <= 1.05). The baseline keeps our batch norm (see _slim_baseline.py); with inference-mode
batch norm both sides run the same FusedBatchNorm kernel.

    python benchmarks/inference.py [--runs 20] [--size 321] [--json]
"""

import argparse
import contextlib
import json
import os
import statistics
import sys
import time

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__))), os.path.dirname(__file__)]

import numpy as np  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position
import tf_slim as slim  # pylint: disable=wrong-import-position

import _slim_baseline  # pylint: disable=wrong-import-position
from nets import resnet_v1  # pylint: disable=wrong-import-position


def _session(use_slim: bool, size: int, output_stride: int):
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(0)
    images = tf.compat.v1.placeholder(tf.float32, [1, size, size, 3])
    swap = _slim_baseline.slim_layers() if use_slim else contextlib.nullcontext()
    with swap, slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, _ = resnet_v1.resnet_v1_50(images, is_training=False, global_pool=False, output_stride=output_stride)
    init = tf.compat.v1.global_variables_initializer()
  sess = tf.compat.v1.Session(graph=graph)
  sess.run(init)
  return sess, images, net


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=20)
  parser.add_argument('--size', type=int, default=321)
  parser.add_argument('--output-stride', type=int, default=16)
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  batch = np.random.RandomState(0).uniform(-1, 1, [1, args.size, args.size, 3]).astype(np.float32)
  sides = {name: _session(name == 'tf_slim', args.size, args.output_stride) for name in ('slimnets', 'tf_slim')}
  times = {name: [] for name in sides}
  for name, (sess, images, net) in sides.items():
    for _ in range(3):
      sess.run(net, {images: batch})
  for _ in range(args.runs):
    for name, (sess, images, net) in sides.items():
      start = time.perf_counter()
      sess.run(net, {images: batch})
      times[name].append(1000 * (time.perf_counter() - start))
  medians = {name: statistics.median(t) for name, t in times.items()}
  result = {'network': 'resnet_v1_50', 'input_size': args.size, 'output_stride': args.output_stride,
            'runs': args.runs, 'slimnets_ms_median': medians['slimnets'], 'tf_slim_ms_median': medians['tf_slim'],
            'ratio': medians['slimnets'] / medians['tf_slim']}
  if args.json:
    print(json.dumps(result, indent=1))
  else:
    print(f"resnet_v1_50 fp32, output_stride {args.output_stride}, {args.size}x{args.size}, batch 1, median of "
          f"{args.runs}: slimnets {result['slimnets_ms_median']:.1f} ms, tf-slim layers "
          f"{result['tf_slim_ms_median']:.1f} ms, ratio {result['ratio']:.2f}")


if __name__ == '__main__':
  main()
