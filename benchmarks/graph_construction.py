"""Graph construction time of resnet_v1_152 (training mode, 1000 classes): nets.layers vs tf-slim 1.1.0's layers.

Each measurement runs in a fresh Python process (so neither side pays for the other's graphs), alternating
the two sides; the report gives medians and their ratio. Three configurations (see _slim_baseline.py for why
tf-slim's batch norm needs care on TF >= 2.16): the network as published against tf-slim's layers with
tf-slim's own fused batch norm; the same against tf-slim's layers with our batch norm; and the network
without batch norm, where the baseline is tf-slim's layers alone.
The issue's bar is a ratio <= 0.4.

It also measures, in fresh processes too, a floor for any build that creates the same resource variables
through `tf.compat.v1.get_variable` (as tf-slim does) and the same number of ops: the time to create the
network's variables alone (names, shapes and collections of research/slim's build, from tests/data/reference,
with this project's initializers), which every such build pays, tf-slim's included; plus the time to add as
many further ops as our build has through `Graph.create_op`, the cheapest way to add an op to a graph (no op
wrapper, no Python layer logic). A network library cannot build that way, since ops made through it are not
recorded by `tf.GradientTape`; so no build of this kind gets below the floor.

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


_FLOOR_CHILD = r'''
import json, sys, time
import tensorflow as tf
import tf_slim as slim
sys.path[:0] = [{root!r}]
from nets import layers, nets_factory
GraphKeys = tf.compat.v1.GraphKeys
with open({manifest!r}) as f:
  variables = json.load(f)['builds']['classification']['variables']
initializers = {{'weights': layers.VarianceScaling(2.0), 'biases': layers._filled(0.0), 'beta': layers._filled(0.0),
                'gamma': layers._filled(1.0), 'moving_mean': layers._filled(0.0),
                'moving_variance': layers._filled(1.0)}}
with tf.Graph().as_default() as graph:
  start = time.perf_counter()
  for name, shape, trainable in variables:
    tf.compat.v1.get_variable(name, shape, initializer=initializers[name.rsplit('/', 1)[-1]], trainable=trainable,
                              collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.MODEL_VARIABLES])
  variables_seconds = time.perf_counter() - start
  variable_ops = len(graph.get_operations())
spec = nets_factory.get_spec({network!r})
with tf.Graph().as_default() as graph:
  images = tf.compat.v1.placeholder(tf.float32, [None, spec.default_image_size, spec.default_image_size, 3])
  with slim.arg_scope(spec.arg_scope()):
    spec.fn(images, 1000, is_training=True)
  other_ops = len(graph.get_operations()) - variable_ops
with tf.Graph().as_default() as graph:
  net = tf.compat.v1.placeholder(tf.float32, [None, 8, 8, 16])
  attrs = {{'T': tf.compat.v1.AttrValue(type=tf.float32.as_datatype_enum)}}
  start = time.perf_counter()
  for _ in range(other_ops):
    net = graph.create_op('Relu', [net], [tf.float32], name='Relu', attrs=attrs).outputs[0]
  ops_seconds = time.perf_counter() - start
print(json.dumps({{'variables_seconds': variables_seconds, 'variable_ops': variable_ops, 'other_ops': other_ops,
                  'other_ops_seconds': ops_seconds}}))
'''


def _last_line_of_fresh_process(code: str) -> str:
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONWARNINGS='ignore')
  out = subprocess.run([sys.executable, '-c', code], check=True, capture_output=True, text=True, env=env)
  return out.stdout.strip().splitlines()[-1]


def floor_seconds(network: str) -> dict:
  """One fresh process: the variables alone, and the other ops at Graph.create_op's cost (see the docstring)."""
  manifest = os.path.join(ROOT, 'tests', 'data', 'reference', f'{network}.json')
  return json.loads(_last_line_of_fresh_process(_FLOOR_CHILD.format(root=ROOT, network=network, manifest=manifest)))


def build_seconds(network: str, use_slim: bool, batch_norm: bool, slim_batch_norm: bool) -> float:
  return float(_last_line_of_fresh_process(_CHILD.format(
      root=ROOT, network=network, use_slim=use_slim, batch_norm=batch_norm, slim_batch_norm=slim_batch_norm)))


CONFIGURATIONS = {
    'slim_batch_norm': 'with batch norm (baseline: tf-slim layers, its fused batch_norm)',
    'our_batch_norm': 'with batch norm (baseline: tf-slim layers + our batch_norm)',
    'no_batch_norm': 'without batch norm (baseline: tf-slim layers only)',
}


def compare(network: str, runs: int, configuration: str) -> dict:
  batch_norm = configuration != 'no_batch_norm'
  slim_batch_norm = configuration == 'slim_batch_norm'
  ours, theirs, floors = [], [], []
  for _ in range(runs):
    ours.append(build_seconds(network, False, batch_norm, slim_batch_norm))
    theirs.append(build_seconds(network, True, batch_norm, slim_batch_norm))
    if configuration == 'slim_batch_norm':
      floors.append(floor_seconds(network))
  result = {'configuration': configuration, 'slimnets_seconds_median': statistics.median(ours),
            'baseline_seconds_median': statistics.median(theirs),
            'ratio': statistics.median(ours) / statistics.median(theirs),
            'slimnets_seconds': ours, 'baseline_seconds': theirs}
  if floors:
    variables = statistics.median(f['variables_seconds'] for f in floors)
    floor = statistics.median(f['variables_seconds'] + f['other_ops_seconds'] for f in floors)
    result['floor'] = {'variables_seconds_median': variables, 'floor_seconds_median': floor,
                       'variables_ratio': variables / result['baseline_seconds_median'],
                       'floor_ratio': floor / result['baseline_seconds_median'],
                       'variable_ops': floors[0]['variable_ops'], 'other_ops': floors[0]['other_ops'],
                       'runs': floors}
  return result


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
    if 'floor' in r:
      f = r['floor']
      print(f"  floor: the {f['variable_ops']} ops of the variables alone {f['variables_seconds_median']:.2f} s "
            f"(ratio {f['variables_ratio']:.2f}); with the other {f['other_ops']} ops at Graph.create_op's cost "
            f"{f['floor_seconds_median']:.2f} s (ratio {f['floor_ratio']:.2f})")


if __name__ == '__main__':
  main()
