"""A training run's folder (DeepLab's `train_logdir`): checkpoints, the model's options, the training's options.

`slimnets train` writes `model_options.json` (the `deeplab.ModelOptions` of the run) and `training.json` (its
training options and the dataset's classes and ignore label) beside the checkpoints `model.ckpt-<step>`, so that
`evaluate`, `visualize`, `export` and a resumed `train` read the architecture from the folder instead of having it
retyped.
"""

import json
import os
from typing import Optional, Tuple

import tensorflow as tf

from nets import deeplab
from slimnets import staging

MODEL_OPTIONS_FILE = 'model_options.json'
TRAINING_FILE = 'training.json'
CHECKPOINT_NAME = 'model.ckpt'


def _write_json(path: str, value: dict) -> None:
  with staging.staged(path) as temporary:
    with open(temporary, 'w', encoding='utf-8') as handle:
      json.dump(value, handle, indent=1, sort_keys=True)


def write_model_options(logdir: str, model_options: deeplab.ModelOptions) -> str:
  """Writes `model_options` as `<logdir>/model_options.json` (all or nothing); returns the path."""
  path = os.path.join(logdir, MODEL_OPTIONS_FILE)
  _write_json(path, options_as_dict(model_options))
  return path


def options_as_dict(model_options: deeplab.ModelOptions) -> dict:
  """The options as JSON-ready values (tuples as lists)."""
  return model_options.as_json()


def read_model_options(logdir: str) -> deeplab.ModelOptions:
  """The `deeplab.ModelOptions` a run wrote in `logdir`, checked (`ModelOptions.checked()`).

  Raises:
    ValueError: when `logdir` holds no `model_options.json` (not a folder `slimnets train` wrote).
  """
  path = os.path.join(logdir, MODEL_OPTIONS_FILE)
  if not os.path.exists(path):
    raise ValueError(f'{logdir!r} holds no {MODEL_OPTIONS_FILE}: not the --train-logdir of a slimnets train run '
                     '(give the model options yourself, or that folder)')
  with open(path, encoding='utf-8') as handle:
    return deeplab.ModelOptions(**json.load(handle)).checked()  # JSON's lists as the checked tuples


def write_training(logdir: str, training: dict) -> str:
  path = os.path.join(logdir, TRAINING_FILE)
  _write_json(path, training)
  return path


def read_training(logdir: str) -> Optional[dict]:
  """The training options a run wrote in `logdir` (with its dataset's 'num_classes' and 'ignore_label'), or None."""
  path = os.path.join(logdir, TRAINING_FILE)
  if not os.path.exists(path):
    return None
  with open(path, encoding='utf-8') as handle:
    return json.load(handle)


def differences(written: deeplab.ModelOptions, given: deeplab.ModelOptions) -> str:
  """'field: A in the run, B given; ...' for the fields that differ ('' when none)."""
  old, new = options_as_dict(written), options_as_dict(given)
  return '; '.join(f'{name}: {old[name]!r} in the run, {new[name]!r} given' for name in sorted(old)
                   if old[name] != new.get(name))


def latest_checkpoint(path: str) -> Optional[str]:
  """The newest checkpoint of a run folder, or `path` itself when it is a checkpoint prefix; None when none."""
  if os.path.isdir(path):
    return tf.train.latest_checkpoint(path)
  return path if tf.io.gfile.exists(path + '.index') else None


def checkpoint_step(checkpoint: str) -> Optional[int]:
  """The step in a checkpoint's name ('model.ckpt-1200' -> 1200), or None."""
  tail = checkpoint.rsplit('-', 1)
  return int(tail[1]) if len(tail) == 2 and tail[1].isdigit() else None


def at_output_stride(model_options: deeplab.ModelOptions, output_stride: Optional[int]
                     ) -> Tuple[deeplab.ModelOptions, Optional[str]]:
  """The options at another output stride, the ASPP rates following it (6, 12, 18 at 16 are 12, 24, 36 at 8, the
  same receptive field in pixels), and a line saying so (None when nothing changes).

  Raises:
    ValueError: for an output stride the backbone does not reach, or rates that do not scale to integers.
  """
  if output_stride is None or output_stride == model_options.output_stride:
    return model_options, None
  trained = model_options.output_stride
  rates = model_options.atrous_rates
  if rates:
    scaled = tuple(rate * trained / output_stride for rate in rates)
    if not all(rate == int(rate) and rate >= 1 for rate in scaled):
      raise ValueError(f'output_stride {output_stride}: the atrous rates {list(rates)} of output stride {trained} '
                       f'do not scale to integers ({list(scaled)})')
    rates = tuple(int(rate) for rate in scaled)
  changed = model_options._replace(output_stride=output_stride, atrous_rates=rates)
  line = f'output stride {output_stride} (trained at {trained})'
  if rates:
    line += (f': atrous rates {", ".join(map(str, model_options.atrous_rates))} become {", ".join(map(str, rates))}'
             ' (the same receptive field in pixels)')
  return changed, line
