"""Training throughput: the training command's loop against the bare GradientTape step, its input pipeline alone,
and the GradientTape step of `slimnets.models.Backbone` / `Segmenter` and the `fit` step (`train_on_batch`) of
`slimnets.keras.Backbone` / `Segmenter` against Keras's own ResNet50 and keras-hub's DeepLabV3.

- `loop`: DeepLab v3+ on mobilenet_v2 (output stride 16, ASPP 6/12/18, decoder at 4) trained by
  `slimnets.segmentation.training.train` on a folder of synthetic images made into DeepLab TFRecords, against the
  bare step (`GradientTape`, DeepLab's loss and weight decay, the same momentum optimizer) on batches held in
  memory, both in this process; and the input pipeline (`datasets.dataset`, decoding, DeepLab's augmentation)
  alone, in images/s: the loop is data-bound when that rate is below the step's.
- `classification`: resnet_v1_50 with 1000 classes at 224x224, batch 8: `Backbone`'s GradientTape step
  (`keras.optimizers.SGD` with momentum) against `keras.applications.ResNet50(weights=None).train_on_batch`, in
  float32 and in bfloat16 (the Backbone on bfloat16 images; Keras under the `mixed_bfloat16` policy), each side in a
  fresh process (Keras's policy is process-wide). The third side, `slimnets.keras.Backbone('resnet_v1_50', 1000)`
  compiled the same way with `train_on_batch`, gives `keras_fit_over_tape`: what Keras's `fit` machinery costs
  over the bare GradientTape step on the same network (goal: within 1.05).

- `segmentation`: DeepLab v3+ on resnet_v1_50 at output stride 32 (ASPP 6/12/18 and the decoder at 4 with plain,
  not separable, convolutions), 320x320, batch 4, 21 classes: `Segmenter`'s GradientTape step against keras-hub's
  `DeepLabV3ImageSegmenter` on its ResNet-50 (`ResNetBackbone`, P5 into ASPP at 6/12/18, P2 as the low-level
  feature) with `fit`-style `train_on_batch`, float32 and bfloat16 as above, each side in a fresh process. The
  decoders differ (DeepLab's: two 3x3 convolutions of 256; keras-hub's: one 1x1), so the parameter counts are
  reported beside the times; `slimnets.keras.Segmenter` with `DeepLabLoss` and `train_on_batch` is the third
  side. Needs keras-hub (`pip install keras-hub`).

Medians over `--steps` steps after `--warmup` ones; with `--repeats N`, each side runs in N fresh processes taken
in turn, and the median of their medians is reported.

    python benchmarks/training.py [--parts loop,classification,segmentation] [--steps 10] [--warmup 3]
        [--repeats 1] [--json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT]

import numpy as np  # pylint: disable=wrong-import-position

import _timing  # pylint: disable=wrong-import-position,import-error


def _timed(step, steps: int, warmup: int) -> float:
  """Median seconds of `step()` (which must block until done) over `steps` calls after `warmup`."""
  return _timing.median_seconds(step, steps, warmup)


def _write_folder(root: str, count: int, size: int) -> None:
  from PIL import Image  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(0)
  for sub in ('images', 'masks'):
    os.makedirs(os.path.join(root, sub))
  for i in range(count):
    Image.fromarray(rng.randint(0, 256, (size, size, 3)).astype(np.uint8)).save(f'{root}/images/{i:04d}.jpg')
    Image.fromarray(rng.randint(0, 21, (size, size)).astype(np.uint8), mode='L').save(f'{root}/masks/{i:04d}.png')


def loop(steps: int, warmup: int, crop: int = 321, batch: int = 4) -> dict:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  from slimnets.segmentation import datasets  # pylint: disable=import-outside-toplevel
  from slimnets.segmentation import losses  # pylint: disable=import-outside-toplevel
  from slimnets.segmentation import training  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 21}, atrous_rates=(6, 12, 18), output_stride=16,
                                 decoder_output_stride=(4,), model_variant='mobilenet_v2')
  with tempfile.TemporaryDirectory() as root:
    _write_folder(os.path.join(root, 'folder'), 32, 400)
    data = os.path.join(root, 'data')
    datasets.build_dataset(f'{root}/folder/images', f'{root}/folder/masks', data, 'train', num_classes=21)
    pipeline = datasets.dataset(data, 'train', batch, (crop, crop), is_training=True, min_scale_factor=0.5,
                                max_scale_factor=2.0, scale_factor_step_size=0.25)
    batches = iter(pipeline)
    next(batches)
    input_seconds = _timed(lambda: next(batches)['image'].numpy(), steps, warmup)
    run = training.TrainingOptions(train_logdir=os.path.join(root, 'run'), dataset_dir=data, dataset=None,
                                   train_crop_size=(crop, crop), train_batch_size=batch,
                                   training_number_of_steps=warmup + steps + 1, save_interval_secs=1e9)
    result = training.train(options, run)
    loop_seconds = batch / result.images_per_second  # after its first (tracing) step
    segmenter = models.Segmenter(options._replace(crop_size=(crop, crop)), weight_decay=run.weight_decay).build()
    trainable = [v for v in segmenter.variables_by_name.values() if v.trainable]
    optimizer = tf.compat.v1.train.MomentumOptimizer(0.0001, 0.9)
    held = next(iter(pipeline))

    @tf.function
    def bare_step(images, labels):
      with tf.GradientTape() as tape:
        _, outputs = segmenter(images, training=True)
        total = losses.softmax_cross_entropy(outputs['semantic'], labels, 21) + segmenter.regularization_loss()
      optimizer.apply_gradients(zip(tape.gradient(total, trainable), trainable))
      return total

    bare_seconds = _timed(lambda: bare_step(held['image'], held['label']).numpy(), steps, warmup)
  return {'case': f'deeplab v3+ mobilenet_v2 os16, {crop}x{crop}, batch {batch}',
          'loop_ms_per_step': round(1000 * loop_seconds, 1), 'bare_ms_per_step': round(1000 * bare_seconds, 1),
          'loop_over_bare': round(loop_seconds / bare_seconds, 3),
          'input_images_per_second': round(batch / input_seconds, 1),
          'step_images_per_second': round(batch / loop_seconds, 1),
          'data_bound': batch / input_seconds < batch / loop_seconds}


# The end of each fresh-process side: `step` timed, `report(median seconds)` printed as JSON.
_TIMED_STEPS = r'''
for _ in range(warmup):
  step()
times = []
for _ in range(steps):
  start = time.perf_counter(); step(); times.append(time.perf_counter() - start)
print(json.dumps(report(statistics.median(times))))
'''

_CLASSIFICATION = r'''
import json, os, statistics, sys, time
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
sys.path.insert(0, {root!r})
import numpy as np, keras, tensorflow as tf
side, precision, steps, warmup = {side!r}, {precision!r}, {steps}, {warmup}
images = np.random.RandomState(0).uniform(-1, 1, [8, 224, 224, 3]).astype(np.float32)
labels = np.random.RandomState(1).randint(0, 1000, 8)
if side == 'keras':
  if precision == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  model = keras.applications.ResNet50(weights=None)
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False,
                loss=keras.losses.SparseCategoricalCrossentropy())
  step = lambda: model.train_on_batch(images, labels)
elif side == 'slimnets_keras':
  from slimnets import keras as slimnets_keras
  if precision == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  model = slimnets_keras.Backbone('resnet_v1_50', 1000)
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  step = lambda: model.train_on_batch(images, labels)
else:
  from slimnets import models
  backbone = models.Backbone('resnet_v1_50', 1000).build()
  trainable = [v for v in backbone.variables_by_name.values() if v.trainable]
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
  dtype = tf.bfloat16 if precision == 'bfloat16' else tf.float32
  @tf.function
  def train(x, y):
    with tf.GradientTape() as tape:
      logits, _ = backbone(tf.cast(x, dtype), training=True)
      loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.cast(logits, tf.float32)))
      loss += backbone.regularization_loss()
    optimizer.apply_gradients(zip(tape.gradient(loss, trainable), trainable))
    return loss
  step = lambda: train(images, labels).numpy()
report = lambda median: median
''' + _TIMED_STEPS


_SEGMENTATION = r'''
import json, os, statistics, sys, time
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
sys.path.insert(0, {root!r})
import numpy as np, keras, tensorflow as tf
side, precision, steps, warmup = {side!r}, {precision!r}, {steps}, {warmup}
images = np.random.RandomState(0).uniform(-1, 1, [4, 320, 320, 3]).astype(np.float32)
labels = np.random.RandomState(1).randint(0, 21, [4, 320, 320])
if side == 'keras':
  import keras_hub
  if precision == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  encoder = keras_hub.models.ResNetBackbone(
      input_conv_filters=[64], input_conv_kernel_sizes=[7], stackwise_num_filters=[64, 128, 256, 512],
      stackwise_num_blocks=[3, 4, 6, 3], stackwise_num_strides=[1, 2, 2, 2], block_type='bottleneck_block')
  backbone = keras_hub.models.DeepLabV3Backbone(encoder, spatial_pyramid_pooling_key='P5', upsampling_size=8,
                                                dilation_rates=[6, 12, 18], low_level_feature_key='P2')
  model = keras_hub.models.DeepLabV3ImageSegmenter(backbone, num_classes=21)
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False, metrics=[],
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  parameters = model.count_params()
  step = lambda: model.train_on_batch(images, labels[..., None])
else:
  from nets import deeplab
  from slimnets import models, segmentation
  options = deeplab.ModelOptions({{'semantic': 21}}, crop_size=(320, 320), atrous_rates=(6, 12, 18),
                                 output_stride=32, decoder_output_stride=(4,), model_variant='resnet_v1_50',
                                 aspp_with_separable_conv=False, decoder_use_separable_conv=False)
if side == 'slimnets_keras':
  from slimnets import keras as slimnets_keras
  if precision == 'bfloat16':
    keras.mixed_precision.set_global_policy('mixed_bfloat16')
  model = slimnets_keras.Segmenter(options)
  model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=False,
                loss=slimnets_keras.DeepLabLoss(21))
  parameters = model.count_params()
  step = lambda: model.train_on_batch(images, labels)
elif side == 'slimnets':
  segmenter = models.Segmenter(options).build()
  trainable = [v for v in segmenter.variables_by_name.values() if v.trainable]
  parameters = int(sum(np.prod(v.shape) for v in segmenter.variables_by_name.values()))
  optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
  dtype = tf.bfloat16 if precision == 'bfloat16' else tf.float32
  @tf.function
  def train(x, y):
    with tf.GradientTape() as tape:
      _, outputs = segmenter(tf.cast(x, dtype), training=True)
      logits = tf.cast(outputs['semantic'], tf.float32)
      loss = segmentation.softmax_cross_entropy(logits, y, 21) + segmenter.regularization_loss()
    optimizer.apply_gradients(zip(tape.gradient(loss, trainable), trainable))
    return loss
  step = lambda: train(images, labels).numpy()
report = lambda median: [median, parameters]
''' + _TIMED_STEPS


def _fresh_process(template: str, **fields) -> object:
  code = template.format(root=ROOT, **fields)
  done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=False)
  if done.returncode:
    raise RuntimeError(f'{fields}: {done.stderr[-3000:]}')
  return json.loads(done.stdout.strip().splitlines()[-1])


SIDES = ('slimnets', 'slimnets_keras', 'keras')  # GradientTape step, slimnets.keras fit step, Keras's model


def _sides(template: str, precision: str, steps: int, warmup: int, repeats: int) -> dict:
  """{side: [median seconds, ...extras]}: each side in `repeats` fresh processes, in turn; the median of the
  processes' medians."""
  runs = {side: [] for side in SIDES}
  for _ in range(repeats):
    for side in SIDES:
      measured = _fresh_process(template, side=side, precision=precision, steps=steps, warmup=warmup)
      runs[side].append(measured if isinstance(measured, list) else [measured])
  return {side: [float(np.median([run[0] for run in measured]))] + measured[0][1:]
          for side, measured in runs.items()}


def _times(measured: dict, baseline: str) -> dict:
  tape, fit, other = (measured[side][0] for side in SIDES)
  return {'slimnets_ms_per_step': round(1000 * tape, 1), 'slimnets_keras_fit_ms_per_step': round(1000 * fit, 1),
          f'{baseline}_ms_per_step': round(1000 * other, 1), 'keras_fit_over_tape': round(fit / tape, 3),
          'ratio': round(tape / other, 3), 'keras_fit_ratio': round(fit / other, 3)}


def classification(steps: int, warmup: int, repeats: int) -> list:
  return [{'case': f'resnet_v1_50, 1000 classes, 224x224, batch 8, {precision}',
           **_times(_sides(_CLASSIFICATION, precision, steps, warmup, repeats), 'keras_resnet50')}
          for precision in ('float32', 'bfloat16')]


def segmentation(steps: int, warmup: int, repeats: int) -> list:
  rows = []
  for precision in ('float32', 'bfloat16'):
    measured = _sides(_SEGMENTATION, precision, steps, warmup, repeats)
    rows.append({'case': f'deeplab v3+ resnet-50 os32, 320x320, batch 4, {precision}',
                 **_times(measured, 'keras_hub'),
                 'slimnets_parameters': measured['slimnets'][1], 'keras_hub_parameters': measured['keras'][1]})
  return rows


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--parts', default='loop,classification,segmentation')
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--warmup', type=int, default=3)
  parser.add_argument('--repeats', type=int, default=1, help='fresh processes per side, alternating')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  results = {}
  parts = args.parts.split(',')
  if 'loop' in parts:
    results['loop'] = loop(args.steps, args.warmup)
  if 'classification' in parts:
    results['classification'] = classification(args.steps, args.warmup, args.repeats)
  if 'segmentation' in parts:
    results['segmentation'] = segmentation(args.steps, args.warmup, args.repeats)
  print(json.dumps(results, indent=None if args.json else 1))


if __name__ == '__main__':
  main()
