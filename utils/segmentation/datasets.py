"""Segmentation datasets in DeepLab's format: sharded TFRecords of `tf.train.Example`s, written and read.

The files are those of research/deeplab's `build_data.py`: `<split>-<shard>-of-<shards>.tfrecord` (shard numbers of
five digits), each example holding the encoded image as it was on disk (`image/encoded`, `image/format` 'jpeg' or
'png', `image/filename` the name without extension, `image/height`, `image/width`, `image/channels` 3) and the
label PNG (`image/segmentation/class/encoded`, `image/segmentation/class/format` 'png'), whose pixel values are
the class indices. DeepLab's reader reads the files written here, and `dataset` reads DeepLab's.

    build_dataset('images/', 'masks/', 'data/', split='train', num_classes=4)    # data/train-00000-of-00004.tfrecord
    for batch in dataset('data/', 'train', batch_size=8, crop_size=(321, 321), is_training=True, seed=0): ...

The dataset descriptors are DeepLab's (`DATASETS`: pascal_voc_seg, cityscapes, ade20k); `build_dataset` also
writes `slimnets_dataset.json` beside the shards (classes, ignore label, examples per split), which a custom
dataset's readers take their class count from. DeepLab's reader reads only `<split>-*` and never sees it.
"""

import collections
import glob
import io
import json
import math
import os
import re
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from nets import checks
from slimnets import folders
from slimnets import staging
from slimnets.segmentation import preprocessing
from slimnets.segmentation.labels import IGNORE_LABEL

# DeepLab's dataset descriptor (research/deeplab datasets/data_generator.py).
DatasetDescriptor = collections.namedtuple('DatasetDescriptor', ['splits_to_sizes', 'num_classes', 'ignore_label'])

DATASETS = {
    'pascal_voc_seg': DatasetDescriptor({'train': 1464, 'train_aug': 10582, 'trainval': 2913, 'val': 1449}, 21, 255),
    'cityscapes': DatasetDescriptor({'train': 2975, 'val': 500}, 19, 255),
    'ade20k': DatasetDescriptor({'train': 20210, 'val': 2000}, 151, 0),
}

DESCRIPTION_FILE = 'slimnets_dataset.json'
_SHARD = re.compile(r'-(\d{5})-of-(\d{5})\.tfrecord$')

# Keys of the samples `parse_example` returns and `dataset` batches (DeepLab's common.IMAGE, ... names).
IMAGE, LABEL, IMAGE_NAME, HEIGHT, WIDTH, ORIGINAL_IMAGE = (
    'image', 'label', 'image_name', 'height', 'width', 'original_image')


def shard_name(split: str, shard: int, shards: int) -> str:
  """DeepLab's name of a shard: 'train-00001-of-00004.tfrecord'."""
  return f'{split}-{shard:05d}-of-{shards:05d}.tfrecord'


def split_files(dataset_dir: str, split: str) -> List[str]:
  """The shards of `split` in `dataset_dir` (DeepLab's `<split>-*` pattern), sorted.

  Raises:
    ValueError: when there are none, naming the splits that are there.
  """
  found = sorted(glob.glob(os.path.join(glob.escape(dataset_dir), f'{glob.escape(split)}-*')))
  if not found:
    present = sorted({_SHARD.sub('', os.path.basename(p)) for p in glob.glob(os.path.join(
        glob.escape(dataset_dir), '*.tfrecord')) if _SHARD.search(p)})
    raise ValueError(f'dataset_dir {dataset_dir!r} has no files of split {split!r} ({split}-*); splits there: '
                     f'{", ".join(present) or "none"}')
  return found


def describe_dataset(dataset: Optional[str] = None, dataset_dir: Optional[str] = None,
                     num_classes: Optional[int] = None, ignore_label: Optional[int] = None) -> DatasetDescriptor:
  """The descriptor of a dataset: DeepLab's for a known `dataset` name, else the one `build_dataset` wrote in
  `dataset_dir`, else one of `num_classes` (and `ignore_label`, default 255). Given values win.

  Raises:
    ValueError: for an unknown name, or when the class count is nowhere to be found.
  """
  if dataset is not None and dataset not in DATASETS:
    raise ValueError(f'dataset must be one of {", ".join(DATASETS)} (or none, for a dataset of its own with '
                     f'num_classes), got {dataset!r}')
  known = DATASETS.get(dataset)
  if known is None and dataset_dir and os.path.exists(os.path.join(dataset_dir, DESCRIPTION_FILE)):
    with open(os.path.join(dataset_dir, DESCRIPTION_FILE), encoding='utf-8') as handle:
      written = json.load(handle)
    known = DatasetDescriptor({k: v['examples'] for k, v in written['splits'].items()}, written['num_classes'],
                              written['ignore_label'])
  if known is None and num_classes is None:
    raise ValueError(f'the number of classes is unknown: give num_classes (--num-classes) or a dataset name '
                     f'({", ".join(DATASETS)}); {dataset_dir or "the dataset folder"} has no {DESCRIPTION_FILE}')
  splits = known.splits_to_sizes if known else {}
  classes = checks.as_int(num_classes if num_classes is not None else known.num_classes)
  checks.check_int('num_classes', classes)
  ignore = checks.as_int(ignore_label if ignore_label is not None else (known.ignore_label if known else
                                                                        IGNORE_LABEL))
  checks.check_int('ignore_label', ignore, minimum=0)
  return DatasetDescriptor(dict(splits), classes, ignore)


def example(image_data: bytes, filename: str, image_format: str, height: int, width: int,
            label_data: Optional[bytes]) -> tf.train.Example:
  """One `tf.train.Example` as DeepLab's `build_data.image_seg_to_tfexample` makes it (same features, order and
  values)."""
  def bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  def int_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))

  features = {
      'image/encoded': bytes_feature(image_data),
      'image/filename': bytes_feature(filename.encode('utf-8')),
      'image/format': bytes_feature(image_format.encode('utf-8')),
      'image/height': int_feature(height),
      'image/width': int_feature(width),
      'image/channels': int_feature(3),
  }
  if label_data is not None:
    features['image/segmentation/class/encoded'] = bytes_feature(label_data)
    features['image/segmentation/class/format'] = bytes_feature(b'png')
  return tf.train.Example(features=tf.train.Features(feature=features))


def _decode(content: tf.Tensor, channels: int) -> tf.Tensor:
  return tf.cond(tf.image.is_jpeg(content), lambda: tf.image.decode_jpeg(content, channels),
                 lambda: tf.image.decode_png(content, channels))


def parse_example(serialized: tf.Tensor, with_label: bool = True) -> Dict[str, tf.Tensor]:
  """A DeepLab example as {'image': uint8 [h, w, 3], 'label': uint8 [h, w, 1], 'image_name', 'height', 'width'}
  (DeepLab's reader's features and defaults; no label with `with_label=False`, as for a test split)."""
  features = {
      'image/encoded': tf.io.FixedLenFeature((), tf.string, default_value=''),
      'image/filename': tf.io.FixedLenFeature((), tf.string, default_value=''),
      'image/format': tf.io.FixedLenFeature((), tf.string, default_value='jpeg'),
      'image/height': tf.io.FixedLenFeature((), tf.int64, default_value=0),
      'image/width': tf.io.FixedLenFeature((), tf.int64, default_value=0),
      'image/segmentation/class/encoded': tf.io.FixedLenFeature((), tf.string, default_value=''),
      'image/segmentation/class/format': tf.io.FixedLenFeature((), tf.string, default_value='png'),
  }
  parsed = tf.io.parse_single_example(serialized, features)
  image = _decode(parsed['image/encoded'], 3)
  image.set_shape([None, None, 3])
  sample = {IMAGE: image, IMAGE_NAME: parsed['image/filename'], HEIGHT: parsed['image/height'],
            WIDTH: parsed['image/width']}
  if with_label:
    label = _decode(parsed['image/segmentation/class/encoded'], 1)
    label.set_shape([None, None, 1])
    sample[LABEL] = label
  return sample


def dataset(dataset_dir: str, split: str, batch_size: int, crop_size: Optional[Sequence[int]] = None, *,
            is_training: bool = False, seed: int = 0, skip: int = 0, with_label: bool = True,
            shuffle_buffer: int = 100, input_context: Optional[tf.distribute.InputContext] = None,
            **preprocessing_options) -> tf.data.Dataset:
  """A `tf.data` pipeline over the split's shards: parse, DeepLab's preprocessing, batch, prefetch.

  For training (`is_training`) the examples are shuffled (a buffer of `shuffle_buffer`) and repeated forever,
  every random draw depending on `seed` and the example's position in the stream only: the same seed gives
  the same batches in every run, and `skip` (examples already trained on) resumes the stream exactly where a run
  stopped. For evaluation the examples come once, in file order, with `ORIGINAL_IMAGE` and `IMAGE_NAME`.

  Args:
    dataset_dir: the folder of the shards.
    split: the split name, e.g. 'train'.
    batch_size: examples per batch (training drops the last, incomplete batch of nothing, as it repeats).
    crop_size: (height, width): training crops, or the size evaluation pads to (None: whole images, batch 1).
    is_training: see above.
    seed: the seed of the shuffle and of the preprocessing.
    skip: examples of the stream to pass over before the first batch (reading, not decoding them).
    with_label: read labels (False for a split without them).
    shuffle_buffer: examples in the shuffle buffer.
    input_context: a `tf.distribute.InputContext`: this input pipeline's shard of a multi-worker run.
    **preprocessing_options: `min_resize_value`, `max_resize_value`, `resize_factor`, `min_scale_factor`,
      `max_scale_factor`, `scale_factor_step_size`, `ignore_label`, `model_variant` of
      `preprocessing.preprocess_image_and_label`.

  Returns:
    Batches of {'image': float32, 'label': int32 [b, h, w, 1], 'image_name', 'height', 'width'} (+
    'original_image' for evaluation, zero-padded to the largest of its batch).

  Raises:
    ValueError: for a missing split or bad arguments, before anything is read.
  """
  checks.check_int('batch_size', checks.as_int(batch_size))
  checks.check_int('skip', checks.as_int(skip), minimum=0)
  if not is_training and crop_size is None and batch_size != 1:
    raise ValueError(f'batch_size must be 1 to evaluate whole images of different sizes (crop_size None), got '
                     f'{batch_size}')
  preprocessing.check_arguments(crop_size, preprocessing_options.get('min_scale_factor', 1.0),
                                preprocessing_options.get('max_scale_factor', 1.0),
                                preprocessing_options.get('scale_factor_step_size', 0.0), is_training)
  files = split_files(dataset_dir, split)
  records = tf.data.TFRecordDataset(files)
  if input_context is not None and input_context.num_input_pipelines > 1:
    records = records.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
  if is_training:
    records = records.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True).repeat()
  records = records.enumerate()
  if skip:
    records = records.skip(skip)

  def load(index, serialized):
    sample = parse_example(serialized, with_label)
    original, image, label = preprocessing.preprocess_image_and_label(
        sample[IMAGE], sample.get(LABEL), crop_size, is_training=is_training,
        seed=tf.stack([tf.constant(seed, tf.int64), index]), **preprocessing_options)
    sample[IMAGE] = image
    if label is not None:
      sample[LABEL] = label
    if not is_training:
      sample[ORIGINAL_IMAGE] = original
    return sample

  samples = records.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  if is_training:
    return samples.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
  # Evaluation batches of several images padded to the crop: their original images differ in size, and are
  # padded with zeros to the largest of the batch ('height' and 'width' keep each one's size).
  return samples.padded_batch(batch_size).prefetch(tf.data.AUTOTUNE)


def _read_picture(path: str, what: str, kinds: str) -> Tuple[bytes, Image.Image]:
  """(the file's bytes, the decoded picture), or a ValueError naming the file."""
  with open(path, 'rb') as handle:
    data = handle.read()
  try:
    picture = Image.open(io.BytesIO(data))
    picture.load()
  except (OSError, SyntaxError) as error:
    raise ValueError(f'{what} {path}: not a readable {kinds} ({error})') from None
  return data, picture


def _open_label(path: str, num_classes: int, ignore_label: int, size: Tuple[int, int]) -> bytes:
  """The label PNG's bytes as DeepLab stores them (a grayscale PNG of class indices), checked.

  A grayscale 8-bit PNG is stored as it is; a palette PNG's indices are its labels, so it is stored as the
  grayscale PNG of its indices (TensorFlow's PNG decoder would turn the palette into colours).
  """
  data, picture = _read_picture(path, 'label', 'PNG')
  if picture.format != 'PNG' or picture.mode not in ('L', 'P'):
    raise ValueError(f'label {path}: must be a PNG of class indices, 8-bit grayscale or palette, got a '
                     f'{picture.format} of mode {picture.mode}')
  if picture.size != (size[1], size[0]):
    raise ValueError(f'label {path}: its size {picture.size[0]}x{picture.size[1]} differs from its image\'s '
                     f'{size[1]}x{size[0]} (width x height)')
  values = np.asarray(picture)
  bad = np.unique(values[(values >= num_classes) & (values != ignore_label)])
  if bad.size:
    raise ValueError(f'label {path}: values must be in [0, {num_classes}) or the ignore label {ignore_label}, '
                     f'got {bad[:10].tolist()}')
  if picture.mode == 'L':
    return data
  stored = io.BytesIO()
  Image.fromarray(values, mode='L').save(stored, format='PNG')
  return stored.getvalue()


def _open_image(path: str) -> Tuple[bytes, str, Tuple[int, int]]:
  """(the image file's bytes, 'jpeg' or 'png', (height, width)), checked to decode."""
  data, picture = _read_picture(path, 'image', 'JPEG or PNG')
  if picture.format not in ('JPEG', 'PNG'):
    raise ValueError(f'image {path}: must be a JPEG or PNG, got {picture.format}')
  return data, picture.format.lower(), (picture.size[1], picture.size[0])


def _pairs(images_dir: str, labels_dir: str) -> List[Tuple[str, str, str]]:
  """(name, image path, label path) of each image, matched to the PNG of the same name (path without extension)."""
  images = folders.list_images(images_dir)
  if not images:
    raise ValueError(f'images folder {images_dir!r} has no {", ".join(folders.IMAGE_EXTENSIONS)} files')
  labels = {os.path.splitext(p)[0]: p for p in folders.list_images(labels_dir) if p.lower().endswith('.png')}
  pairs, missing, names = [], [], set()
  for relative in images:
    name = os.path.splitext(relative)[0]
    if name in names:
      raise ValueError(f'images folder {images_dir!r} holds two images named {name!r} (one name, two extensions)')
    names.add(name)
    if name not in labels:
      missing.append(relative)
      continue
    pairs.append((name, os.path.join(images_dir, relative), os.path.join(labels_dir, labels[name])))
  if missing:
    raise ValueError(f'{len(missing)} images have no label PNG of the same name in {labels_dir!r}: '
                     f'{", ".join(missing[:5])}{" ..." if len(missing) > 5 else ""}')
  return pairs


def build_dataset(images_dir: str, labels_dir: str, output_dir: str, split: str, *, num_classes: int,
                  ignore_label: int = IGNORE_LABEL, shards: int = 4, overwrite: bool = False,
                  progress: bool = False, on_example: Optional[Callable[[str], None]] = None) -> Dict[str, object]:
  """Writes `split` of a dataset from a folder of images and a folder of label PNGs with the same names.

  All or nothing: every image and label is checked (readable, same size, labels in [0, num_classes) or the
  ignore label) while the shards are written under temporary names; the first problem raises naming the file,
  and nothing is left. The images are stored as they are on disk (JPEG or PNG bytes); examples go to the
  shards in name order, `ceil(n / shards)` per shard, as DeepLab's scripts do.

  Args:
    images_dir: folder of .jpg/.jpeg/.png images (at any depth).
    labels_dir: folder of .png labels, at the same relative paths and names as the images.
    output_dir: where the shards go (other splits there are left alone).
    split: the split's name, e.g. 'train'.
    num_classes: classes of the labels.
    ignore_label: the label of pixels without ground truth.
    shards: files to spread the examples over.
    overwrite: replace an existing split of that name.
    progress: show a progress bar.
    on_example: called with each example's name once written (for tests and callers' own progress).

  Returns:
    {'split', 'examples', 'shards': [paths], 'num_classes', 'ignore_label'}.

  Raises:
    ValueError: for a missing label, a size mismatch, a label out of range or an unreadable file (naming it).
    FileExistsError: when the split exists in `output_dir` and not `overwrite`.
  """
  checks.check_int('num_classes', checks.as_int(num_classes))
  checks.check_int('ignore_label', checks.as_int(ignore_label), minimum=0)
  checks.check_int('shards', checks.as_int(shards))
  if not re.fullmatch(r'[A-Za-z0-9_.]+', split or ''):
    raise ValueError(f'split must be a name of letters, digits, "_" and ".", got {split!r}')
  folders.check_folder(labels_dir)
  existing = glob.glob(os.path.join(glob.escape(output_dir), f'{glob.escape(split)}-*'))
  if existing and not overwrite:
    raise FileExistsError(f'split {split!r} already exists in {output_dir!r} ({len(existing)} files); pass '
                          '--overwrite to replace it')
  description = _description_with(output_dir, split, num_classes, ignore_label)
  pairs = _pairs(images_dir, labels_dir)
  per_shard = math.ceil(len(pairs) / shards)
  names = [shard_name(split, i, shards) for i in range(shards)]
  os.makedirs(output_dir, exist_ok=True)
  staging_dir = tempfile.mkdtemp(dir=output_dir, prefix=f'.{split}.partial-')
  try:
    with tqdm(total=len(pairs), desc=f'slimnets: writing {split}', unit=' examples', disable=not progress,
              leave=False) as bar:
      for index, name in enumerate(names):
        with tf.io.TFRecordWriter(os.path.join(staging_dir, name)) as writer:
          for stem, image_path, label_path in pairs[index * per_shard:(index + 1) * per_shard]:
            data, image_format, size = _open_image(image_path)
            label = _open_label(label_path, num_classes, ignore_label, size)
            record = example(data, os.path.basename(stem), image_format, size[0], size[1], label)
            writer.write(record.SerializeToString())
            bar.update(1)
            if on_example:
              on_example(stem)
    for path in existing:  # --overwrite: the old shards go once the new ones are complete
      os.remove(path)
    written = [os.path.join(output_dir, name) for name in names]
    for name, path in zip(names, written):
      os.replace(staging.as_plainly_created(os.path.join(staging_dir, name)), path)
  finally:
    shutil.rmtree(staging_dir, ignore_errors=True)
  description['splits'][split] = {'examples': len(pairs), 'shards': shards}
  with staging.staged(os.path.join(output_dir, DESCRIPTION_FILE)) as temporary:
    with open(temporary, 'w', encoding='utf-8') as handle:
      json.dump(description, handle, indent=1, sort_keys=True)
  return {'split': split, 'examples': len(pairs), 'shards': written, 'num_classes': num_classes,
          'ignore_label': ignore_label}


def _description_with(output_dir: str, split: str, num_classes: int, ignore_label: int) -> dict:
  """`output_dir`'s DESCRIPTION_FILE (a new one if none), checked to describe the same classes and ignore label."""
  path = os.path.join(output_dir, DESCRIPTION_FILE)
  if not os.path.exists(path):
    return {'num_classes': num_classes, 'ignore_label': ignore_label, 'splits': {}}
  with open(path, encoding='utf-8') as handle:
    description = json.load(handle)
  if (description['num_classes'], description['ignore_label']) != (num_classes, ignore_label):
    raise ValueError(f'{path} describes {description["num_classes"]} classes with ignore label '
                     f'{description["ignore_label"]}, and split {split!r} would have {num_classes} and '
                     f'{ignore_label}: write it to another folder, or give the same values')
  return description
