"""Graph construction time of resnet_v1_152 (training mode, 1000 classes): nets.layers vs tf-slim 1.1.0's layers.

Each measurement runs in a fresh Python process (so neither side pays for the other's graphs), alternating
the two sides; the report gives medians and their ratio. Three configurations (see _slim_baseline.py for why
tf-slim's batch norm needs care on TF >= 2.16): the network as published against tf-slim's layers with
tf-slim's own fused batch norm; the same against tf-slim's layers with our batch norm; and the network
without batch norm, where the baseline is tf-slim's layers alone.
The issue's bar is a ratio <= 0.4.

    python benchmarks/graph_construction.py [--runs 5] [--network resnet_v1_152] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_CHILD = r'''
import contextlib, sys, time
import tensorflow as tf
import tf_slim as slim
sys.path[:0] = [{root!r}, {root!r} + '/benchmarks']
from nets import nets_factory
import _slim_baseline
spec = nets_factory.get_spec({network!r})
with tf.Graph().as_default():
  images = tf.compat.v1.placeholder(tf.float32, [None, spec.default_image_size, spec.default_image_size, 3])
  swap = _slim_baseline.slim_layers({slim_batch_norm!r}) if {use_slim!r} else contextlib.nullcontext()
  start = time.perf_counter()
  with swap, slim.arg_scope(spec.arg_scope(use_batch_norm={batch_norm!r})):
    spec.fn(images, 1000, is_training=True)
  print(time.perf_counter() - start)
'''


def build_seconds(network: str, use_slim: bool, batch_norm: bool, slim_batch_norm: bool) -> float:
  code = _CHILD.format(root=ROOT, network=network, use_slim=use_slim, batch_norm=batch_norm,
                       slim_batch_norm=slim_batch_norm)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONWARNINGS='ignore')
  out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True, env=env)
  return float(out.stdout.strip().splitlines()[-1])


CONFIGURATIONS = {
    'slim_batch_norm': 'with batch norm (baseline: tf-slim layers, its fused batch_norm)',
    'our_batch_norm': 'with batch norm (baseline: tf-slim layers + our batch_norm)',
    'no_batch_norm': 'without batch norm (baseline: tf-slim layers only)',
}


def compare(network: str, runs: int, configuration: str) -> dict:
  batch_norm = configuration != 'no_batch_norm'
  slim_batch_norm = configuration == 'slim_batch_norm'
  ours, theirs = [], []
  for _ in range(runs):
    ours.append(build_seconds(network, False, batch_norm, slim_batch_norm))
    theirs.append(build_seconds(network, True, batch_norm, slim_batch_norm))
  return {'configuration': configuration, 'slimnets_seconds_median': statistics.median(ours),
          'baseline_seconds_median': statistics.median(theirs),
          'ratio': statistics.median(ours) / statistics.median(theirs),
          'slimnets_seconds': ours, 'baseline_seconds': theirs}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=5)
  parser.add_argument('--network', default='resnet_v1_152')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  results = [compare(args.network, args.runs, configuration) for configuration in CONFIGURATIONS]
  if args.json:
    print(json.dumps({'network': args.network, 'runs': args.runs, 'results': results}, indent=1))
    return
  for r in results:
    label = CONFIGURATIONS[r['configuration']]
    print(f"{args.network} {label}: slimnets {r['slimnets_seconds_median']:.2f} s, baseline "
          f"{r['baseline_seconds_median']:.2f} s, ratio {r['ratio']:.2f} (median of {args.runs} fresh processes)")


if __name__ == '__main__':
  main()
