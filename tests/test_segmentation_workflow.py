"""The segmentation workflow: DeepLab's dataset format, its preprocessing, train / evaluate / visualize (#31).

Thin throughout: 5-7 images of about 20x30 pixels, MobileNet v2 at depth 0.25 with 16-channel heads, 33x33 crops.
"""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from nets import deeplab
from slimnets import cli
from slimnets.segmentation import datasets
from slimnets.segmentation import evaluation
from slimnets.segmentation import preprocessing
from slimnets.segmentation import runs
from slimnets.segmentation import training
from slimnets.segmentation import visualization
from slimnets.weights import checkpoints
from tests.conftest import finish_processes
from tests.conftest import free_ports

pytestmark = pytest.mark.eager

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = dict(atrous_rates=(1, 2, 3), output_stride=16, model_variant='mobilenet_v2', depth_multiplier=0.25,
            decoder_output_stride=(4,), aspp_convs_filters=16, decoder_filters=16)
TINY_FLAGS = ['--depth-multiplier', '0.25', '--aspp-convs-filters', '16', '--decoder-filters', '16',
              '--atrous-rates', '1,2,3', '--decoder-output-stride', '4', '--train-crop-size', '33,33',
              '--train-batch-size', '2']


def _folder(root, count=5, classes=3, palette_every=2):
  """Images (JPEG and PNG, 20-24 x 30) and masks (grayscale, some palette) with labels in [0, classes) and 255."""
  rng = np.random.RandomState(0)
  images, labels = os.path.join(root, 'images'), os.path.join(root, 'labels')
  os.makedirs(images)
  os.makedirs(labels)
  arrays = {}
  for i in range(count):
    image = rng.randint(0, 256, (20 + i, 30, 3)).astype(np.uint8)
    label = rng.randint(0, classes, (20 + i, 30)).astype(np.uint8)
    label[0, :3] = 255
    Image.fromarray(image).save(os.path.join(images, f'im{i}.{"jpg" if i % 2 else "png"}'))
    mask = Image.fromarray(label, mode='L')
    if i % palette_every == 1:
      mask = Image.fromarray(label, mode='P')
      mask.putpalette([v for k in range(256) for v in (k * 3 % 256, 255 - k, k)])
    mask.save(os.path.join(labels, f'im{i}.png'))
    arrays[f'im{i}'] = (image, label)
  return images, labels, arrays


def _deeplab_reader(serialized):
  """research/deeplab data_generator's parsing, written out here independently of the project."""
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

  def decode(content, channels):
    return tf.cond(tf.image.is_jpeg(content), lambda: tf.image.decode_jpeg(content, channels),
                   lambda: tf.image.decode_png(content, channels))

  return (parsed['image/filename'].numpy().decode(), decode(parsed['image/encoded'], 3).numpy(),
          decode(parsed['image/segmentation/class/encoded'], 1).numpy()[..., 0],
          int(parsed['image/height']), int(parsed['image/width']))


def test_build_dataset_writes_deeplab_shards_that_deeplabs_parser_decodes_to_the_source_pixels(tmp_path):
  images, labels, arrays = _folder(str(tmp_path))
  output = str(tmp_path / 'data')
  result = datasets.build_dataset(images, labels, output, 'train', num_classes=3, shards=2)
  assert result['examples'] == 5
  assert sorted(os.listdir(output)) == ['slimnets_dataset.json', 'train-00000-of-00002.tfrecord',
                                        'train-00001-of-00002.tfrecord']
  per_shard = [sum(1 for _ in tf.data.TFRecordDataset(p)) for p in result['shards']]
  assert per_shard == [3, 2]  # ceil(5 / 2) per shard, as DeepLab's scripts
  seen = {}
  for record in tf.data.TFRecordDataset(result['shards']):
    name, image, label, height, width = _deeplab_reader(record)
    seen[name] = True
    source_image, source_label = arrays[name]
    assert (height, width) == source_label.shape
    np.testing.assert_array_equal(label, source_label)  # palette masks: their indices, not their colours
    if name in ('im0', 'im2', 'im4'):  # PNG images: lossless, stored as they were
      np.testing.assert_array_equal(image, source_image)
    else:
      assert image.shape == source_image.shape
    example = tf.train.Example.FromString(record.numpy())
    assert example.features.feature['image/channels'].int64_list.value == [3]
    assert example.features.feature['image/format'].bytes_list.value[0] in (b'jpeg', b'png')
  assert sorted(seen) == sorted(arrays)
  with open(os.path.join(output, 'slimnets_dataset.json')) as handle:
    assert json.load(handle) == {'ignore_label': 255, 'num_classes': 3,
                                 'splits': {'train': {'examples': 5, 'shards': 2}}}


def test_our_reader_reads_a_record_written_the_way_deeplabs_build_data_writes_it(tmp_path):
  image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
  label = np.array([[0, 1, 255], [2, 1, 0]], np.uint8)
  image_png, label_png = tf.io.encode_png(image).numpy(), tf.io.encode_png(label[..., None]).numpy()

  def feature(value):
    if isinstance(value, int):
      return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))

  record = tf.train.Example(features=tf.train.Features(feature={
      'image/encoded': feature(image_png), 'image/filename': feature(b'2007_000032'),
      'image/format': feature(b'png'), 'image/height': feature(2), 'image/width': feature(3),
      'image/channels': feature(3), 'image/segmentation/class/encoded': feature(label_png),
      'image/segmentation/class/format': feature(b'png')})).SerializeToString()
  with tf.io.TFRecordWriter(str(tmp_path / 'val-00000-of-00001.tfrecord')) as writer:
    writer.write(record)
  sample = datasets.parse_example(tf.constant(record))
  np.testing.assert_array_equal(sample['image'].numpy(), image)
  np.testing.assert_array_equal(sample['label'].numpy()[..., 0], label)
  assert sample['image_name'].numpy() == b'2007_000032'
  batch = next(iter(datasets.dataset(str(tmp_path), 'val', 1)))
  np.testing.assert_array_equal(batch['label'].numpy()[0, ..., 0], label)
  np.testing.assert_array_equal(batch['original_image'].numpy()[0], image)


@pytest.mark.parametrize('problem, message', [
    ('missing', '1 images have no label PNG of the same name'),
    ('size', 'label {labels}/im3.png: its size 30x20 differs from its image\'s 30x23'),
    ('range', 'label {labels}/im2.png: values must be in [0, 3) or the ignore label 255, got [7]'),
])
def test_build_dataset_refuses_a_bad_folder_naming_the_file_and_leaves_nothing(tmp_path, problem, message):
  images, labels, _ = _folder(str(tmp_path))
  if problem == 'missing':
    os.remove(os.path.join(labels, 'im4.png'))
  elif problem == 'size':
    Image.fromarray(np.zeros((20, 30), np.uint8)).save(os.path.join(labels, 'im3.png'))
  else:
    Image.fromarray(np.full((22, 30), 7, np.uint8)).save(os.path.join(labels, 'im2.png'))
  output = str(tmp_path / 'data')
  with pytest.raises(ValueError) as raised:
    datasets.build_dataset(images, labels, output, 'train', num_classes=3, shards=2)
  assert message.format(labels=labels) in str(raised.value)
  assert not os.path.exists(output) or os.listdir(output) == []


def test_build_dataset_refuses_to_replace_a_split_without_overwrite(tmp_path):
  images, labels, _ = _folder(str(tmp_path), count=2)
  output = str(tmp_path / 'data')
  datasets.build_dataset(images, labels, output, 'val', num_classes=3, shards=1)
  with pytest.raises(FileExistsError, match="split 'val' already exists"):
    datasets.build_dataset(images, labels, output, 'val', num_classes=3, shards=1)
  datasets.build_dataset(images, labels, output, 'val', num_classes=3, shards=2, overwrite=True)
  assert sorted(os.listdir(output)) == ['slimnets_dataset.json', 'val-00000-of-00002.tfrecord',
                                        'val-00001-of-00002.tfrecord']


def test_preprocessing_is_a_function_of_the_seed_and_pads_with_the_mean_pixel_and_the_ignore_label():
  image = tf.constant(np.random.RandomState(1).randint(0, 256, (20, 30, 3)), tf.uint8)
  label = tf.constant(np.random.RandomState(2).randint(0, 3, (20, 30, 1)), tf.uint8)
  options = dict(min_scale_factor=0.5, max_scale_factor=2.0, scale_factor_step_size=0.25, is_training=True)
  first = preprocessing.preprocess_image_and_label(image, label, (25, 25), seed=[0, 7], **options)
  again = preprocessing.preprocess_image_and_label(image, label, (25, 25), seed=[0, 7], **options)
  other = [preprocessing.preprocess_image_and_label(image, label, (25, 25), seed=[0, s], **options)
           for s in range(8, 12)]
  assert first[1].shape == (25, 25, 3) and first[2].shape == (25, 25, 1) and first[2].dtype == tf.int32
  np.testing.assert_array_equal(first[1].numpy(), again[1].numpy())
  np.testing.assert_array_equal(first[2].numpy(), again[2].numpy())
  assert any(not np.array_equal(first[1].numpy(), o[1].numpy()) for o in other)
  # Evaluation: no randomness; padded to the crop at the bottom and right
  _, padded, padded_label = preprocessing.preprocess_image_and_label(image, label, (24, 32), is_training=False)
  np.testing.assert_array_equal(padded.numpy()[:20, :30], image.numpy().astype(np.float32))
  assert np.all(padded.numpy()[20:] == 127.5) and np.all(padded.numpy()[:, 30:] == 127.5)
  assert np.all(padded_label.numpy()[20:] == 255) and np.all(padded_label.numpy()[:, 30:] == 255)
  _, resnet_padded, _ = preprocessing.preprocess_image_and_label(image, label, (24, 32), is_training=False,
                                                                 model_variant='resnet_v1_50')
  np.testing.assert_allclose(resnet_padded.numpy()[23, 31], [123.15, 115.90, 103.06], rtol=1e-6)
  with pytest.raises(tf.errors.InvalidArgumentError, match='larger than crop_size'):
    preprocessing.preprocess_image_and_label(image, label, (16, 16), is_training=False)


def test_resize_to_range_follows_deeplabs_rule():
  image = tf.zeros([200, 300, 3])
  resized, _ = preprocessing.resize_to_range(image, None, min_size=100, max_size=120)
  assert resized.shape == (80, 120, 3)  # the short side 100 would make the long one 150 > 120
  resized, _ = preprocessing.resize_to_range(image, None, min_size=100, max_size=513, factor=16)
  assert resized.shape == (113, 161, 3)  # 100x150 raised to multiples of 16 plus one


def test_the_data_stream_resumes_exactly_after_skipping_the_examples_trained_on(tmp_path):
  images, labels, _ = _folder(str(tmp_path))
  output = str(tmp_path / 'data')
  datasets.build_dataset(images, labels, output, 'train', num_classes=3, shards=2)
  options = dict(is_training=True, seed=3, min_scale_factor=0.5, max_scale_factor=2.0, scale_factor_step_size=0.25)
  whole = [b['image'].numpy() for b in datasets.dataset(output, 'train', 2, (25, 25), **options).take(6)]
  resumed = [b['image'].numpy() for b in datasets.dataset(output, 'train', 2, (25, 25), skip=6, **options).take(3)]
  for expected, found in zip(whole[3:], resumed):
    np.testing.assert_array_equal(expected, found)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """A dataset folder and a run trained 4 steps by `slimnets train` (one class everywhere but the borders, so
  that a few steps learn it)."""
  root = tmp_path_factory.mktemp('workflow')
  images, labels, _ = _folder(str(root), count=6)
  for name in os.listdir(labels):  # class 1 everywhere, 255 on the first row
    label = np.asarray(Image.open(os.path.join(labels, name)))
    easy = np.ones_like(label)
    easy[0] = 255
    Image.fromarray(easy, mode='L').save(os.path.join(labels, name))
  data, logdir = str(root / 'data'), str(root / 'run')
  assert cli.main(['build-dataset', images, labels, '--output', data, '--split', 'train', '--num-classes', '3',
                   '--shards', '2', '--quiet']) == 0
  assert cli.main(['train', '--train-logdir', logdir, '--dataset-dir', data, '--training-number-of-steps', '4',
                   '--base-learning-rate', '0.05', '--save-summaries-steps', '2', '--save-summaries-images',
                   '--update-batch-norm-statistics', '2', '--quiet', *TINY_FLAGS]) == 0
  return data, logdir


def test_train_writes_checkpoints_model_options_and_event_files_and_lowers_the_loss(trained):
  data, logdir = trained
  assert runs.read_model_options(logdir) == deeplab.ModelOptions({'semantic': 3}, **TINY).checked()
  assert runs.read_training(logdir)['num_classes'] == 3
  assert tf.train.latest_checkpoint(logdir).endswith('model.ckpt-4')
  events = [os.path.join(logdir, f) for f in os.listdir(logdir) if f.startswith('events.out.tfevents')]
  tags, losses = set(), []
  for path in events:
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        tags.add(value.tag)
        if value.tag == 'loss':
          losses.append((event.step, float(tf.make_ndarray(value.tensor))))
  assert {'loss', 'total_loss', 'learning_rate', 'image', 'label', 'prediction'} <= tags
  assert [step for step, _ in sorted(losses)] == [2, 4]
  assert sorted(losses)[-1][1] < np.log(3)  # below the loss of a uniform guess over 3 classes


def test_evaluate_gives_the_mean_iou_of_its_predictions_and_restores_every_variable_at_output_stride_8(trained):
  data, logdir = trained
  loaded = evaluation.load_segmenter(logdir, output_stride=8)
  assert loaded.note == ('output stride 8 (trained at 16): atrous rates 1, 2, 3 become 2, 4, 6 (the same '
                         'receptive field in pixels)')
  assert loaded.segmenter.model_options.atrous_rates == (2, 4, 6)
  assert not loaded.report.missing and len(loaded.report.restored) == len(loaded.segmenter.variables_by_name)
  kept = []
  result = evaluation.evaluate(loaded.segmenter, data, 'train', 3, add_flipped_images=True,
                               on_batch=lambda batch, predictions: kept.append((batch['label'].numpy(), predictions)))
  confusion = np.zeros([3, 3])
  for labels, predictions in kept:
    labels = labels[..., 0].ravel()
    keep = labels != 255
    np.add.at(confusion, (labels[keep], predictions.ravel()[keep]), 1)
  union = confusion.sum(0) + confusion.sum(1) - np.diag(confusion)
  expected = np.mean(np.diag(confusion)[union > 0] / union[union > 0])
  assert result.images == 6
  np.testing.assert_array_equal(result.confusion_matrix, confusion)
  assert result.mean_iou == pytest.approx(expected, abs=1e-12)


def test_evaluate_at_an_eval_crop_pads_batches_runs_the_model_at_that_crop_and_counts_no_padding(trained):
  data, logdir = trained
  segmenter = evaluation.load_segmenter(logdir).segmenter
  whole = evaluation.evaluate(segmenter, data, 'train', 3)
  kept = []
  result = evaluation.evaluate(segmenter, data, 'train', 3, eval_crop_size=(33, 33), batch_size=2,
                               on_batch=lambda batch, predictions: kept.append((batch['image'], predictions)))
  assert result.images == 6 and [images.shape for images, _ in kept] == [(2, 33, 33, 3)] * 3
  for images, predictions in kept:  # the model at the eval crop, as DeepLab's eval.py builds it
    np.testing.assert_array_equal(predictions, segmenter.predict(images, crop_size=(33, 33)))
  assert result.confusion_matrix.sum() == whole.confusion_matrix.sum()  # the labelled pixels, not the padding


def test_evaluate_command_prints_the_table_and_writes_the_confusion_matrix(trained, tmp_path, capsys):
  data, logdir = trained
  assert cli.main(['evaluate', '--checkpoint-dir', logdir, '--dataset-dir', data, '--eval-split', 'train',
                   '--eval-logdir', str(tmp_path), '--json', '--quiet']) == 0
  printed = json.loads(capsys.readouterr().out)
  with open(tmp_path / 'evaluation-4.json') as handle:
    written = json.load(handle)
  assert printed == written
  assert written['step'] == 4 and written['images'] == 6 and written['output_stride'] == 16
  assert np.array(written['confusion_matrix']).shape == (3, 3)


def test_visualize_writes_palette_pngs_whose_indices_are_the_predicted_labels(trained, tmp_path):
  data, logdir = trained
  loaded = evaluation.load_segmenter(logdir)
  assert cli.main(['visualize', '--checkpoint-dir', logdir, '--dataset-dir', data, '--vis-split', 'train',
                   '--vis-logdir', str(tmp_path), '--also-save-raw-predictions', '--max-number-of-images', '2',
                   '--quiet']) == 0
  results = tmp_path / 'segmentation_results'
  assert sorted(os.listdir(results))[:3] == ['im0_image.png', 'im0_overlay.png', 'im0_prediction.png']
  batch = next(iter(datasets.dataset(data, 'train', 1)))
  name = batch['image_name'].numpy()[0].decode()
  expected = loaded.segmenter.predict(batch['image']).numpy()[0]
  picture = Image.open(results / f'{name}_prediction.png')
  assert picture.mode == 'P'
  np.testing.assert_array_equal(np.asarray(picture), expected)
  assert picture.getpalette()[3:6] == [128, 0, 0]  # pascal's colour of class 1
  np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / 'raw_segmentation_results' / f'{name}.png')),
                                expected)


def test_a_run_of_other_model_options_is_not_resumed(trained):
  data, logdir = trained
  options = deeplab.ModelOptions({'semantic': 3}, **{**TINY, 'atrous_rates': (6, 12, 18)})
  with pytest.raises(ValueError, match=r'holds a run of other model options \(atrous_rates: \[1, 2, 3\] in the '
                                       r'run, \[6, 12, 18\] given\)'):
    training.train(options, training.TrainingOptions(train_logdir=logdir, dataset_dir=data, dataset=None,
                                                     train_crop_size=(33, 33), train_batch_size=2,
                                                     training_number_of_steps=5))


def test_predict_labels_refuses_eager_code_instead_of_predicting_with_fresh_weights():
  options = deeplab.ModelOptions({'semantic': 3}, **TINY)
  for function in (deeplab.predict_labels, deeplab.predict_labels_multi_scale):
    with pytest.raises(RuntimeError, match=r'Segmenter\(model_options\), restored, then \.predict\(images\)'):
      function(tf.zeros([1, 33, 33, 3]), options)


_RESUMPTION = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    from nets import deeplab
    from slimnets.segmentation import training
    from slimnets.weights import checkpoints
    data, root = sys.argv[1], sys.argv[2]
    model = deeplab.ModelOptions({'semantic': 3}, **%r)

    def options(logdir):
      return training.TrainingOptions(train_logdir=logdir, dataset_dir=data, dataset=None, train_crop_size=(33, 33),
                                      train_batch_size=2, training_number_of_steps=6, base_learning_rate=0.01,
                                      save_interval_steps=2, deterministic=True, seed=5, optimizer=sys.argv[3])

    def stop_after_step_2(line):
      if line.endswith('model.ckpt-2'):
        os.kill(os.getpid(), signal.SIGTERM)  # as a preempting scheduler does

    stopped = training.train(model, options(root + '/a'), log=stop_after_step_2)
    resumed = training.train(model, options(root + '/a'))
    straight = training.train(model, options(root + '/b'))
    a = checkpoints.read(root + '/a/model.ckpt-6')
    b = checkpoints.read(root + '/b/model.ckpt-6')
    differing = [k for k in a if not k.startswith('save_counter') and not np.array_equal(a[k], b[k])]
    print(stopped.stopped_by, stopped.step, resumed.started_at, resumed.step, len(a), differing)
''') % (TINY,)


@pytest.mark.parametrize('optimizer', training.OPTIMIZERS)
def test_a_run_stopped_by_sigterm_and_rerun_ends_with_the_variables_of_an_uninterrupted_run(trained, tmp_path,
                                                                                              optimizer):
  data, _ = trained
  process = subprocess.run([sys.executable, '-c', _RESUMPTION, data, str(tmp_path), optimizer], capture_output=True,
                           text=True, cwd=REPOSITORY, timeout=600)
  assert process.returncode == 0, process.stderr[-3000:]
  stopped_by, stopped_at, started_at, step, count, differing = process.stdout.split(maxsplit=5)
  # SIGTERM after step 2's checkpoint: step 3 ends, is saved, the rerun starts there
  assert (stopped_by, stopped_at, started_at, step) == ('SIGTERM', '3', '3', '6')
  assert int(count) > 500 and differing.strip() == '[]'  # model, optimizer slots and step, bit for bit


def test_a_non_finite_loss_stops_the_run_keeping_the_last_good_checkpoint(trained, tmp_path):
  data, _ = trained
  logdir = str(tmp_path / 'run')
  options = training.TrainingOptions(train_logdir=logdir, dataset_dir=data, dataset=None, train_crop_size=(33, 33),
                                     train_batch_size=2, training_number_of_steps=20, base_learning_rate=1e30,
                                     save_interval_steps=1)
  with pytest.raises(training.NonFiniteLossError) as raised:
    training.train(deeplab.ModelOptions({'semantic': 3}, **TINY), options)
  step = int(str(raised.value).split(' at step ')[1].split(':')[0])
  assert f'training stopped without saving; the last good checkpoint is {logdir}/model.ckpt-{step - 1}' in str(
      raised.value)
  assert tf.train.latest_checkpoint(logdir) == f'{logdir}/model.ckpt-{step - 1}'


def test_build_dataset_command_exits_1_naming_the_bad_mask(tmp_path, capsys):
  images, labels, _ = _folder(str(tmp_path))
  Image.fromarray(np.full((21, 30), 9, np.uint8)).save(os.path.join(labels, 'im1.png'))
  assert cli.main(['build-dataset', images, labels, '--output', str(tmp_path / 'data'), '--split', 'train',
                   '--num-classes', '3', '--quiet']) == 1
  assert capsys.readouterr().err.strip().endswith(
      'im1.png: values must be in [0, 3) or the ignore label 255, got [9]')
  assert not os.path.exists(tmp_path / 'data') or os.listdir(tmp_path / 'data') == []


def test_export_takes_the_model_of_a_run_folder_and_refuses_flags_that_contradict_it(trained, tmp_path, capsys):
  from slimnets.cli import usage  # pylint: disable=import-outside-toplevel
  data, logdir = trained
  assert usage.RUN_MODEL_OPTIONS == runs.MODEL_OPTIONS_FILE
  with pytest.raises(SystemExit) as usage_error:
    cli.main(['export', '--checkpoint', logdir, '--output', str(tmp_path / 'a'), '--atrous-rates', '6,12,18'])
  assert usage_error.value.code == 2
  assert 'is a training run of its own model' in capsys.readouterr().err
  assert cli.main(['export', '--checkpoint', logdir, '--output', str(tmp_path / 'served'), '--output-stride', '8',
                   '--quiet']) == 0
  printed = capsys.readouterr()
  assert 'output stride 8 (trained at 16): atrous rates 1, 2, 3 become 2, 4, 6' in printed.err
  served = tf.saved_model.load(str(tmp_path / 'served'))
  batch = next(iter(datasets.dataset(data, 'train', 1)))
  expected = evaluation.load_segmenter(logdir, output_stride=8).segmenter.predict(batch['image']).numpy()
  labels = served.signatures['serving_default'](images=batch['image'])['labels'].numpy()
  assert np.mean(labels == expected) > 0.99  # batch norm folded: float rounding may flip a tie


def test_describe_takes_the_model_of_a_run_folder(trained, capsys):
  from slimnets.analysis import describe  # pylint: disable=import-outside-toplevel
  _, logdir = trained
  assert cli.main(['describe', logdir, '--input-size', '65', '--json']) == 0
  described = json.loads(capsys.readouterr().out)
  expected = describe.describe_segmenter(runs.read_model_options(logdir), input_size=(65, 65))
  assert described == json.loads(json.dumps(expected)) and described['model_variant'] == 'mobilenet_v2'
  with pytest.raises(SystemExit) as exit_:
    cli.main(['describe', logdir, '--atrous-rates', '6,12,18'])
  assert exit_.value.code == 2
  assert 'is a training run of its own model' in capsys.readouterr().err


def test_evaluate_watch_evaluates_each_checkpoint_once_until_the_timeout(trained, capsys):
  data, logdir = trained
  assert cli.main(['evaluate', '--checkpoint-dir', logdir, '--dataset-dir', data, '--eval-split', 'train',
                   '--watch', '--watch-timeout', '1', '--json', '--quiet']) == 0
  lines = capsys.readouterr().out.strip().splitlines()
  assert [json.loads(line)['step'] for line in lines] == [4]


def test_several_replicas_in_each_worker_of_a_cluster_are_refused(trained, monkeypatch):
  data, _ = trained
  monkeypatch.setenv('TF_CONFIG', json.dumps({'cluster': {'worker': ['127.0.0.1:1', '127.0.0.1:2']},
                                              'task': {'type': 'worker', 'index': 0}}))
  options = training.TrainingOptions(train_logdir='unused', dataset_dir=data, dataset=None, train_crop_size=(33, 33),
                                     train_batch_size=2, training_number_of_steps=1, num_replicas=2)
  with pytest.raises(ValueError, match='num_replicas 2 with a TF_CONFIG cluster: each worker trains on all its '
                                       'GPUs, or its CPU'):
    training.train(deeplab.ModelOptions({'semantic': 3}, **TINY), options)


def _start_workers(logdir, data, steps):
  """Two `slimnets train` processes of one job (MultiWorkerMirroredStrategy, TF_CONFIG on 127.0.0.1)."""
  cluster = [f'127.0.0.1:{port}' for port in free_ports(2)]
  command = [sys.executable, '-c', 'import sys; from slimnets import cli; sys.exit(cli.main(sys.argv[1:]))',
             'train', '--train-logdir', logdir, '--dataset-dir', data, '--training-number-of-steps', str(steps),
             '--save-interval-steps', '2', '--synchronized-batch-norm', '--quiet', *TINY_FLAGS]
  command[command.index('--train-batch-size') + 1] = '4'  # 2 images a worker
  return [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPOSITORY,
                           env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', TF_CONFIG=json.dumps(
                               {'cluster': {'worker': cluster}, 'task': {'type': 'worker', 'index': task}})))
          for task in range(2)]


def test_a_two_worker_job_stopped_by_sigterm_to_one_worker_saves_and_resumes_when_restarted(trained, tmp_path):
  data, single = trained
  logdir = str(tmp_path / 'run')
  workers = _start_workers(logdir, data, 6)
  deadline = time.monotonic() + 300
  while not os.path.exists(os.path.join(logdir, 'model.ckpt-2.index')) and time.monotonic() < deadline:
    if any(worker.poll() is not None for worker in workers):
      break
    time.sleep(0.05)
  workers[1].send_signal(signal.SIGTERM)  # the second worker is preempted
  (chief_code, chief_out, chief_err), (code, out, err) = finish_processes(workers, 400)
  assert (chief_code, code) == (75, 143), chief_err[-2000:] + err[-2000:]
  chief_stop = re.fullmatch(r"stopped by another worker's signal at step (\d+): (\S+); the same command resumes",
                            chief_out.strip())
  worker_stop = re.fullmatch(r'stopped by SIGTERM at step (\d+): (\S+); the same command resumes', out.strip())
  assert chief_stop and worker_stop, (chief_out, out)
  stopped_at = int(chief_stop.group(1))
  # Both stopped after the same step, and its checkpoint (the chief's, in the run folder) is the run's.
  assert 2 <= stopped_at < 6 and int(worker_stop.group(1)) == stopped_at
  assert chief_stop.group(2) == worker_stop.group(2) == os.path.join(logdir, f'model.ckpt-{stopped_at}')
  assert runs.latest_checkpoint(logdir) == os.path.join(logdir, f'model.ckpt-{stopped_at}')
  assert not os.path.exists(os.path.join(logdir, '.worker-1'))  # the other worker's copies are removed
  before = checkpoints.read(os.path.join(logdir, f'model.ckpt-{stopped_at}'))

  results = finish_processes(_start_workers(logdir, data, 6), 400)  # the job restarted
  for code, out, err in results:
    assert code == 0, err[-3000:]
    assert f'resuming {logdir} at step {stopped_at}' in err
    assert out.strip().startswith(f'trained {logdir} to step 6')
  final = checkpoints.read(os.path.join(logdir, 'model.ckpt-6'))
  # Model, optimizer slots and step: what a one-process run of the same model saves.
  assert sorted(final) == sorted(checkpoints.read(os.path.join(single, 'model.ckpt-4')))
  moved = [name for name in final if 'weights' in name and not np.array_equal(final[name], before[name])]
  assert len(moved) > 20  # the resumed job trained


def test_update_batch_norm_statistics_writes_a_checkpoint_of_new_statistics_and_the_same_weights(trained):
  _, logdir = trained
  trained_values = checkpoints.read(os.path.join(logdir, 'model.ckpt-4'))
  updated = checkpoints.read(os.path.join(logdir, 'model.ckpt-4-precise_bn'))
  moving = [name for name in updated if name.endswith(('moving_mean', 'moving_variance'))]
  weights = [name for name in updated if name not in moving]
  assert moving and weights and len(updated) == len(moving) + len(weights)
  assert all(np.array_equal(updated[name], trained_values[name]) for name in weights)
  assert sum(not np.allclose(updated[name], trained_values[name]) for name in moving) > len(moving) // 2
  assert tf.train.latest_checkpoint(logdir).endswith('model.ckpt-4')  # the run's own checkpoints are untouched


def test_colormaps_and_cityscapes_label_ids(tmp_path):
  assert visualization.colormap('pascal')[[0, 1, 2, 15]].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0],
                                                                      [192, 128, 128]]
  assert visualization.colormap('cityscapes')[[0, 18, 19]].tolist() == [[128, 64, 128], [119, 11, 32], [0, 0, 0]]
  assert visualization.colormap('ade20k')[[1, 150, 151]].tolist() == [[120, 120, 120], [92, 0, 255], [0, 0, 0]]
  with pytest.raises(ValueError, match="colormap must be one of pascal, cityscapes, ade20k, got 'voc'"):
    visualization.colormap('voc')
  labels = np.array([[0, 1], [18, 2]])
  visualization.write_prediction(str(tmp_path), 'frankfurt_000000', np.zeros([2, 2, 3]), labels, 'cityscapes',
                                 raw_dir=str(tmp_path / 'raw'), label_ids=np.array(visualization.CITYSCAPES_LABEL_IDS))
  raw = np.asarray(Image.open(tmp_path / 'raw' / 'frankfurt_000000.png'))
  assert raw.tolist() == [[7, 8], [33, 11]]  # road, sidewalk, bicycle, building: the benchmark's label ids
  palette = Image.open(tmp_path / 'frankfurt_000000_prediction.png')
  assert palette.mode == 'P' and np.asarray(palette).tolist() == labels.tolist()


def test_every_training_option_has_its_train_flag():
  from slimnets.cli import arguments  # pylint: disable=import-outside-toplevel
  args = arguments.build_parser().parse_args(['train', '--train-logdir', 'run', '--dataset-dir', 'data'])
  fields = [field.name for field in dataclasses.fields(training.TrainingOptions)]
  assert [name for name in fields if not hasattr(args, name)] == []
  defaults = training.TrainingOptions(train_logdir='run', dataset_dir='data')
  assert {name: getattr(args, name) for name in fields if name != 'dataset'} == {
      name: getattr(defaults, name) for name in fields if name != 'dataset'}  # train.py's defaults, both ways


@pytest.mark.parametrize('logits_only', [True, False])
def test_an_initial_deeplab_checkpoint_of_other_classes_restores_without_its_last_layers(tmp_path, logits_only):
  from slimnets import models  # pylint: disable=import-outside-toplevel
  trained = models.Segmenter(deeplab.ModelOptions({'semantic': 3}, **TINY)).build()
  path = trained.save(str(tmp_path / 'deeplab.ckpt'))
  segmenter = models.Segmenter(deeplab.ModelOptions({'semantic': 5}, **TINY)).build()
  options = training.TrainingOptions(train_logdir=str(tmp_path / 'run'), dataset_dir='unused', dataset=None,
                                     tf_initial_checkpoint=path, initialize_last_layer=False,
                                     last_layers_contain_logits_only=logits_only)
  report = training._initial_restore(segmenter, options)  # pylint: disable=protected-access
  heads = {name.split('/')[0] for name in report.skipped}
  assert heads == ({'logits'} if logits_only else {
      'logits', 'image_pooling', 'aspp0', 'aspp1_depthwise', 'aspp1_pointwise', 'aspp2_depthwise', 'aspp2_pointwise',
      'aspp3_depthwise', 'aspp3_pointwise', 'concat_projection', 'decoder'})
  assert all(name.startswith('MobilenetV2/') or logits_only for name in report.restored)
  assert len(report.restored) + len(report.skipped) == len(segmenter.variables_by_name)
