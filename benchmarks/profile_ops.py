"""Where the time goes, per op, in TensorFlow's and OpenVINO's CPU runtimes on the same exported function
(`slimnets.deploy.serving.serving_function`: resnet_v1_50 at output stride 16, 321x321, batch 1, float32, batch
norm folded, weights as constants): what the gap between `Predictor` and OpenVINO is made of.

- TensorFlow: the function's graph run by a `Session` with full tracing and one inter-op thread (grappler's
  fusions applied as for the function), per-op times from the step stats, summed by op type over `--runs` runs after warm-up;
- OpenVINO: the converted model compiled with `PERF_COUNT`, per-node real times summed by node type and kernel.

    python benchmarks/profile_ops.py [--runs 10] [--size 321] [--top 8] [--json]
"""

import argparse
import collections
import json
import os
import re
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import numpy as np  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position

from slimnets import models  # pylint: disable=wrong-import-position
from slimnets.deploy import backends  # pylint: disable=wrong-import-position
from slimnets.deploy import inference  # pylint: disable=wrong-import-position
from slimnets.deploy import serving  # pylint: disable=wrong-import-position


def _summary(totals: list, per_type: collections.Counter, per_node: collections.Counter, runs: int) -> dict:
  """Median summed op time of a run, and mean ms per run by op type and by node, largest first."""
  return {'ms_per_run_summed_ops': round(float(np.median(totals)) / 1000, 1),
          'ms_by_op': {name: round(micros / runs / 1000, 2) for name, micros in per_type.most_common()},
          'ms_by_node': {name: round(micros / runs / 1000, 2) for name, micros in per_node.most_common()}}


def tensorflow_profile(backbone: models.Backbone, images: np.ndarray, runs: int) -> dict:
  concrete = serving.serving_function(backbone).get_concrete_function()
  graph = tf.Graph()
  with graph.as_default():
    tf.import_graph_def(concrete.graph.as_graph_def(), name='')
  feed = concrete.inputs[0].name
  fetches = [tensor.name for tensor in concrete.outputs]
  per_type, per_node = collections.Counter(), collections.Counter()
  options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
  # One op at a time, as OpenVINO's single stream runs them: op times are then not inflated by concurrent
  # branches (e.g. block4/unit_1's shortcut beside its conv1 and conv2) sharing the cores. (Wall time changes by
  # about 2%: 97-98 ms against 98-101 ms with TensorFlow's default inter-op threads.)
  config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    for _ in range(3):
      session.run(fetches, {feed: images})
    totals = []
    for _ in range(runs):
      metadata = tf.compat.v1.RunMetadata()
      session.run(fetches, {feed: images}, options=options, run_metadata=metadata)
      total = 0
      for device in metadata.step_stats.dev_stats:
        if 'CPU' not in device.device or 'stream' in device.device:
          continue
        for node in device.node_stats:
          match = re.match(r'(?:\[[^\]]*\] )?\S+ = ([A-Za-z0-9_]+)', node.timeline_label)
          micros = node.all_end_rel_micros
          per_type[match.group(1) if match else node.node_name] += micros
          per_node[node.node_name] += micros
          total += micros
      totals.append(total)
  return _summary(totals, per_type, per_node, runs)


def openvino_profile(backbone: models.Backbone, images: np.ndarray, runs: int) -> dict:
  ov = backends.import_openvino()
  compiled = ov.Core().compile_model(backends.openvino_model(backbone), 'CPU',
                                     {'PERF_COUNT': 'YES', 'INFERENCE_PRECISION_HINT': 'f32'})
  request = compiled.create_infer_request()
  for _ in range(3):
    request.infer({0: images})
  per_type, per_node = collections.Counter(), collections.Counter()
  totals = []
  for _ in range(runs):
    request.infer({0: images})
    total = 0
    for info in request.profiling_info:
      micros = info.real_time.total_seconds() * 1e6
      per_type[f'{info.node_type} ({info.exec_type})'] += micros
      per_node[info.node_name] += micros
      total += micros
    totals.append(total)
  return _summary(totals, per_type, per_node, runs)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--runs', type=int, default=10)
  parser.add_argument('--size', type=int, default=321)
  parser.add_argument('--top', type=int, default=8)
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False).build()
  inference.randomize_batch_norm(backbone)
  images = np.random.RandomState(0).uniform(-1, 1, [1, args.size, args.size, 3]).astype(np.float32)
  results = {}
  for name, profile in (('tensorflow', tensorflow_profile), ('openvino', openvino_profile)):
    found = profile(backbone, images, args.runs)
    found['ms_by_op'] = dict(list(found['ms_by_op'].items())[:args.top])
    found['ms_by_node'] = dict(list(found['ms_by_node'].items())[:args.top])
    results[name] = found
  print(json.dumps(results, indent=None if args.json else 1))


if __name__ == '__main__':
  main()
