"""Features of a folder of images (`slimnets extract`), resumable, skipping unreadable files.

Images: the `.jpg`, `.jpeg` and `.png` files under the folder (any depth, any case of the extension), in sorted
order of their relative paths. They are read and decoded by `tf.data` in parallel, as RGB (grey images are
repeated to three channels, alpha is dropped), and preprocessed by the network's own evaluation preprocessing
(`slimnets.weights.preprocessing`) at the input size, which states the resize policy: ResNet v1 resizes the smaller side
to 256 and crops the centre; ResNet v2 and Inception v3 keep the central 87.5% and resize it (the aspect ratio
is not kept). The default input size is the network's default image size.

Outputs, float32, by key: a feature level ('C4', 'C5': `[h, w, channels]` per image) or 'pooled' (the global
average of the last level, `[channels]`). A DeepLab segmenter (`models.Segmenter`) takes the images resized to the
input size, pixels in [0, 255], and gives 'labels' (int32 `[h, w]` per image, at the input size):

- `OUTPUT` ending in `.npz`: one file with `paths` (relative paths, in order) and one `[images, ...]` array per
  key. It is assembled when all images are done; until then the finished batches are kept in `OUTPUT.partial/`.
- otherwise a directory with one `RELATIVE_PATH.npz` per image, holding its arrays.

Either way a file `.slimnets-extract.json` records the settings, and a run with the same settings resumes where
an interrupted one stopped instead of redoing finished images. Other settings, or an existing output that is not
an interrupted run of these settings, are refused unless `overwrite`. Every file is written under a temporary
name and renamed when complete, so an interrupted run leaves no half-written output.
"""

import dataclasses
import glob
import json
import os
import re
import shutil
import sys
import warnings
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from slimnets import folders
from slimnets import models
from slimnets import staging
from slimnets.deploy import inference
from slimnets.deploy import precision as precisions
from slimnets.deploy import serving
from slimnets.weights import preprocessing

STATE_FILE = '.slimnets-extract.json'


@dataclasses.dataclass
class ExtractReport:
  """What a run did: `written` images extracted now, `resumed` found done, `skipped` (path, reason) pairs."""
  output: str
  precision: str
  written: int = 0
  resumed: int = 0
  skipped: List[Tuple[str, str]] = dataclasses.field(default_factory=list)


def _write_atomically(path: str, arrays: Dict[str, np.ndarray]) -> None:
  """np.savez to a temporary file beside `path`, renamed to `path` when complete."""
  with staging.staged(path) as staged, open(staged, 'wb') as file:
    np.savez(file, **arrays)


def _write_json(path: str, value: dict) -> None:
  with staging.staged(path) as staged, open(staged, 'w', encoding='utf-8') as file:
    json.dump(value, file, indent=1, sort_keys=True)


def _read_state(folder: str) -> Optional[dict]:
  try:
    with open(os.path.join(folder, STATE_FILE), encoding='utf-8') as file:
      return json.load(file)
  except (OSError, ValueError):
    return None


class _Store:
  """Where finished images go: one file per image in a directory, or batches assembled into one .npz."""

  def __init__(self, output: str, settings: dict, overwrite: bool):
    self.output = output
    self.single = output.endswith('.npz')
    self.folder = output + '.partial' if self.single else output
    self.settings = settings
    self._next_chunk = 0
    state = _read_state(self.folder)
    resumable = state == settings
    if self.single and os.path.exists(output) and not overwrite:
      raise FileExistsError(f'output {output!r} already exists; pass --overwrite to replace it')
    if os.path.isdir(self.folder) and os.listdir(self.folder) and not resumable:
      if state is None and not self.single:
        raise FileExistsError(f'output {output!r} exists and is not a slimnets extract output; '
                              'choose another output or remove it')
      if not overwrite:
        raise FileExistsError(f'{self.folder!r} holds an extraction with other settings; pass --overwrite to '
                              'discard it')
      shutil.rmtree(self.folder)
    elif os.path.exists(self.folder) and not os.path.isdir(self.folder):
      raise FileExistsError(f'output {self.folder!r} exists and is not a directory')
    elif resumable and overwrite and not self.single:
      shutil.rmtree(self.folder)  # --overwrite starts afresh rather than resuming

  def open(self) -> None:
    os.makedirs(self.folder, exist_ok=True)
    if _read_state(self.folder) != self.settings:
      _write_json(os.path.join(self.folder, STATE_FILE), self.settings)
    self._next_chunk = len(self._chunks())  # counted once: listing the folder per batch grows with the run

  def _chunks(self) -> List[str]:
    return sorted(glob.glob(os.path.join(glob.escape(self.folder), 'batch-*.npz')))

  def done(self) -> set:
    """Relative paths of the images finished by earlier runs."""
    if not os.path.isdir(self.folder):
      return set()
    if self.single:
      finished = set()
      for chunk in self._chunks():
        with np.load(chunk) as arrays:
          finished.update(str(p) for p in arrays['paths'])
      return finished
    finished = set()
    for root, _, files in os.walk(self.folder):
      for name in files:
        if name.endswith('.npz') and not name.startswith('.'):
          finished.add(os.path.relpath(os.path.join(root, name), self.folder)[:-len('.npz')])
    return finished

  def add(self, paths: Sequence[str], arrays: Dict[str, np.ndarray]) -> None:
    if self.single:
      _write_atomically(os.path.join(self.folder, f'batch-{self._next_chunk:08d}.npz'),
                        {'paths': np.array(paths), **arrays})
      self._next_chunk += 1
      return
    for i, path in enumerate(paths):
      _write_atomically(os.path.join(self.folder, path + '.npz'), {key: value[i] for key, value in arrays.items()})

  def finish(self, order: Sequence[str], keys: Sequence[str]) -> None:
    """Assembles the single .npz in the order of `order` (images not done are left out)."""
    if not self.single:
      return
    parts = {key: [] for key in keys}
    paths = []
    for chunk in self._chunks():
      with np.load(chunk) as arrays:
        paths.extend(str(p) for p in arrays['paths'])
        for key in keys:
          parts[key].append(arrays[key])
    position = {path: i for i, path in enumerate(paths)}
    ordered = [position[path] for path in order if path in position]
    result = {'paths': np.array([paths[i] for i in ordered], dtype=str)}
    for key in keys:
      stacked = np.concatenate(parts[key]) if parts[key] else np.zeros([0], np.float32)
      result[key] = stacked[ordered] if parts[key] else stacked
    _write_atomically(os.path.abspath(self.output), result)
    shutil.rmtree(self.folder)


def _unreadable_reason(path: str) -> str:
  """Why `path` does not decode, in one line."""
  try:
    tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
  except (tf.errors.OpError, ValueError) as error:
    message = re.sub(r'\{\{[^}]*\}\}|\[Op:[^]]*\].*', '', getattr(error, 'message', str(error))).strip()
    return message.splitlines()[0] if message else type(error).__name__
  return 'could not be read or decoded'


def _dataset(folder: str, paths: Sequence[str], network: Optional[str], size: Tuple[int, int], batch_size: int):
  if network is None:  # pixels in [0, 255], resized (bilinear, aligned corners as DeepLab resizes)
    preprocess = lambda image, height, width, is_training: tf.raw_ops.ResizeBilinear(
        images=tf.cast(image, tf.float32)[tf.newaxis], size=[height, width], align_corners=True)[0]
  else:
    preprocess = preprocessing.get_preprocessing(network)

  def load(index, path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return index, preprocess(image, size[0], size[1], is_training=False)

  files = [os.path.join(folder, path) for path in paths]
  dataset = tf.data.Dataset.from_tensor_slices((tf.range(len(paths), dtype=tf.int64), tf.constant(files)))
  dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  return dataset.ignore_errors().batch(batch_size).prefetch(2)


def _stored(values: np.ndarray) -> np.ndarray:
  """An output as written: features float32, a segmenter's labels int32 (its argmax is int64)."""
  return values.astype(np.int32) if values.dtype == np.int64 else values


def preprocessed_images(folder: str, network: Optional[str], size: Tuple[int, int],
                        limit: int = 100) -> List[np.ndarray]:
  """The first `limit` readable images of `folder` (as `extract` lists them), through the network's evaluation
  preprocessing at `size`: `[height, width, 3]` float32 arrays, e.g. to calibrate an int8 TFLite export.
  `network` None: resized only, pixels in [0, 255] (for a DeepLab segmenter, which preprocesses inside).

  Raises:
    NotADirectoryError: when `folder` is not a directory. ValueError: when it holds no readable image.
  """
  paths = folders.list_images(folder)[:limit]
  arrays = [image.numpy() for _, batch in _dataset(folder, paths, network, tuple(size), 1) for image in batch]
  if not arrays:
    raise ValueError(f'no readable .jpg, .jpeg or .png image in {folder!r}')
  return arrays


def extract(backbone: models.NetworkModule, images: str, output: str, *, levels: Sequence[str] = (),
            pooled: bool = False, input_size: Optional[Tuple[int, int]] = None, batch_size: int = 8,
            precision: str = 'float32', overwrite: bool = False, progress: bool = True, settings: Optional[dict] = None,
            on_skip: Optional[Callable[[str, str], None]] = None) -> ExtractReport:
  """Runs `backbone` over the images under `images` and writes their features to `output` (module docstring).

  Args:
    backbone: the network with its weights (`models.NetworkModule`, restored from a checkpoint as needed).
    images: the folder of images.
    output: a `.npz` file, or a directory for one file per image.
    levels: feature levels to keep, e.g. ('C4', 'C5').
    pooled: keep 'pooled', the global average of the last level (the default when no level is given).
    input_size: (height, width) the images are preprocessed to (default: the network's default image size).
    batch_size: images per batch.
    precision: 'float32' or 'bfloat16' (falls back to float32 with a warning where bfloat16 is not native).
    overwrite: replace an existing output (or discard an interrupted run with other settings).
    progress: show a progress bar with images per second on stderr.
    settings: more items that identify the run for resuming, e.g. {'checkpoint': path}.
    on_skip: called with (relative path, reason) for each unreadable image (default: a RuntimeWarning).

  Returns:
    An `ExtractReport`.

  Raises:
    ValueError: for a bad level, size, batch size or precision, levels asked of a Segmenter, or an output named
      with an extension other than .npz.
    NotADirectoryError: when `images` is not a directory.
    FileExistsError: when the output exists and is not resumable, without `overwrite`.
    KeyboardInterrupt: as raised, with `finished` set to the number of images the output keeps (done now or
      before).
  """
  size = tuple(input_size or backbone.default_input_size())
  serving.check_run_arguments(size, batch_size)
  if backbone.in_channels != 3:
    raise ValueError(f'extract reads RGB images: the backbone must take 3 channels, not {backbone.in_channels}')
  staging.check_file_or_folder(output, '.npz')
  levels = tuple(levels)
  backbone.check_outputs(levels, pooled)
  segmenter = isinstance(backbone, models.Segmenter)
  pooled = not segmenter and (pooled or not levels)
  run_precision, message = precisions.resolve_precision(precision)
  keys = ['labels'] if segmenter else [*levels, *(['pooled'] if pooled else [])]
  model = ({'model_options': backbone.model_options.as_json()} if segmenter else
           {'network_kwargs': backbone.network_kwargs})
  all_settings = {'network': backbone.network, **model, 'keys': keys, 'input_size': list(size),
                  'precision': run_precision, **(settings or {})}
  all_settings = json.loads(json.dumps(all_settings, default=str))
  paths = folders.list_images(images)
  if not paths:
    raise ValueError(f'images folder {images!r} has no {", ".join(folders.IMAGE_EXTENSIONS)} files')
  store = _Store(os.path.abspath(output), all_settings, overwrite)
  if message:
    warnings.warn(message, RuntimeWarning, stacklevel=2)
  predictor = inference.Predictor(backbone, run_precision, levels=levels, pooled=pooled, unsupported_reason=None)
  predictor(tf.zeros([batch_size, *size, 3]))  # traces, and raises for a size the network does not take
  report = ExtractReport(output=os.path.abspath(output), precision=run_precision)
  if on_skip is None:
    on_skip = lambda path, reason: warnings.warn(f'skipped {path}: {reason}', RuntimeWarning, stacklevel=3)
  done = store.done()
  report.resumed = sum(1 for path in paths if path in done)
  todo = [path for path in paths if path not in done]
  store.open()

  def skip(index: int) -> None:
    report.skipped.append((todo[index], _unreadable_reason(os.path.join(images, todo[index]))))
    on_skip(*report.skipped[-1])

  try:
    expected = 0
    with tqdm(total=len(paths), initial=report.resumed, unit='img', desc='extract', disable=not progress,
              file=sys.stderr) as bar:
      batches = _dataset(images, todo, None if segmenter else backbone.network, size, batch_size) if todo else ()
      for indices, batch in batches:
        indices = indices.numpy()
        count = len(indices)
        if count < batch_size:  # one traced shape for every batch
          batch = tf.concat([batch, tf.zeros([batch_size - count, *batch.shape[1:]], batch.dtype)], 0)
        outputs = predictor(batch)
        for index in range(expected, int(indices[0])):
          skip(index)
        for previous, index in zip(indices[:-1], indices[1:]):
          for missing in range(int(previous) + 1, int(index)):
            skip(missing)
        expected = int(indices[-1]) + 1
        store.add([todo[i] for i in indices], {key: _stored(outputs[key][:count]) for key in keys})
        report.written += count
        bar.update(report.resumed + report.written + len(report.skipped) - bar.n)
      for index in range(expected, len(todo)):
        skip(index)
      bar.update(report.resumed + report.written + len(report.skipped) - bar.n)
    store.finish(paths, keys)
  except KeyboardInterrupt as interrupt:
    interrupt.finished = report.resumed + report.written  # what an interrupted run keeps, for its caller to say
    raise
  return report
