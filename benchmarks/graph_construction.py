"""Graph construction time of resnet_v1_152 (training mode, 1000 classes): nets.layers vs tf-slim 1.1.0's layers.

Each measurement runs in a fresh Python process (so neither side pays for the other's graphs or warm caches),
alternating the two sides; the report gives the medians and their ratio. The issue's bar: ratio <= 0.4.

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
import sys, time
import tensorflow as tf
import tf_slim as slim
sys.path.insert(0, {root!r}); sys.path.insert(0, {root!r} + '/benchmarks')
from nets import nets_factory
import _slim_baseline
tf.compat.v1.disable_eager_execution()
spec = nets_factory.get_spec({network!r})
use_slim = {use_slim!r}
with tf.Graph().as_default():
  images = tf.compat.v1.placeholder(tf.float32, [None, spec.default_image_size, spec.default_image_size, 3])
  import contextlib
  swap = _slim_baseline.slim_layers() if use_slim else contextlib.nullcontext()
  start = time.perf_counter()
  with swap:
    with slim.arg_scope(spec.arg_scope(batch_norm_updates_collections=_slim_baseline.BASELINE_UPDATES)):
      spec.fn(images, 1000, is_training=True)
  print(time.perf_counter() - start)
'''


def build_seconds(network: str, use_slim: bool) -> float:
  code = _CHILD.format(root=ROOT, network=network, use_slim=use_slim)
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONWARNINGS='ignore')
  out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True, env=env)
  return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=5)
  parser.add_argument('--network', default='resnet_v1_152')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  ours, theirs = [], []
  for _ in range(args.runs):
    ours.append(build_seconds(args.network, use_slim=False))
    theirs.append(build_seconds(args.network, use_slim=True))
  result = {
      'network': args.network,
      'runs': args.runs,
      'slimnets_seconds_median': statistics.median(ours),
      'tf_slim_seconds_median': statistics.median(theirs),
      'ratio': statistics.median(ours) / statistics.median(theirs),
      'slimnets_seconds': ours,
      'tf_slim_seconds': theirs,
  }
  if args.json:
    print(json.dumps(result, indent=1))
  else:
    print(f"{args.network} graph construction, median of {args.runs} fresh processes: "
          f"slimnets {result['slimnets_seconds_median']:.2f} s, tf-slim 1.1.0 layers "
          f"{result['tf_slim_seconds_median']:.2f} s, ratio {result['ratio']:.2f} (target <= 0.40)")


if __name__ == '__main__':
  main()
