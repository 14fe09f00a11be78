"""Backbones under tf.distribute: MirroredStrategy on two logical CPUs sums the replicas' gradients; with
synchronized batch norm two replicas compute what one device does on the whole batch, in one process and across
two worker processes (MultiWorkerMirroredStrategy, TF_CONFIG on 127.0.0.1)."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import finish_processes
from tests.conftest import free_ports

pytestmark = pytest.mark.eager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Two replicas on one machine: the CPU as two logical devices (before TensorFlow initializes it).
_TWO_CPUS = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, {root!r})
    from slimnets import models

    images = np.random.RandomState(0).uniform(-1, 1, [4, 33, 33, 3]).astype(np.float32)
    labels = np.array([0, 1, 2, 1])
''')


def _run(script, tmp_path):
  """Runs `script` in a fresh interpreter (the logical devices must be set before TensorFlow starts); returns
  the JSON of its last output line."""
  path = tmp_path / 'script.py'
  path.write_text(script)
  out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=False,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


_SYNCHRONIZED = _TWO_CPUS + textwrap.dedent('''
    from nets import layers

    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    try:  # replica threads sharing tf-slim's one arg scope stack: refused before any variable or all-reduce
      strategy.run(lambda: layers.batch_norm(tf.ones([2, 3, 3, 4]), is_training=True, updates_collections=None,
                                             synchronized=True))
      refused = None
    except RuntimeError as error:
      refused = str(error)

    def make(synchronized):
      backbone = models.Backbone('resnet_v1_50', 3, depth_multiplier=0.125, synchronized_batch_norm=synchronized)
      backbone.build()
      for i, v in enumerate(backbone.variables_by_name.values()):  # the same start on every side
        v.assign(np.random.RandomState(i).normal(0, 0.1, v.shape).astype(np.float32))
      optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
      optimizer.build(backbone.trainable_variables)
      return backbone, optimizer

    def loss_of(backbone, x, y):  # the loss of the images given, scaled to the global batch of 4
      logits, end_points = backbone(x, training=True)
      return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)) / 4, end_points

    def step_on(backbone, optimizer, x, y):
      with tf.GradientTape() as tape:
        loss, end_points = loss_of(backbone, x, y)
      grads = tape.gradient(loss, backbone.trainable_variables)
      optimizer.apply_gradients(zip(grads, backbone.trainable_variables))
      return end_points['resnet_v1_50/block2']

    sides = {{}}
    for synchronized in (True, False):
      with strategy.scope():
        backbone, optimizer = make(synchronized)
      dataset = strategy.experimental_distribute_dataset(
          tf.data.Dataset.from_tensor_slices((images, labels)).batch(4))
      step = tf.function(lambda x, y: strategy.run(lambda x, y: step_on(backbone, optimizer, x, y), args=(x, y)))
      features = step(*next(iter(dataset)))
      per_replica = strategy.experimental_local_results(features)
      sides[synchronized] = (backbone, np.concatenate([t.numpy() for t in per_replica]))

    # One device, the whole batch of 4: what synchronized replicas must compute.
    whole, whole_optimizer = make(False)
    whole_features = tf.function(lambda x, y: step_on(whole, whole_optimizer, x, y))(images, labels).numpy()

    def difference(backbone, kind):
      names = [n for n, v in whole.variables_by_name.items() if (kind == 'moving') == ('moving' in n)]
      return max(float(np.abs(backbone.variables_by_name[n].read_value().numpy()
                              - whole.variables_by_name[n].numpy()).max()) for n in names)

    initial = make(False)[0]
    print(json.dumps({{
        'replicas': strategy.num_replicas_in_sync,
        'refused': refused,
        'features': {{str(s): float(np.abs(f - whole_features).max()) for s, (_, f) in sides.items()}},
        'weights': {{str(s): difference(b, 'weights') for s, (b, _) in sides.items()}},
        'moving': {{str(s): difference(b, 'moving') for s, (b, _) in sides.items()}},
        'weight_change': max(float(np.abs(whole.variables_by_name[n].numpy()
                                          - initial.variables_by_name[n].numpy()).max())
                             for n in whole.variables_by_name if 'moving' not in n),
    }}))
''')


_PER_REPLICA = _TWO_CPUS + textwrap.dedent('''
    halves = [(images[:2], labels[:2]), (images[2:], labels[2:])]

    def make():
      backbone = models.Backbone('resnet_v1_50', 3, depth_multiplier=0.125)
      backbone.build()
      for i, v in enumerate(backbone.variables_by_name.values()):  # the same start on both sides
        v.assign(np.random.RandomState(i).normal(0, 0.1, v.shape).astype(np.float32))
      optimizer = keras.optimizers.SGD(0.1, momentum=0.9)  # the README's recipe, momentum included
      optimizer.build(backbone.trainable_variables)  # its slots, under the strategy's scope like the variables
      return backbone, optimizer

    def replica_loss(backbone, x, y):  # the loss of one replica's half, scaled to the global batch of 4
      logits, _ = backbone(x, training=True)
      return tf.reduce_sum(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)) / 4

    strategy = tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1'])
    with strategy.scope():
      backbone, optimizer = make()

    @tf.function
    def distributed_step(dataset_inputs):
      def step(x, y):
        with tf.GradientTape() as tape:
          loss = replica_loss(backbone, x, y)
        grads = tape.gradient(loss, backbone.trainable_variables)
        optimizer.apply_gradients(zip(grads, backbone.trainable_variables))
      strategy.run(step, args=dataset_inputs)

    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices((images, labels)).batch(4))
    distributed_step(next(iter(dataset)))

    # One device: the gradient of the summed per-half losses, each half normalized with its own statistics.
    reference, reference_optimizer = make()
    moving = [n for n in reference.variables_by_name if 'moving' in n]
    start = {{n: reference.variables_by_name[n].numpy() for n in moving}}
    per_half_moving = []
    with tf.GradientTape() as tape:
      total = 0.0
      for x, y in halves:
        for n in moving:
          reference.variables_by_name[n].assign(start[n])
        total += replica_loss(reference, x, y)
        per_half_moving.append({{n: reference.variables_by_name[n].numpy() for n in moving}})
    grads = tape.gradient(total, reference.trainable_variables)
    reference_optimizer.apply_gradients(zip(grads, reference.trainable_variables))

    trainable = [n for n, v in backbone.variables_by_name.items() if v.trainable]
    initial = make()[0]
    print(json.dumps({{
        'kinds': sorted({{type(v).__name__ for v in backbone.variables_by_name.values()}}),
        'replicas': strategy.num_replicas_in_sync,
        'max_weight_difference': max(float(np.abs(backbone.variables_by_name[n].numpy()
                                                  - reference.variables_by_name[n].numpy()).max())
                                     for n in trainable),
        'max_weight_change': max(float(np.abs(backbone.variables_by_name[n].numpy()
                                              - initial.variables_by_name[n].numpy()).max()) for n in trainable),
        'max_moving_difference': max(float(np.abs(backbone.variables_by_name[n].read_value().numpy()
                                                  - (per_half_moving[0][n] + per_half_moving[1][n]) / 2).max())
                                     for n in moving),
        'names_equal': list(backbone.variables_by_name) == list(reference.variables_by_name),
        'tf_keras_imported': any(name.split('.')[0] == 'tf_keras' for name in sys.modules),
    }}))
''')


def test_mirrored_strategy_aggregates_gradients_and_averages_moving_statistics(tmp_path):
  result = _run(_PER_REPLICA.format(root=ROOT), tmp_path)
  assert result['replicas'] == 2
  assert result['kinds'] == ['MirroredVariable', 'SyncOnReadVariable']
  assert result['names_equal']
  assert not result['tf_keras_imported']
  assert result['max_weight_change'] > 1e-3  # the step did move the weights ...
  assert result['max_weight_difference'] < 1e-5  # ... exactly as the summed gradient of both replicas
  assert result['max_moving_difference'] < 1e-6  # moving averages: the mean of the replicas' updates


def test_synchronized_replicas_compute_the_whole_batch_step(tmp_path):
  result = _run(_SYNCHRONIZED.format(root=ROOT), tmp_path)
  assert result['replicas'] == 2
  assert result['refused'] == (
      'batch_norm(synchronized=True) across 2 replicas in this process needs each replica thread to have its own '
      'arg scope stack: call nets.layers.use_per_thread_arg_scopes() once before strategy.run '
      '(slimnets.models.Backbone(..., synchronized_batch_norm=True) does)')
  assert result['weight_change'] > 1e-3  # the step moved the weights
  # Synchronized: batch statistics, gradients and moving averages of the whole batch of 4 (measured: 6e-6,
  # 7e-6 against a weight change of 0.63, 3e-8).
  assert result['features']['True'] < 1e-4
  assert result['weights']['True'] < 5e-5
  assert result['moving']['True'] < 1e-6
  # Not synchronized (each replica normalizes its half), the same comparisons fail: the test can tell (measured:
  # 0.61, 1.9, 1.8e-4: batch norm's decay of 0.997 moves the averages little in one step).
  assert result['features']['False'] > 1e-2
  assert result['weights']['False'] > 1e-2
  assert result['moving']['False'] > 1e-5


_KERAS_FIT = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    sys.path.insert(0, {root!r})
    from nets import deeplab
    from nets import layers
    from slimnets import keras as slimnets_keras

    import tf_slim as slim

    @slim.add_arg_scope
    def no_dropout(net, **unused):  # ASPP's dropout would draw other masks on each side
      return net

    layers.dropout = no_dropout
    options = deeplab.ModelOptions({{'semantic': 3}}, atrous_rates=(1, 2, 3), output_stride=16, decoder_filters=16,
                                   model_variant='mobilenet_v2', depth_multiplier=0.25, aspp_convs_filters=16,
                                   decoder_output_stride=(4,))
    images = np.random.RandomState(0).uniform(0, 255, [8, 33, 33, 3]).astype(np.float32)
    labels = (images[..., 0] > 127).astype(np.int32)

    def fitted(strategy):
      with strategy.scope():
        model = slimnets_keras.Segmenter(options, synchronized_batch_norm=True)
        model.build((None, 33, 33, 3))
        for i, weight in enumerate(model.variables_by_name.values()):  # the same start on both sides
          if weight.trainable:
            weight.assign(np.random.RandomState(i).normal(0, 0.1, weight.shape).astype(np.float32))
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss=slimnets_keras.DeepLabLoss(3), jit_compile=False)
      model.fit(images, labels, batch_size=4, epochs=1, shuffle=False, verbose=0)
      return model, {{n: np.array(w.numpy()) for n, w in model.variables_by_name.items()}}

    mirrored, two = fitted(tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']))
    _, one = fitted(tf.distribute.get_strategy())
    moving = [n for n in one if 'moving_' in n]
    print(json.dumps({{'replicas': mirrored.distribute_strategy.num_replicas_in_sync,
                      'distributed': sorted({{type(w.value).__name__ for w in mirrored.variables_by_name.values()}}),
                      'weights': max(float(np.abs(two[n] - one[n]).max()) for n in one if n not in moving),
                      'moving': max(float(np.abs(two[n] - one[n]).max()) for n in moving),
                      'moved': max(float(np.abs(one[n] - two[n] * 0).max()) for n in moving)}}))
''')


def test_keras_segmenter_fit_under_mirrored_strategy_is_the_whole_batch_step(tmp_path):
  """`fit` of `slimnets.keras.Segmenter` on two replicas with synchronized batch norm trains what one device
  trains on the same global batches (2 steps of 4 images, 2 per replica)."""
  result = _run(_KERAS_FIT.format(root=ROOT), tmp_path)
  assert result['replicas'] == 2 and result['distributed'] == ['MirroredVariable']
  assert result['weights'] < 1e-4 and result['moving'] < 1e-5  # float summation order only
  assert result['moved'] > 1e-3  # the moving averages were trained


_WORKER = textwrap.dedent('''
    import hashlib, json, sys
    import numpy as np
    import tensorflow as tf
    import keras
    sys.path.insert(0, {root!r})
    from nets import deeplab
    from slimnets import models, segmentation

    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    task = strategy.cluster_resolver.task_id
    options = deeplab.ModelOptions({{'semantic': 3}}, atrous_rates=(1, 2), output_stride=16,
                                   model_variant='mobilenet_v2', depth_multiplier=0.25)
    with strategy.scope():
      segmenter = models.Segmenter(options, synchronized_batch_norm=True)
      segmenter.build()
      for i, v in enumerate(segmenter.trainable_variables):  # the same start on both workers
        v.assign(np.random.RandomState(i).normal(0, 0.1, v.shape).astype(np.float32))
      optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
      optimizer.build(segmenter.trainable_variables)

    rng = np.random.RandomState(100 + task)  # each worker its own images: 2 of the global batch of 4
    images = rng.uniform(0, 255, [3, 2, 33, 33, 3]).astype(np.float32)
    labels = (images[..., 0] > 127).astype(np.int32)

    @tf.function
    def step(x, y):
      def replica(x, y):
        with tf.GradientTape() as tape:
          logits, _ = segmenter(x, training=True)
          loss = segmentation.softmax_cross_entropy(logits, y, 3) / strategy.num_replicas_in_sync
        grads = tape.gradient(loss, segmenter.trainable_variables)
        optimizer.apply_gradients(zip(grads, segmenter.trainable_variables))
        return loss
      return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(replica, args=(x, y)), axis=None)

    losses = [float(step(tf.constant(images[i]), tf.constant(labels[i]))) for i in range(3)]
    values = {{n: v.read_value().numpy() for n, v in segmenter.variables_by_name.items()}}
    np.savez({out!r}.format(task), **{{n.replace('/', '|'): v for n, v in values.items()}})
    print(json.dumps({{'task': task, 'replicas': strategy.num_replicas_in_sync, 'losses': losses}}))
''')


def test_two_worker_processes_train_a_segmenter_to_identical_variables(tmp_path):
  import numpy as np  # pylint: disable=import-outside-toplevel
  cluster = [f'127.0.0.1:{port}' for port in free_ports(2)]
  script = tmp_path / 'worker.py'
  script.write_text(_WORKER.format(root=ROOT, out=str(tmp_path / 'worker{}.npz')))
  processes = []
  for task in range(2):
    config = json.dumps({'cluster': {'worker': cluster}, 'task': {'type': 'worker', 'index': task}})
    env = dict(os.environ, TF_CONFIG=config, TF_CPP_MIN_LOG_LEVEL='3')
    processes.append(subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
  results = []
  for code, out, err in finish_processes(processes, 300):
    assert code == 0, err[-3000:]
    results.append(json.loads(out.strip().splitlines()[-1]))
  assert sorted(r['task'] for r in results) == [0, 1]
  assert all(r['replicas'] == 2 for r in results)
  assert results[0]['losses'] == pytest.approx(results[1]['losses'], rel=1e-5)  # the same global loss
  first, second = (np.load(tmp_path / f'worker{task}.npz') for task in range(2))
  assert sorted(first.files) == sorted(second.files) and len(first.files) > 100
  assert max(float(np.abs(first[n] - second[n]).max()) for n in first.files) < 1e-6  # identical variables
  moving = [n for n in first.files if 'moving_mean' in n]
  assert max(float(np.abs(first[n]).max()) for n in moving) > 1e-3  # batch norm statistics were trained
