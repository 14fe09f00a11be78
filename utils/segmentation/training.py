"""Training a DeepLab model on a dataset in DeepLab's format: research/deeplab's train.py in TF2 code.

    options = deeplab.ModelOptions({'semantic': 21}, atrous_rates=(6, 12, 18), output_stride=16,
                                   decoder_output_stride=(4,), model_variant='xception_65')
    result = train(options, TrainingOptions(train_logdir='runs/voc', dataset_dir='data/voc',
                                            tf_initial_checkpoint='xception_65/model.ckpt'))

The model is `slimnets.models.Segmenter` (DeepLab's variable names), trained with DeepLab's loss, momentum and
'poly' (or 'step') learning rate, on `datasets.dataset`'s pipeline under a `tf.distribute` strategy (one device,
several with `num_replicas`, or several workers with `TF_CONFIG`: MultiWorkerMirroredStrategy, each worker
reading its share of the batch, the first worker the chief). The run's folder holds
`tf.train.CheckpointManager` checkpoints `model.ckpt-<step>` (model, optimizer slots and step;
`weights.checkpoints.restore` reads the model's variables by DeepLab's names), `model_options.json`, `training.json`
and TensorBoard event files.

A run started again with the same folder resumes at its last checkpoint: same variables, optimizer slots, step
and learning rate, and the data stream continues where it stopped (the pipeline is a function of the seed and the
example's position). SIGTERM (a preempted machine) or Ctrl-C ends the step under way, saves a checkpoint and
returns; on several workers, a signal to any of them stops every worker after the same step, all saving (the
chief into the run's folder), so the job restarted with the same command resumes. A non-finite loss stops the run
without saving, keeping the last good checkpoint.
"""

import dataclasses
import json
import os
import signal
import threading
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from nets import checks
from nets import deeplab
from slimnets import models
from slimnets.segmentation import datasets
from slimnets.segmentation import losses
from slimnets.segmentation import runs
from slimnets.weights import checkpoints

# DeepLab's train.py: the scopes left out of an initial checkpoint without `initialize_last_layer`.
LAST_LAYERS = ('logits', 'image_pooling', 'aspp', 'concat_projection', 'decoder', 'meta_architecture')
LEARNING_POLICIES = losses.LEARNING_POLICIES
OPTIMIZERS = ('momentum', 'adam')
# `TrainingResult.stopped_by` of a worker stopped because another worker of the job received a signal.
STOPPED_BY_ANOTHER_WORKER = "another worker's signal"


@dataclasses.dataclass
class TrainingOptions:
  """research/deeplab train.py's flags (other than the model's), with its defaults.

  Attributes:
    train_logdir: the run's folder (checkpoints, options, event files); a folder with checkpoints resumes.
    dataset_dir: the folder of the dataset's shards.
    dataset: a DeepLab dataset name (pascal_voc_seg, cityscapes, ade20k), or None for one's own (its classes
      from `num_classes` or the folder's `slimnets_dataset.json`).
    train_split: the split to train on.
    num_classes, ignore_label: the dataset's, when not the named dataset's.
    train_crop_size: (height, width) of the training crops.
    train_batch_size: examples per step, over all replicas.
    training_number_of_steps: the step to stop at.
    base_learning_rate, learning_policy ('poly' or 'step'), learning_power, end_learning_rate,
      learning_rate_decay_step, learning_rate_decay_factor, slow_start_step, slow_start_learning_rate: the
      learning rate at each step (DeepLab's `get_model_learning_rate`).
    optimizer: 'momentum' (DeepLab's default: the learning rate above and `momentum`) or 'adam' (a constant
      `adam_learning_rate` and `adam_epsilon`, as DeepLab's train.py).
    momentum: of the momentum optimizer.
    weight_decay: L2 weight of the kernels.
    fine_tune_batch_norm: train batch norm (batch statistics); off for small batches per replica.
    synchronized_batch_norm: batch statistics over the global batch across replicas.
    upsample_logits: compute the loss at the labels' size (else at the logits').
    top_k_percent_pixels, hard_example_mining_step: hard example mining (the fraction reaches its value
      linearly over the steps).
    tf_initial_checkpoint: a checkpoint to start from (ImageNet backbone or DeepLab model), unless the run's
      folder already has checkpoints.
    initialize_last_layer: restore the last layers from it too; False for another class count.
    last_layers_contain_logits_only: the last layers are only the logits (else also ASPP, image pooling, decoder).
    min_resize_value, max_resize_value, resize_factor, min_scale_factor, max_scale_factor,
      scale_factor_step_size: the preprocessing of `preprocessing.preprocess_image_and_label`.
    num_replicas: devices to train on (one process), 1 for one.
    save_interval_secs, save_interval_steps: checkpoint every so many seconds or steps (and at the end).
    max_to_keep: checkpoints kept.
    save_summaries_steps: TensorBoard scalars every so many steps; `save_summaries_images` adds the images,
      labels and predictions of a batch then.
    seed: the seed of the data order, the augmentation, the dropout masks and the initial weights.
    deterministic: TensorFlow's deterministic kernels (`tf.config.experimental.enable_op_determinism`, for the
      whole process): the same seed then gives the same variables, bit for bit, whether or not the run was
      stopped and resumed on the way. Without it, multi-threaded CPU and GPU kernels sum in varying order.
  """
  train_logdir: str
  dataset_dir: str
  dataset: Optional[str] = 'pascal_voc_seg'
  train_split: str = 'train'
  num_classes: Optional[int] = None
  ignore_label: Optional[int] = None
  train_crop_size: Sequence[int] = (513, 513)
  train_batch_size: int = 8
  training_number_of_steps: int = 30000
  base_learning_rate: float = 0.0001
  learning_policy: str = 'poly'
  learning_power: float = 0.9
  end_learning_rate: float = 0.0
  learning_rate_decay_step: int = 2000
  learning_rate_decay_factor: float = 0.1
  slow_start_step: int = 0
  slow_start_learning_rate: float = 0.0001
  optimizer: str = 'momentum'
  momentum: float = 0.9
  adam_learning_rate: float = 0.001
  adam_epsilon: float = 1e-08
  weight_decay: float = 0.00004
  fine_tune_batch_norm: bool = True
  synchronized_batch_norm: bool = False
  upsample_logits: bool = True
  top_k_percent_pixels: float = 1.0
  hard_example_mining_step: int = 0
  tf_initial_checkpoint: Optional[str] = None
  initialize_last_layer: bool = True
  last_layers_contain_logits_only: bool = False
  min_resize_value: Optional[int] = None
  max_resize_value: Optional[int] = None
  resize_factor: Optional[int] = None
  min_scale_factor: float = 0.5
  max_scale_factor: float = 2.0
  scale_factor_step_size: float = 0.25
  num_replicas: int = 1
  save_interval_secs: float = 1200.0
  save_interval_steps: Optional[int] = None
  max_to_keep: int = 5
  save_summaries_steps: int = 10
  save_summaries_images: bool = False
  seed: int = 0
  deterministic: bool = False

  def __post_init__(self):
    object.__setattr__(self, 'train_crop_size', checks.int_pair(self.train_crop_size, 'train_crop_size'))
    for name in ('train_batch_size', 'training_number_of_steps', 'num_replicas', 'max_to_keep',
                 'save_summaries_steps', 'learning_rate_decay_step'):
      checks.check_int(name, checks.as_int(getattr(self, name)))
    checks.check_int('save_interval_steps', checks.as_int(self.save_interval_steps), allow_none=True)
    for name in ('hard_example_mining_step', 'slow_start_step', 'seed'):
      checks.check_int(name, checks.as_int(getattr(self, name)), minimum=0)
    if self.optimizer not in OPTIMIZERS:
      raise ValueError(f'optimizer must be one of {", ".join(OPTIMIZERS)}, got {self.optimizer!r}')
    if self.learning_policy not in LEARNING_POLICIES:
      raise ValueError(f'learning_policy must be one of {", ".join(LEARNING_POLICIES)}, got {self.learning_policy!r}')
    if not 0 < self.top_k_percent_pixels <= 1:
      raise ValueError(f'top_k_percent_pixels must be in (0, 1], got {self.top_k_percent_pixels!r}')
    if not self.base_learning_rate > 0:
      raise ValueError(f'base_learning_rate must be > 0, got {self.base_learning_rate!r}')
    if not 0 <= self.momentum < 1:
      raise ValueError(f'momentum must be in [0, 1), got {self.momentum!r}')
    if self.weight_decay < 0:
      raise ValueError(f'weight_decay must be >= 0, got {self.weight_decay!r}')
    if self.train_batch_size % self.num_replicas:
      raise ValueError(f'train_batch_size {self.train_batch_size} must be a multiple of num_replicas '
                       f'{self.num_replicas} (each replica takes an equal part)')


@dataclasses.dataclass
class TrainingResult:
  """What a call of `train` did.

  Attributes:
    step: the step the model is at (saved in `checkpoint`).
    started_at: the step the call started from (0, or a resumed run's).
    checkpoint: the last checkpoint written.
    stopped_by: 'SIGTERM' or 'SIGINT' when a signal stopped the run before `training_number_of_steps`,
      `STOPPED_BY_ANOTHER_WORKER` when a signal to another worker of the job did, else None.
    losses: {step: loss} of the steps this call ran.
    restore_report: the report of the initial checkpoint's restore (None when resumed or without one).
    images_per_second: training throughput of this call (after its first step).
  """
  step: int
  started_at: int
  checkpoint: Optional[str]
  stopped_by: Optional[str]
  losses: Dict[int, float]
  restore_report: Optional[checkpoints.RestoreReport]
  images_per_second: Optional[float]


class NonFiniteLossError(RuntimeError):
  """The loss became NaN or infinite; the run stopped without saving (the last good checkpoint is kept)."""


def learning_rate(step, options: TrainingOptions):
  """DeepLab's learning rate at `step` (a tensor) under `options` (`losses.learning_rate`)."""
  return losses.learning_rate(step, **{name: getattr(options, name) for name in losses.LEARNING_RATE_ARGUMENTS})


def top_k_fraction(step, options: TrainingOptions):
  """The fraction of pixels the loss counts at `step`: 1 at step 0 to `top_k_percent_pixels` at
  `hard_example_mining_step` (DeepLab's ramp), then held."""
  if options.top_k_percent_pixels == 1.0:
    return 1.0
  if not options.hard_example_mining_step:
    return options.top_k_percent_pixels
  ratio = tf.minimum(tf.cast(step, tf.float32) / options.hard_example_mining_step, 1.0)
  return (1.0 - ratio) + options.top_k_percent_pixels * ratio


def _strategy(options: TrainingOptions) -> tf.distribute.Strategy:
  if 'TF_CONFIG' in os.environ and json.loads(os.environ['TF_CONFIG']).get('cluster'):
    if options.num_replicas != 1:
      raise ValueError(f'num_replicas {options.num_replicas} with a TF_CONFIG cluster: each worker trains on all '
                       'its GPUs, or its CPU (MultiWorkerMirroredStrategy); leave num_replicas at 1')
    return tf.distribute.MultiWorkerMirroredStrategy()
  if options.num_replicas == 1:
    return tf.distribute.get_strategy()
  devices = tf.config.list_logical_devices('GPU') or tf.config.list_logical_devices('CPU')
  if len(devices) < options.num_replicas:
    raise ValueError(f'num_replicas {options.num_replicas}: this process has {len(devices)} devices of its kind '
                     f'({", ".join(d.name for d in devices)}); on a CPU, split it into logical devices first '
                     '(tf.config.set_logical_device_configuration; `slimnets train` does it)')
  return tf.distribute.MirroredStrategy([d.name for d in devices[:options.num_replicas]])


class _Signals:
  """SIGTERM and SIGINT, while training: the first one asks the loop to save and stop after the step under way
  (a second SIGINT interrupts at once). Only in the main thread, where Python delivers signals."""

  def __init__(self):
    self.received: Optional[str] = None
    self._previous = {}

  def _handle(self, number, frame):
    del frame
    if self.received and number == signal.SIGINT:
      raise KeyboardInterrupt
    self.received = signal.Signals(number).name

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for number in (signal.SIGTERM, signal.SIGINT):
        self._previous[number] = signal.signal(number, self._handle)
    return self

  def __exit__(self, *exc):
    for number, handler in self._previous.items():
      signal.signal(number, handler)


def _initial_restore(segmenter: models.Segmenter, options: TrainingOptions) -> checkpoints.RestoreReport:
  """Restores `tf_initial_checkpoint` as DeepLab's train.py does: missing variables (the heads of an ImageNet
  checkpoint) stay initialized; without `initialize_last_layer` the last layers are left out."""
  exclude = ['global_step']
  if not options.initialize_last_layer:  # scope prefixes, as tf-slim's get_variables_to_restore matches them
    exclude += [f'{scope}*' for scope in (['logits'] if options.last_layers_contain_logits_only else LAST_LAYERS)]
  return segmenter.restore(options.tf_initial_checkpoint, exclude=exclude, allow_missing=True)


def _check_resumable(logdir: str, model_options: deeplab.ModelOptions) -> None:
  written = runs.read_model_options(logdir)
  changed = runs.differences(written, model_options)
  if changed:
    raise ValueError(f'train_logdir {logdir!r} holds a run of other model options ({changed}): give the run\'s '
                     'options to resume it, or another train_logdir')


def train(model_options: deeplab.ModelOptions, options: TrainingOptions, *, progress: bool = False,
          log: Callable[[str], None] = lambda line: None) -> TrainingResult:
  """Trains (or resumes training) until `options.training_number_of_steps`; see the module's text.

  Args:
    model_options: the model (its `crop_size` is set to `train_crop_size` for training).
    options: the training's options.
    progress: show a progress bar (steps/s, images/s, loss, time left).
    log: receives a line for each event worth telling (restore report, resumption, checkpoints, stop).

  Returns:
    A `TrainingResult`.

  Raises:
    ValueError: for bad options, a missing dataset split, a run folder of other model options, or an initial
      checkpoint that does not fit the model (`checkpoints.RestoreError`), before any step.
    NonFiniteLossError: when the loss becomes NaN or infinite (nothing is saved after the last good checkpoint).
  """
  if not isinstance(model_options, deeplab.ModelOptions) or not isinstance(options, TrainingOptions):
    raise ValueError('train: needs a deeplab.ModelOptions and a TrainingOptions, got '
                     f'{type(model_options).__name__} and {type(options).__name__}')
  descriptor = datasets.describe_dataset(options.dataset, options.dataset_dir, options.num_classes,
                                         options.ignore_label)
  model_options = model_options.checked()
  output, classes = sorted(model_options.outputs_to_num_classes.items())[0]
  if classes != descriptor.num_classes:
    raise ValueError(f'the model has {classes} classes ({output}) and the dataset {descriptor.num_classes}')
  datasets.split_files(options.dataset_dir, options.train_split)
  logdir = options.train_logdir
  resumed_from = runs.latest_checkpoint(logdir) if os.path.isdir(logdir) else None
  if resumed_from:
    _check_resumable(logdir, model_options)
  if options.deterministic:
    tf.config.experimental.enable_op_determinism()
  strategy = _strategy(options)
  crop = options.train_crop_size
  with strategy.scope():
    tf.random.set_seed(options.seed)
    segmenter = models.Segmenter(model_options._replace(crop_size=crop), weight_decay=options.weight_decay,
                                 fine_tune_batch_norm=options.fine_tune_batch_norm,
                                 synchronized_batch_norm=options.synchronized_batch_norm).build()
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='global_step',
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    if options.optimizer == 'momentum':
      optimizer = tf.compat.v1.train.MomentumOptimizer(lambda: learning_rate(step, options), options.momentum)
    else:
      optimizer = tf.compat.v1.train.AdamOptimizer(options.adam_learning_rate, epsilon=options.adam_epsilon)
    trainable = [v for v in segmenter.variables_by_name.values() if v.trainable]
  report = None
  chief, worker = _is_chief(strategy), _worker_name(strategy)
  checkpoint = tf.train.Checkpoint(model=segmenter, optimizer=optimizer, step=step)
  manager = tf.train.CheckpointManager(checkpoint, logdir if chief else os.path.join(logdir, f'.{worker}'),
                                       max_to_keep=options.max_to_keep, checkpoint_name=runs.CHECKPOINT_NAME)
  # The optimizer's variables (slots, Adam's beta powers) are made now, with their initial values, by tracing a
  # step of zero gradients that never runs: so that a restore assigns them at once (made later, inside the traced
  # step, they would start from zero), and so that tracing the training step creates no variable, which would make
  # TensorFlow trace it twice.
  def zero_step():
    strategy.run(lambda: optimizer.apply_gradients([(tf.zeros_like(v), v) for v in trainable]))

  tf.function(zero_step).get_concrete_function()
  if resumed_from:
    checkpoint.restore(resumed_from).assert_consumed()
    log(f'resuming {logdir} at step {int(step.numpy())} ({resumed_from})')
  elif options.tf_initial_checkpoint:
    report = _initial_restore(segmenter, options)
    log(f'initialized from {options.tf_initial_checkpoint}: {report.summary()}')
  os.makedirs(logdir, exist_ok=True)
  if chief:
    runs.write_model_options(logdir, model_options)
    runs.write_training(logdir, {**dataclasses.asdict(options), 'num_classes': descriptor.num_classes,
                                 'ignore_label': descriptor.ignore_label})
  started_at = int(step.numpy())
  if started_at >= options.training_number_of_steps:
    log(f'{logdir} is at step {started_at}, training_number_of_steps is {options.training_number_of_steps}: '
        'nothing to train')
    return TrainingResult(started_at, started_at, resumed_from, None, {}, report, None)

  def input_fn(context: tf.distribute.InputContext):
    return training_batches(options, model_options.model_variant, descriptor.ignore_label,
                            context.get_per_replica_batch_size(options.train_batch_size), options.seed,
                            skip=started_at * options.train_batch_size // context.num_input_pipelines,
                            input_context=context)

  batches = iter(strategy.distribute_datasets_from_function(input_fn))
  replicas = strategy.num_replicas_in_sync

  def replica_step(images, labels, requests):
    with tf.GradientTape() as tape:
      replica = tf.distribute.get_replica_context().replica_id_in_sync_group
      dropout_seed = tf.stack([tf.constant(options.seed, tf.int64), step * replicas + tf.cast(replica, tf.int64)])
      _, outputs = segmenter(images, training=True, dropout_seed=dropout_seed)
      loss = losses.softmax_cross_entropy(outputs[output], labels, descriptor.num_classes, descriptor.ignore_label,
                                          upsample_logits=options.upsample_logits,
                                          top_k_percent_pixels=top_k_fraction(step, options))
      total = loss + segmenter.regularization_loss()
      per_replica = total / replicas  # the replicas' gradients are summed
    gradients = tape.gradient(per_replica, trainable)
    optimizer.apply_gradients(zip(gradients, trainable))
    return loss, total, requests

  @tf.function
  def train_step(batch, requests):
    """One step; `requests` ([stop, save] of this worker) are reduced over all workers, so that every worker
    stops or saves at the same step."""
    loss, total, requests = strategy.run(replica_step, args=(batch[datasets.IMAGE], batch[datasets.LABEL], requests))
    step.assign_add(1)
    mean, add = tf.distribute.ReduceOp.MEAN, tf.distribute.ReduceOp.SUM
    return (strategy.reduce(mean, loss, axis=None), strategy.reduce(mean, total, axis=None),
            strategy.reduce(add, requests, axis=None))

  @tf.function
  def predict(images):
    return segmenter.predict(images)

  writer = tf.summary.create_file_writer(logdir) if chief else tf.summary.create_noop_writer()
  step_losses, saved, stopped_by = {}, resumed_from, None
  last_save, first_step_done, timed_steps = time.monotonic(), None, 0
  bar = tqdm(total=options.training_number_of_steps, initial=started_at, desc='slimnets: training', unit=' steps',
             disable=not progress, dynamic_ncols=True)
  try:
    with _Signals() as signals, writer.as_default():
      while int(step.numpy()) < options.training_number_of_steps:
        batch = next(batches)
        current = int(step.numpy()) + 1
        due = bool(options.save_interval_steps and current % options.save_interval_steps == 0) or (
            time.monotonic() - last_save >= options.save_interval_secs)
        loss, total, requests = train_step(batch, tf.constant([float(bool(signals.received)), float(due)]))
        loss, (stop, due) = float(loss), requests.numpy() > 0
        if not np.isfinite(loss) or not np.isfinite(float(total)):
          raise NonFiniteLossError(
              f'the loss is {loss} at step {current}: training stopped without saving; the last good checkpoint '
              f'is {saved or "none (no checkpoint was written yet)"}. Lower base_learning_rate, or check the '
              'labels and the initial checkpoint')
        step_losses[current] = loss
        if first_step_done is None:
          first_step_done = time.monotonic()
        else:
          timed_steps += 1
        bar.update(1)
        if timed_steps:
          rate = timed_steps / (time.monotonic() - first_step_done)
          bar.set_postfix_str(f'loss {loss:.4f}, {rate * options.train_batch_size:.1f} images/s')
        if current % options.save_summaries_steps == 0 or current == options.training_number_of_steps:
          tf.summary.scalar('loss', loss, step=current)
          tf.summary.scalar('total_loss', total, step=current)
          rate = learning_rate(current, options) if options.optimizer == 'momentum' else options.adam_learning_rate
          tf.summary.scalar('learning_rate', rate, step=current)
          if options.save_summaries_images:
            _image_summaries(strategy, batch, predict, descriptor.num_classes, current)
        if stop:
          stopped_by = signals.received or STOPPED_BY_ANOTHER_WORKER
        if due or stopped_by or current == options.training_number_of_steps:
          saved = _save(manager, current, chief, logdir)
          last_save = time.monotonic()
          log(f'saved {saved}')
        if stopped_by:
          log(f'{stopped_by}: stopped at step {current} of {options.training_number_of_steps}; the checkpoint is '
              'saved, and the same command resumes the run')
          break
  finally:
    bar.close()
    writer.flush()
  seconds = time.monotonic() - first_step_done if first_step_done else 0.0
  throughput = timed_steps * options.train_batch_size / seconds if timed_steps and seconds > 0 else None
  return TrainingResult(int(step.numpy()), started_at, saved, stopped_by, step_losses, report, throughput)


def training_batches(options: TrainingOptions, model_variant: str, ignore_label: int, batch_size: int, seed: int,
                     skip: int = 0, input_context: Optional[tf.distribute.InputContext] = None) -> tf.data.Dataset:
  """The training split as `options` preprocess it (crop, resizing, random scaling, flips), endless."""
  return datasets.dataset(
      options.dataset_dir, options.train_split, batch_size, options.train_crop_size, is_training=True, seed=seed,
      skip=skip, input_context=input_context, ignore_label=ignore_label, model_variant=model_variant,
      min_resize_value=options.min_resize_value, max_resize_value=options.max_resize_value,
      resize_factor=options.resize_factor, min_scale_factor=options.min_scale_factor,
      max_scale_factor=options.max_scale_factor, scale_factor_step_size=options.scale_factor_step_size)


def update_batch_norm_statistics(checkpoint: str, options: TrainingOptions, batches: int) -> Tuple[int, str]:
  """Sets the batch norm statistics of a run's checkpoint to their mean over `batches` training batches
  (`slimnets.models.update_batch_norm_statistics`, on batches preprocessed as training's, drawn with the next
  seed) and writes them beside it as `<checkpoint>-precise_bn`; returns (batches used, that checkpoint)."""
  model_options = runs.read_model_options(os.path.dirname(checkpoint))
  segmenter = models.Segmenter(model_options._replace(crop_size=None))
  segmenter.restore(checkpoint, allow_missing=False)
  descriptor = datasets.describe_dataset(options.dataset, options.dataset_dir, options.num_classes,
                                         options.ignore_label)
  stream = training_batches(options, model_options.model_variant, descriptor.ignore_label,
                            options.train_batch_size, options.seed + 1)
  count = models.update_batch_norm_statistics(segmenter,
                                              (batch[datasets.IMAGE] for batch in stream.take(batches)))
  return count, segmenter.save(checkpoint + '-precise_bn', overwrite=True)


def _save(manager: tf.train.CheckpointManager, step: int, chief: bool, logdir: str) -> str:
  """Saves at `step` and returns the run's checkpoint. Every worker saves (reading the replicas' batch norm
  averages is a collective); a worker other than the chief into a folder of its own, removed after the save."""
  path = manager.save(checkpoint_number=step)
  if chief:
    return path
  tf.io.gfile.rmtree(manager.directory)
  return os.path.join(logdir, f'{runs.CHECKPOINT_NAME}-{step}')


def _worker_name(strategy: tf.distribute.Strategy) -> str:
  resolver = getattr(strategy, 'cluster_resolver', None)
  return f'{resolver.task_type}-{resolver.task_id}' if resolver is not None and resolver.task_type else 'worker-0'


def _is_chief(strategy: tf.distribute.Strategy) -> bool:
  resolver = getattr(strategy, 'cluster_resolver', None)
  return resolver is None or not resolver.task_type or resolver.task_type == 'chief' or (
      resolver.task_type == 'worker' and resolver.task_id == 0)


def _image_summaries(strategy, batch, predict, num_classes: int, step: int) -> None:
  """The first replica's images, labels and predictions, labels shown as grays spread over the classes."""
  images = strategy.experimental_local_results(batch[datasets.IMAGE])[0]
  labels = strategy.experimental_local_results(batch[datasets.LABEL])[0]
  predictions = predict(images)
  scale = 255.0 / max(num_classes - 1, 1)
  tf.summary.image('image', tf.cast(tf.clip_by_value(images, 0, 255), tf.uint8), step=step, max_outputs=3)
  tf.summary.image('label', tf.cast(tf.clip_by_value(tf.cast(labels, tf.float32) * scale, 0, 255), tf.uint8),
                   step=step, max_outputs=3)
  tf.summary.image('prediction', tf.cast(tf.cast(predictions[..., tf.newaxis], tf.float32) * scale, tf.uint8),
                   step=step, max_outputs=3)

