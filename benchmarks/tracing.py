"""Tracing time of a training step (`tf.function`, GradientTape, SGD): a model's network code run as graph code,
as `slimnets.models.NetworkModule._run` runs it, against the same code rewritten by AutoGraph (what every
`tf.function`, Keras's `fit` included, does to the Python it calls unless told not to).

Both sides build the same model afresh (variables made before the trace, so that the step is traced once) and
time `get_concrete_function` of the same step; they alternate within one process and the report gives the
medians and the ratio. Models: a DeepLab v3+ segmenter on MobileNet v2 (depth 0.5, 33x33 crops) and resnet_v1_50
(features, output stride 16, 65x65).

    python benchmarks/tracing.py [--runs 5] [--json]
"""

import argparse
import inspect
import json
import os
import statistics
import sys
import time

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from nets import deeplab  # pylint: disable=wrong-import-position
from slimnets import models  # pylint: disable=wrong-import-position


def _converted(model_class):
  """`model_class` whose `_run` is a plain method again, so that AutoGraph converts the network it calls."""
  plain = inspect.unwrap(models.NetworkModule._run)  # pylint: disable=protected-access
  assert plain is not models.NetworkModule._run, 'NetworkModule._run is no longer wrapped by do_not_convert'
  return type(f'Converted{model_class.__name__}', (model_class,), {'_run': plain})


def _make(kind: str, converted: bool):
  if kind == 'deeplab_mobilenet_v2':
    options = deeplab.ModelOptions({'semantic': 21}, atrous_rates=(6, 12, 18), output_stride=16,
                                   model_variant='mobilenet_v2', depth_multiplier=0.5, decoder_output_stride=(4,))
    model = (_converted(models.Segmenter) if converted else models.Segmenter)(options).build(33)
    return model, [2, 33, 33, 3]
  model = (_converted(models.Backbone) if converted else models.Backbone)(
      'resnet_v1_50', output_stride=16, global_pool=False).build(65)
  return model, [2, 65, 65, 3]


def trace_seconds(kind: str, converted: bool) -> float:
  """Seconds to trace one training step of a fresh model."""
  model, shape = _make(kind, converted)
  optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.01)
  trainable = [v for v in model.variables_by_name.values() if v.trainable]

  @tf.function
  def step(images):
    with tf.GradientTape() as tape:
      net, _ = model(images, training=True)
      loss = tf.reduce_mean(tf.square(net)) + model.regularization_loss()
    optimizer.apply_gradients(zip(tape.gradient(loss, trainable), trainable))
    return loss

  start = time.perf_counter()
  step.get_concrete_function(tf.TensorSpec(shape, tf.float32))
  return time.perf_counter() - start


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--runs', type=int, default=5)
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  report = {}
  for kind in ('deeplab_mobilenet_v2', 'resnet_v1_50_os16'):
    times = {False: [], True: []}
    trace_seconds(kind, False)  # warm-up: imports, first-use costs
    for _ in range(args.runs):
      for converted in (False, True):
        times[converted].append(trace_seconds(kind, converted))
    graph_code, autograph = statistics.median(times[False]), statistics.median(times[True])
    report[kind] = {'graph_code_s': round(graph_code, 3), 'autograph_s': round(autograph, 3),
                    'ratio': round(graph_code / autograph, 3)}
  if args.json:
    print(json.dumps(report, indent=1))
    return
  for kind, row in report.items():
    print(f"{kind}: traced as graph code {row['graph_code_s']:.2f} s, through AutoGraph {row['autograph_s']:.2f} s "
          f"(ratio {row['ratio']:.2f})")


if __name__ == '__main__':
  main()
