"""TF-Slim checkpoints: reading, restoring by variable name with a report, adapting, writing safely.

Restoring matches the model's variables to the checkpoint's by name (the published TF-Slim checkpoints use the
names these networks create) and reports what was restored, left out on purpose, missing from the checkpoint,
or of another shape. A shape mismatch is an error unless the caller allows it, because a silently skipped
`conv1/weights` trains a network from a random first layer.

Adapting rewrites a checkpoint for a network that differs from the one it was trained as:

- input channels C != 3, in the first convolution (the variables whose shape follows the input channels,
  found by building the network twice):
  `repeat` cycles the RGB kernels over the C channels and scales them by 3 / C, so that k stacked copies of an
  RGB image (C = 3k) give exactly the RGB network's output; `sum` (C = 1) adds the RGB kernels, so that a gray
  image gives what the RGB network gives for that image copied to three channels; `zeros` keeps the RGB kernels
  on the first three channels and starts the others at zero, so the RGB part behaves exactly as before. A
  separable first layer (Inception v2) is adapted as a pair (`adapt_separable`), where 'sum' cannot be exact.
- classes: the logits (and auxiliary logits) are left out, to be initialized afresh; or, with `label_offset=1`,
  a 1001-class head (background first) becomes a 1000-class head by dropping the background row.
"""

import collections
import dataclasses
import fnmatch
import os
import re
import shutil
import tempfile
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from nets import checks
from nets import deeplab
from nets import nets_factory
from slimnets import staging

CHANNEL_MODES = ('repeat', 'sum', 'zeros')


def resolve(path: str) -> str:
  """The checkpoint prefix (or V1 file) that `path` names: a prefix, a file of it, or a directory.

  A directory is resolved through its 'checkpoint' state file, or else its single checkpoint (the published
  archives hold one `NAME.ckpt`).

  Raises:
    ValueError: when nothing readable as a checkpoint is found, saying what was looked for.
  """
  path = os.fspath(path)
  if os.path.isdir(path):
    latest = tf.train.latest_checkpoint(path)
    if latest:
      return latest
    found = sorted({_prefix_of(os.path.join(path, name)) for name in os.listdir(path)
                    if name.endswith(('.index', '.ckpt'))})
    if len(found) != 1:
      raise ValueError(f'checkpoint directory {path!r} holds {len(found)} checkpoints '
                       f'({", ".join(map(os.path.basename, found)) or "none"}); pass the one to use')
    return found[0]
  prefix = _prefix_of(path)
  if os.path.isfile(prefix + '.index') or os.path.isfile(prefix):
    return prefix
  raise ValueError(f'checkpoint {path!r} not found: no such file, and no {os.path.basename(prefix)}.index')


def _prefix_of(path: str) -> str:
  if path.endswith('.index'):
    return path[:-len('.index')]
  if '.data-' in os.path.basename(path):
    return path[:path.rindex('.data-')]
  return path


def read(path: str) -> Dict[str, np.ndarray]:
  """All variables of a checkpoint as numpy arrays, by name.

  Raises:
    ValueError: for a missing, truncated or non-checkpoint file.
  """
  reader = _reader(path)
  keys = _keys(reader)
  return {name: _tensor(reader, keys[name], path) for name in sorted(keys)}


_OBJECT_GRAPH = '_CHECKPOINTABLE_OBJECT_GRAPH'
_BACKBONE_VARIABLE = re.compile(r'(?:^|/)_variables/(?P<name>[^/]+)/\.ATTRIBUTES/VARIABLE_VALUE$')


def _unescape(segment: str) -> str:
  """A name as TensorFlow's object-based checkpoints escape it ('/' as '.S', '.' as '..'), unescaped."""
  return re.sub(r'\.(.)', lambda m: {'S': '/', '.': '.'}.get(m.group(1), m.group(0)), segment)


def _keys(reader) -> Dict[str, str]:
  """Variable name -> key in the checkpoint.

  Name-based (TF-Slim, `Saver`, `write`) checkpoints key each variable by its name. Object-based ones
  (`tf.train.Checkpoint(model=backbone).save(...)`) key a `slimnets.models.Backbone`'s variables by the object path
  `model/_variables/<escaped name>/.ATTRIBUTES/VARIABLE_VALUE`: those are read by the variable name too, and
  the rest of such a checkpoint (the object graph, `save_counter`, optimizer slots) keeps its keys.
  """
  keys = {}
  for key in reader.get_variable_to_shape_map():
    if key == _OBJECT_GRAPH:
      continue
    match = _BACKBONE_VARIABLE.search(key)
    keys[_unescape(match.group('name')) if match else key] = key
  return keys


def _tensor(reader, key: str, path: str) -> np.ndarray:
  try:
    return reader.get_tensor(key)
  except (tf.errors.OpError, IndexError, ValueError) as error:
    raise ValueError(f'checkpoint {path!r} is not a readable TensorFlow checkpoint (truncated or another kind of '
                     f'file?): reading {key!r} failed: {str(error).splitlines()[0]}') from None


def _reader(path: str):
  prefix = resolve(path)
  try:
    return tf.train.load_checkpoint(prefix)
  except (tf.errors.OpError, ValueError) as error:
    message = getattr(error, 'message', None) or str(error)
    raise ValueError(f'{prefix!r} is not a readable TensorFlow checkpoint (truncated or another kind of file?): '
                     f'{message.splitlines()[0]}') from None


def shapes(path: str) -> Dict[str, Tuple[int, ...]]:
  """Variable name -> shape of a checkpoint, without reading the values."""
  return _shapes(_reader(path))


def _shapes(reader, keys: Optional[Dict[str, str]] = None) -> Dict[str, Tuple[int, ...]]:
  by_key = reader.get_variable_to_shape_map()
  return {name: tuple(by_key[key]) for name, key in (keys or _keys(reader)).items()}


def _excluded(name: str, exclude: Sequence[str]) -> bool:
  """Whether `name` matches a glob pattern of `exclude` or lies under one of its scopes."""
  return any(fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(name, pattern.rstrip('/') + '/*')
             for pattern in exclude)


@dataclasses.dataclass
class RestoreReport:
  """What `restore` did, by variable name.

  Attributes:
    restored: loaded from the checkpoint.
    skipped: excluded by the caller.
    missing: in the model but not in the checkpoint (left to their initializers).
    mismatched: name -> (model shape, checkpoint shape), not loaded.
    unused: in the checkpoint but not in the model (optimizer slots, `global_step` and the like included).
    head: those of `unused` that form a classification head (`logits`, `AuxLogits`, VGG's `fc8`) of a network
      the model builds without classes: left out on purpose.
    unbuilt: those of `unused` under the model's scopes that the model does not build (accepted with
      `allow_unused`; otherwise an error).
  """
  restored: List[str]
  skipped: List[str]
  missing: List[str]
  mismatched: Dict[str, Tuple[Tuple[int, ...], Tuple[int, ...]]]
  unused: List[str]
  head: List[str] = dataclasses.field(default_factory=list)
  unbuilt: List[str] = dataclasses.field(default_factory=list)

  def summary(self) -> str:
    return (f'{len(self.restored)} restored, {len(self.skipped)} skipped, {len(self.missing)} missing, '
            f'{len(self.mismatched)} shape-mismatched, {len(self.unused)} unused in the checkpoint'
            + (f' ({len(self.head)} of a classification head the model is built without)' if self.head else ''))

  def head_line(self) -> Optional[str]:
    """One line saying which classification head of the checkpoint was left out, or None."""
    if not self.head:
      return None
    return (f'left out the checkpoint\'s classification head ({scopes_text(self.head)}): the model is built '
            'without classes')

  def __str__(self) -> str:
    return self.summary()

  def __repr__(self) -> str:  # the lists are attributes; hundreds of names are no way to show a result
    return f'<RestoreReport: {self.summary()}>'


class RestoreError(ValueError):
  """A refused restore (nothing was restored): `problem` says what is wrong, `option` names the `restore`
  argument that would accept it ('allow_mismatch', 'allow_missing', 'allow_unused'), so that a command line
  can name its own remedies."""

  def __init__(self, problem: str, option: str, remedy: str):
    super().__init__(f'{problem}. {remedy}')
    self.problem = problem
    self.option = option


def _article(word: str) -> str:
  return 'an' if word[:1].lower() in 'aeiou' else 'a'


def _variable_name(variable) -> str:
  return variable.name[:-2] if variable.name.endswith(':0') else variable.name


def scopes_text(names: Sequence[str], limit: int = 8) -> str:
  """Variable names in short, grouped by their first two parts: 'decoder/feature_projection0: 5 variables, ...'."""
  counts = collections.Counter('/'.join(name.split('/')[:2]) for name in names)
  parts = [f'{scope}: {count} variable{"s" if count > 1 else ""}' for scope, count in sorted(counts.items())]
  more = f', and {len(parts) - limit} more scopes' if len(parts) > limit else ''
  return ', '.join(parts[:limit]) + more


def _top(name: str) -> str:
  return name.split('/', 1)[0]


def _is_slot(name: str, names) -> bool:
  """Whether `name` lies under another variable's name: an optimizer slot ('.../weights/Momentum') or a moving
  average ('.../weights/ExponentialMovingAverage') of it."""
  parts = name.split('/')
  return any('/'.join(parts[:i]) in names for i in range(1, len(parts)))


def _unbuilt(unused: Sequence[str], model: Sequence[str], in_checkpoint, exclude: Sequence[str]
             ) -> Tuple[List[str], List[str]]:
  """(checkpoint variables under the model's scopes that the model does not build, checkpoint variables of a
  classification head the model is built without).

  A backbone's scopes are the first parts of its variables' names. A DeepLab model's (one with a DeepLab head
  scope) are all of DeepLab's head scopes, built or not: a v3 model owns 'decoder' too, so a v3+ checkpoint's
  decoder counts; its backbone's scope does not, since DeepLab builds some backbones only in part from ImageNet
  checkpoints (MobileNet v2 up to layer_18). Slots of variables and excluded names do not count.
  """
  tops = {_top(name) for name in model}
  segmenter = any(deeplab.is_head_scope(top) for top in tops)
  heads = [scope for spec in nets_factory.REGISTRY.values() for scope in spec.head_scopes
           if _top(scope) in tops and not any(name.startswith(scope + '/') for name in model)]
  candidates = [name for name in unused if not _is_slot(name, in_checkpoint) and not _excluded(name, exclude)]
  head = [name for name in candidates if any(name.startswith(scope + '/') for scope in heads)]
  owned = [name for name in candidates if name not in head
           and (deeplab.is_head_scope(_top(name)) if segmenter else _top(name) in tops)]
  return owned, head


def _looks_like(in_checkpoint, model) -> str:
  """' It looks like a resnet_v1_50 checkpoint ...' when the checkpoint holds the first convolution of registry
  networks that the model lacks (the stems differ, e.g. ResNet v1 and v1 beta), else ''."""
  names = [spec.name for spec in nets_factory.REGISTRY.values()
           if all(v in in_checkpoint for v in spec.input_variables) and not any(v in model for v in
                                                                                spec.input_variables)]
  if not names:
    return ''
  first = nets_factory.get_spec(names[0]).input_variables[0]
  return (f' (it looks like {_article(names[0])} {" or ".join(names)} checkpoint: it holds {first!r}, the first '
          'convolution of that network, which this model does not have: the stems differ)')


def restore(checkpoint: str, variables: Optional[Sequence] = None, exclude: Sequence[str] = (),
            allow_missing: bool = True, allow_mismatch: bool = False, allow_unused: bool = False) -> RestoreReport:
  """Restores `variables` from `checkpoint` by name.

  In graph mode the matched variables' initializers are set to read the checkpoint
  (`tf.compat.v1.train.init_from_checkpoint`), so they load when the variables are initialized; in eager mode
  they are assigned at once.

  A checkpoint variable under the model's own scopes that the model does not build is an error (unless
  `allow_unused`): it means the model was built with other options than the checkpoint's (a DeepLab v3 model
  given a v3+ checkpoint would drop its decoder). The model's scopes are a backbone's top scope, or DeepLab's
  head scopes for a DeepLab model. The one exception is the classification head of a network the model builds
  without classes (`resnet_v1_50/logits`, `InceptionV3/AuxLogits`, ...), left out and reported in
  `RestoreReport.head`. Optimizer slots, moving averages and variables outside the model's scopes
  (`global_step`) are reported in `unused` only.

  Args:
    checkpoint: a checkpoint prefix, one of its files, or a directory.
    variables: the variables to restore, or {name: variable} to restore them by other names than their own;
      default: the global variables of the default graph.
    exclude: glob patterns or scopes of variable names to leave out, e.g. `['*/logits', 'InceptionV3/AuxLogits']`
      (model variables and checkpoint variables alike).
    allow_missing: accept model variables absent from the checkpoint (reported in `missing`).
    allow_mismatch: accept (and skip) variables whose shapes differ; otherwise that is an error.
    allow_unused: accept checkpoint variables under the model's scopes that the model does not build.

  Returns:
    A `RestoreReport`.

  Raises:
    ValueError: for an unreadable checkpoint, or a checkpoint holding none of the variables (another network?).
    RestoreError: (a ValueError) for shape mismatches without `allow_mismatch`, missing variables without
      `allow_missing`, or unbuilt ones without `allow_unused`; nothing is restored then.
  """
  prefix = resolve(checkpoint)
  reader = _reader(prefix)
  keys = _keys(reader)
  in_checkpoint = _shapes(reader, keys)
  if variables is None:
    variables = tf.compat.v1.global_variables()
  by_name = dict(variables) if isinstance(variables, Mapping) else {_variable_name(v): v for v in variables}
  report = RestoreReport([], [], [], {}, [])
  for name, variable in by_name.items():
    if _excluded(name, exclude):
      report.skipped.append(name)
    elif name not in in_checkpoint:
      report.missing.append(name)
    elif tuple(variable.shape.as_list()) != in_checkpoint[name]:
      report.mismatched[name] = (tuple(variable.shape.as_list()), in_checkpoint[name])
    else:
      report.restored.append(name)
  report.unused = sorted(set(in_checkpoint) - set(by_name))
  if by_name and not report.restored and not report.mismatched and report.missing:
    example = next(iter(sorted(in_checkpoint)), None)
    raise ValueError(f'checkpoint {checkpoint!r} holds none of the {len(by_name)} model variables (it holds '
                     f'{len(in_checkpoint)} others, e.g. {example!r}): is it for another network or scope?')
  report.unbuilt, report.head = _unbuilt(report.unused, by_name, in_checkpoint, exclude)
  refused = ((report.mismatched and not allow_mismatch) or (report.unbuilt and not allow_unused)
             or (report.missing and not allow_missing))
  looks_like = _looks_like(in_checkpoint, by_name) if refused else ''  # only an error message reads it
  if report.mismatched and not allow_mismatch:
    details = '; '.join(f'{name}: model {list(a)}, checkpoint {list(b)}' for name, (a, b) in
                        sorted(report.mismatched.items())[:5])
    raise RestoreError(f'{len(report.mismatched)} variables have other shapes in checkpoint {checkpoint!r}: '
                       f'{details}{looks_like}', 'allow_mismatch',
                       'Adapt the checkpoint (slimnets adapt-checkpoint: input channels, classes), exclude them, '
                       'or pass allow_mismatch=True to leave them initialized afresh')
  if report.unbuilt and not allow_unused:
    raise RestoreError(f'checkpoint {checkpoint!r} holds {len(report.unbuilt)} variables under the model\'s scopes '
                       f'that the model does not build ({scopes_text(report.unbuilt)}){looks_like}: the model is '
                       'built with other options than the checkpoint was trained with (a DeepLab '
                       'decoder_output_stride, atrous rates or image pooling?)', 'allow_unused',
                       'Build the model the checkpoint was trained as, exclude them, or pass allow_unused=True to '
                       'leave them out')
  if report.missing and not allow_missing:
    raise RestoreError(f'{len(report.missing)} model variables are not in checkpoint {checkpoint!r}, e.g. '
                       f'{report.missing[:3]}{looks_like}', 'allow_missing',
                       'Exclude them or pass allow_missing=True to leave them initialized afresh')
  values = {name: _tensor(reader, keys[name], checkpoint) for name in report.restored}  # fails early if cut
  if tf.executing_eagerly():
    for name, value in values.items():
      by_name[name].assign(value)
  elif report.restored:
    tf.compat.v1.train.init_from_checkpoint(prefix, {keys[name]: by_name[name] for name in report.restored})
  return report


def input_variables(network: str) -> Tuple[str, ...]:
  """Names of the variables of `network` whose shapes follow the number of input channels (the first conv)."""
  return nets_factory.get_spec(network).input_variables


def class_variables(network: str) -> Tuple[str, ...]:
  """Names of the variables of `network` whose shapes follow the number of classes (logits, aux logits)."""
  return nets_factory.get_spec(network).class_variables


def adapt_channels(kernel: np.ndarray, in_channels: int, mode: str) -> np.ndarray:
  """A `[kh, kw, 3, out]` RGB kernel rewritten for `in_channels` inputs (see the module docstring).

  Raises:
    ValueError: for an unknown mode, 'sum' with C != 1, 'zeros' with C < 3, or a kernel without 3 inputs.
  """
  if mode not in CHANNEL_MODES:
    raise ValueError(f'channel_mode must be one of {CHANNEL_MODES}, got {mode!r}')
  checks.check_int('in_channels', in_channels)
  if kernel.ndim != 4 or kernel.shape[2] != 3:
    raise ValueError(f'expected an RGB kernel of shape [kh, kw, 3, out], got {list(kernel.shape)}')
  if mode == 'sum':
    if in_channels != 1:
      raise ValueError(f"channel_mode 'sum' makes a 1-channel (gray) kernel, got in_channels={in_channels}; "
                       "use 'repeat' or 'zeros'")
    return kernel.sum(axis=2, keepdims=True)
  if mode == 'zeros':
    if in_channels < 3:
      raise ValueError(f"channel_mode 'zeros' keeps the 3 RGB channels and adds zero ones, so in_channels must be "
                       f">= 3, got {in_channels}; use 'sum' (1 channel) or 'repeat'")
    extra = np.zeros(kernel.shape[:2] + (in_channels - 3, kernel.shape[3]), kernel.dtype)
    return np.concatenate([kernel, extra], axis=2)
  return (kernel[:, :, [c % 3 for c in range(in_channels)], :] * (3.0 / in_channels)).astype(kernel.dtype)


def adapt_separable(depthwise: np.ndarray, pointwise: np.ndarray, in_channels: int,
                    mode: str) -> Tuple[np.ndarray, np.ndarray]:
  """A separable first layer's RGB `[kh, kw, 3, m]` depthwise and `[1, 1, 3 * m, out]` pointwise kernels
  rewritten for `in_channels` inputs (Inception v2's Conv2d_1a_7x7).

  Depthwise filter k of input channel c feeds pointwise row c * m + k. 'repeat' gives channel j the
  filters of RGB channel j % 3 and scales its pointwise rows by 3 / C (exact for k stacked copies of an RGB
  image, C = 3k); 'zeros' gives the extra channels copies of the RGB filters but zero pointwise rows, so the RGB
  part behaves exactly as before and the new rows still get gradients. 'sum' cannot be exact: a gray channel
  would need the 3 * m filters of all three RGB channels, and the layer has m per channel.

  Raises:
    ValueError: for 'sum', 'zeros' with C < 3, an unknown mode, or kernels of other shapes.
  """
  if mode not in CHANNEL_MODES:
    raise ValueError(f'channel_mode must be one of {CHANNEL_MODES}, got {mode!r}')
  checks.check_int('in_channels', in_channels)
  if depthwise.ndim != 4 or depthwise.shape[2] != 3 or pointwise.shape[:3] != (1, 1, 3 * depthwise.shape[3]):
    raise ValueError(f'expected RGB separable kernels [kh, kw, 3, m] and [1, 1, 3m, out], got '
                     f'{list(depthwise.shape)} and {list(pointwise.shape)}')
  if mode == 'sum':
    raise ValueError(f"channel_mode 'sum' cannot be exact for a separable first layer: a gray channel would need the "
                     f'{3 * depthwise.shape[3]} depthwise filters of the three RGB channels, and the layer has '
                     f"{depthwise.shape[3]} per channel; use 'repeat' (in_channels={in_channels}) or 'zeros'")
  if mode == 'zeros' and in_channels < 3:
    raise ValueError(f"channel_mode 'zeros' keeps the 3 RGB channels and adds zero ones, so in_channels must be "
                     f">= 3, got {in_channels}; use 'repeat'")
  cycle = [c % 3 for c in range(in_channels)]
  multiplier, outputs = depthwise.shape[3], pointwise.shape[3]
  rows = pointwise.reshape(3, multiplier, outputs)[cycle]
  if mode == 'repeat':
    rows = rows * (3.0 / in_channels)
  else:
    rows[3:] = 0.0
  return depthwise[:, :, cycle, :], rows.reshape(1, 1, in_channels * multiplier, outputs).astype(pointwise.dtype)


def _adapt_input_variables(adapted: Dict[str, np.ndarray], names: Sequence[str], in_channels: int,
                           mode: str) -> None:
  """Rewrites, in place, the variables `names` that follow the input channels: kernels, or separable pairs."""
  for name in names:
    if name not in adapted or name.endswith('/pointwise_weights'):
      continue
    if name.endswith('/depthwise_weights'):
      partner = name[:-len('depthwise_weights')] + 'pointwise_weights'
      adapted[name], adapted[partner] = adapt_separable(adapted[name], adapted[partner], in_channels, mode)
    else:
      adapted[name] = adapt_channels(adapted[name], in_channels, mode)


def adapt(values: Dict[str, np.ndarray], network: str, in_channels: int = 3, channel_mode: str = 'repeat',
          num_classes: Optional[int] = None, label_offset: int = 0) -> Dict[str, np.ndarray]:
  """Checkpoint values rewritten for `network` with `in_channels` inputs and `num_classes` classes.

  Args:
    values: name -> array, e.g. from `read`.
    network: the network's name in the registry.
    in_channels: input channels of the adapted network.
    channel_mode: 'repeat', 'sum' or 'zeros' (used when in_channels != 3).
    num_classes: None keeps the head as it is; K drops the variables whose shape follows the classes (the
      logits layers) unless they already have K classes, or `label_offset` maps them to K.
    label_offset: 1 drops the first (background) class of a K + 1 class head.

  Returns:
    The adapted name -> array (dropped variables are absent).

  Raises:
    ValueError: for bad arguments, a checkpoint without the network's first convolution (another network's),
      or a `label_offset` that does not fit the checkpoint's head.
  """
  if label_offset not in (0, 1):
    raise ValueError(f'label_offset must be 0 or 1, got {label_offset!r}')
  checks.check_int('num_classes', num_classes, minimum=0, allow_none=True)
  if label_offset and not num_classes:
    raise ValueError('label_offset needs num_classes (the number of classes after dropping the offset ones)')
  first = input_variables(network)
  if not any(name in values for name in first):
    held = ', '.join(repr(name) for name in sorted(values)[:2])
    raise ValueError(f'the checkpoint has no {first[0]!r}: it is not {_article(network)} {network} checkpoint (it holds '
                     f'{len(values)} variables, e.g. {held}); pass the network it was trained as')
  adapted = dict(values)
  if in_channels != 3:
    _adapt_input_variables(adapted, input_variables(network), in_channels, channel_mode)
  elif channel_mode not in CHANNEL_MODES:
    raise ValueError(f'channel_mode must be one of {CHANNEL_MODES}, got {channel_mode!r}')
  if num_classes is not None:
    for name in class_variables(network):
      if name not in adapted:
        continue
      classes = adapted[name].shape[-1]
      if label_offset:
        if classes != num_classes + label_offset:
          raise ValueError(f'label_offset={label_offset} with num_classes={num_classes} needs a head of '
                           f'{num_classes + label_offset} classes, but {name} has {classes}')
        adapted[name] = adapted[name][..., label_offset:]
      elif classes != num_classes or num_classes == 0:
        del adapted[name]
  return adapted


check_output = staging.check_output  # a checkpoint, or any file, at prefix `output` without `overwrite`


def write(values: Dict[str, np.ndarray], output: str, overwrite: bool = False) -> str:
  """Writes `values` as a name-based TensorFlow checkpoint at prefix `output`, all or nothing.

  The checkpoint is written into a temporary directory beside `output` and moved into place only when complete,
  so an interrupted write leaves nothing at `output`.

  Raises:
    FileExistsError: when a checkpoint exists at `output` and `overwrite` is False.
  """
  output = os.path.abspath(os.fspath(output))
  check_output(output, overwrite)
  parent = os.path.dirname(output)
  os.makedirs(parent, exist_ok=True)
  folder = tempfile.mkdtemp(prefix='.partial-', dir=parent)
  try:
    staged = os.path.join(folder, 'ckpt')
    names = sorted(values)
    _run_now(lambda: tf.raw_ops.SaveV2(prefix=staged, tensor_names=names, shape_and_slices=[''] * len(names),
                                       tensors=[tf.constant(values[name]) for name in names]))
    _read_back(staged, values)
    if os.path.exists(output + '.index'):
      os.remove(output + '.index')  # no index pointing at data being replaced
    for old in _data_files(output):
      os.remove(old)
    for path in _data_files(staged):
      os.replace(path, output + path[len(staged):])
    os.replace(staged + '.index', output + '.index')
  finally:
    shutil.rmtree(folder, ignore_errors=True)
  return output


def _run_now(make_op: Callable) -> None:
  """Runs the op `make_op()` builds at once, leaving any graph being built untouched.

  Eagerly where TensorFlow can (TF2 behaviour, also while a graph is being built); under
  `tf.compat.v1.disable_v2_behavior()` there is no eager execution, so in a graph and session of its own.
  """
  with tf.init_scope():
    if tf.executing_eagerly():
      with tf.device('/cpu:0'):
        make_op()
      return
  with tf.Graph().as_default() as graph, tf.device('/cpu:0'):
    op = make_op()
    with tf.compat.v1.Session(graph=graph) as session:
      session.run(op)


def _data_files(prefix: str) -> List[str]:
  folder, base = os.path.split(prefix)
  return [os.path.join(folder, n) for n in os.listdir(folder) if n.startswith(base + '.data-')]


def _read_back(prefix: str, values: Dict[str, np.ndarray]) -> None:
  written = tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
  if {k: tuple(v) for k, v in written.items()} != {k: tuple(v.shape) for k, v in values.items()}:
    raise OSError(f'checkpoint written at {prefix!r} does not read back as written')
