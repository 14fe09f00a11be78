"""slimnets.weights.checkpoints: restore with a report, exact channel and class adaptation, safe writing, the CLI."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_v1
from slimnets.weights import checkpoints
from slimnets import cli
from tests.conftest import randomize_variables


def _build(in_channels=3, num_classes=None, size=33):
  """A thin resnet_v1_50 (real names, depth 1/8) in the default graph; returns (images, output)."""
  images = tf.compat.v1.placeholder(tf.float32, [2, size, size, in_channels])
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    net, _ = resnet_v1.resnet_v1_50(images, num_classes, is_training=False, depth_multiplier=0.125,
                                    global_pool=num_classes is not None)
  return images, net


def _save_random_network(path, in_channels=3, num_classes=None):
  with tf.Graph().as_default():
    _build(in_channels, num_classes)
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      return tf.compat.v1.train.Saver().save(sess, path)


def _run(checkpoint, feed, in_channels=3, num_classes=None, **restore_kwargs):
  with tf.Graph().as_default():
    images, net = _build(in_channels, num_classes)
    report = checkpoints.restore(checkpoint, **restore_kwargs)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return sess.run(net, {images: feed}), report


@pytest.fixture(scope='module')
def rgb_checkpoint(tmp_path_factory):
  return _save_random_network(str(tmp_path_factory.mktemp('rgb') / 'model.ckpt'), num_classes=1001)


def _images(channels, seed=1):
  return np.random.RandomState(seed).uniform(0, 1, [2, 33, 33, channels]).astype(np.float32)


def test_restore_reports_and_reproduces(rgb_checkpoint):
  x = _images(3)
  first, report = _run(rgb_checkpoint, x, num_classes=1001)
  again, _ = _run(os.path.dirname(rgb_checkpoint), x, num_classes=1001)  # a directory resolves too
  np.testing.assert_array_equal(first, again)
  assert len(report.restored) == 265 + 2 and not (report.skipped or report.missing or report.mismatched)
  assert report.summary() == '267 restored, 0 skipped, 0 missing, 0 shape-mismatched, 0 unused in the checkpoint'
  assert str(report) == report.summary() and repr(report) == f'<RestoreReport: {report.summary()}>'


def test_mismatch_is_an_error_unless_allowed(rgb_checkpoint):
  with tf.Graph().as_default():
    _build(in_channels=4, num_classes=1001)
    with pytest.raises(ValueError, match=r'1 variables have other shapes in checkpoint .*resnet_v1_50/conv1/weights: '
                                         r'model \[7, 7, 4, 64\], checkpoint \[7, 7, 3, 64\]\. Adapt the checkpoint'):
      checkpoints.restore(rgb_checkpoint)
    report = checkpoints.restore(rgb_checkpoint, allow_mismatch=True, exclude=['*/logits'])
  assert report.mismatched == {'resnet_v1_50/conv1/weights': ((7, 7, 4, 64), (7, 7, 3, 64))}
  assert report.skipped == ['resnet_v1_50/logits/weights', 'resnet_v1_50/logits/biases']


def test_checkpoint_of_another_network(rgb_checkpoint):
  with tf.Graph().as_default():
    with tf.compat.v1.variable_scope('InceptionV3'):
      tf.compat.v1.get_variable('Conv2d_1a_3x3/weights', [3, 3, 3, 32])
    with pytest.raises(ValueError, match=r'holds none of the 1 model variables \(it holds 267 others, e\.g\. '
                                         r"'resnet_v1_50/block1/unit_1/bottleneck_v1/conv1/BatchNorm/beta'\): is it "
                                         r'for another network or scope\?'):
      checkpoints.restore(rgb_checkpoint)


def test_missing_truncated_and_foreign_files(tmp_path, rgb_checkpoint):
  with pytest.raises(ValueError, match=r"checkpoint '.*nothing' not found: no such file, and no nothing\.index"):
    checkpoints.read(str(tmp_path / 'nothing'))
  text = tmp_path / 'notes.ckpt'
  text.write_text('not a checkpoint')
  with pytest.raises(ValueError, match=r'is not a readable TensorFlow checkpoint \(truncated or another kind of '
                                       r'file\?\)'):
    checkpoints.read(str(text))
  truncated = tmp_path / 'cut'
  with open(rgb_checkpoint + '.index', 'rb') as f:
    (tmp_path / 'cut.index').write_bytes(f.read())
  data = [n for n in os.listdir(os.path.dirname(rgb_checkpoint)) if '.data-' in n][0]
  with open(os.path.join(os.path.dirname(rgb_checkpoint), data), 'rb') as f:
    (tmp_path / ('cut' + data[data.index('.data-'):])).write_bytes(f.read()[:1000])
  with pytest.raises(ValueError, match=r'is not a readable TensorFlow checkpoint'):
    checkpoints.read(str(truncated))


@pytest.mark.parametrize('mode,channels', [('repeat', 6), ('repeat', 4), ('sum', 1), ('zeros', 4)])
def test_channel_modes_are_exact(tmp_path, rgb_checkpoint, mode, channels):
  adapted = checkpoints.adapt(checkpoints.read(rgb_checkpoint), 'resnet_v1_50', in_channels=channels,
                              channel_mode=mode)
  path = checkpoints.write(adapted, str(tmp_path / 'adapted'))
  assert adapted['resnet_v1_50/conv1/weights'].shape == (7, 7, channels, 64)
  x = _images(3)
  if mode == 'repeat':  # the RGB image repeated over the channels (6: twice; 4: RGB then R)
    feed, rgb_feed = x[..., [c % 3 for c in range(channels)]], x
    if channels % 3:
      rgb_feed = None  # no exact RGB counterpart; checked against numpy below
  elif mode == 'sum':
    feed, rgb_feed = x[..., :1], np.repeat(x[..., :1], 3, axis=-1)
  else:
    feed, rgb_feed = np.concatenate([x, _images(1, seed=7)], axis=-1), x
  out, report = _run(path, feed, in_channels=channels, num_classes=1001)
  assert not report.mismatched and not report.missing
  if rgb_feed is not None:
    expected, _ = _run(rgb_checkpoint, rgb_feed, num_classes=1001)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
  kernel = checkpoints.read(rgb_checkpoint)['resnet_v1_50/conv1/weights']
  if mode == 'repeat' and channels == 4:
    np.testing.assert_allclose(adapted['resnet_v1_50/conv1/weights'][:, :, 3], kernel[:, :, 0] * 0.75)


def test_label_offset_drops_the_background_class(tmp_path, rgb_checkpoint):
  adapted = checkpoints.adapt(checkpoints.read(rgb_checkpoint), 'resnet_v1_50', num_classes=1000, label_offset=1)
  path = checkpoints.write(adapted, str(tmp_path / 'offset'))
  x = _images(3)
  out, _ = _run(path, x, num_classes=1000)
  expected, _ = _run(rgb_checkpoint, x, num_classes=1001)
  np.testing.assert_allclose(out, expected[:, 1:], rtol=1e-5, atol=1e-6)


def test_other_classes_leave_the_logits_to_their_initializers(tmp_path, rgb_checkpoint):
  values = checkpoints.read(rgb_checkpoint)
  adapted = checkpoints.adapt(values, 'resnet_v1_50', num_classes=5)
  assert sorted(set(values) - set(adapted)) == ['resnet_v1_50/logits/biases', 'resnet_v1_50/logits/weights']
  _, report = _run(checkpoints.write(adapted, str(tmp_path / 'five')), _images(3), num_classes=5)
  assert report.missing == ['resnet_v1_50/logits/weights', 'resnet_v1_50/logits/biases']
  with pytest.raises(ValueError, match=r'label_offset=1 with num_classes=5 needs a head of 6 classes, but '
                                       r'resnet_v1_50/logits/weights has 1001'):
    checkpoints.adapt(values, 'resnet_v1_50', num_classes=5, label_offset=1)


@pytest.mark.parametrize('kwargs,message', [
    ({'in_channels': 4, 'channel_mode': 'sum'}, r"channel_mode 'sum' makes a 1-channel \(gray\) kernel, got "
                                                r'in_channels=4'),
    ({'in_channels': 2, 'channel_mode': 'zeros'}, r"channel_mode 'zeros' keeps the 3 RGB channels .* in_channels "
                                                  r'must be >= 3, got 2'),
    ({'in_channels': 4, 'channel_mode': 'tile'}, r"channel_mode must be one of \('repeat', 'sum', 'zeros'\), got "
                                                 r"'tile'"),
    ({'label_offset': 2}, r'label_offset must be 0 or 1, got 2'),
    ({'num_classes': -1}, r'num_classes must be None or an int >= 0, got -1'),
])
def test_adapt_bad_arguments(kwargs, message):
  values = {'resnet_v1_50/conv1/weights': np.zeros([7, 7, 3, 64], np.float32)}
  with pytest.raises(ValueError, match=message):
    checkpoints.adapt(values, 'resnet_v1_50', **kwargs)


def test_write_is_all_or_nothing(tmp_path, monkeypatch):
  values = {'a': np.arange(3, dtype=np.float32)}
  target = str(tmp_path / 'out' / 'model')
  checkpoints.write(values, target)
  with pytest.raises(FileExistsError, match=r"output '.*model' already exists; pass --overwrite"):
    checkpoints.write(values, target)

  def broken(prefix, values):
    raise OSError('disk full (simulated)')

  monkeypatch.setattr(checkpoints, '_read_back', broken)
  with pytest.raises(OSError, match='simulated'):
    checkpoints.write({'b': np.ones(2, np.float32)}, str(tmp_path / 'out' / 'other'))
  assert sorted(os.listdir(tmp_path / 'out')) == ['model.data-00000-of-00001', 'model.index']
  np.testing.assert_array_equal(checkpoints.read(target)['a'], values['a'])


def test_cli_adapt_checkpoint(tmp_path, capsys, rgb_checkpoint):
  output = str(tmp_path / 'gray')
  argv = ['adapt-checkpoint', '--network', 'resnet_v1_50', '--input', rgb_checkpoint, '--output', output,
          '--in-channels', '1', '--channel-mode', 'sum', '--num-classes', '1000', '--label-offset', '1']
  assert cli.main(argv) == 0
  assert capsys.readouterr().out == f'wrote {output}: 267 variables (3 reshaped, 0 dropped)\n'
  assert checkpoints.shapes(output)['resnet_v1_50/logits/weights'] == (1, 1, 256, 1000)
  with pytest.raises(SystemExit) as exit_info:  # a usage error, found before TensorFlow loads
    cli.main(argv)
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (f"slimnets adapt-checkpoint: error: output '{output}' already exists; pass "
                                     '--overwrite to replace it (see --help)\n')
  assert cli.main(argv + ['--overwrite']) == 0


def test_first_conv_and_class_variables_are_found_by_building():
  assert checkpoints.input_variables('inception_v3') == ('InceptionV3/Conv2d_1a_3x3/weights',)
  assert checkpoints.class_variables('inception_v3') == (
      'InceptionV3/AuxLogits/Conv2d_2b_1x1/weights', 'InceptionV3/AuxLogits/Conv2d_2b_1x1/biases',
      'InceptionV3/Logits/Conv2d_1c_1x1/weights', 'InceptionV3/Logits/Conv2d_1c_1x1/biases')
  assert checkpoints.input_variables('resnet_v2_50') == ('resnet_v2_50/conv1/weights',)


def test_restore_into_a_dense_build_at_another_size(rgb_checkpoint):
  with tf.Graph().as_default():
    images = tf.compat.v1.placeholder(tf.float32, [1, 65, 97, 3])
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, _ = resnet_v1.resnet_v1_50(images, None, is_training=False, depth_multiplier=0.125, global_pool=False,
                                      output_stride=8, multi_grid=(1, 2, 4))
    report = checkpoints.restore(rgb_checkpoint)
    assert len(report.restored) == 265 and report.unused == ['resnet_v1_50/logits/biases',
                                                              'resnet_v1_50/logits/weights']
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      conv1 = sess.run(tf.compat.v1.global_variables()[0])
  np.testing.assert_array_equal(conv1, checkpoints.read(rgb_checkpoint)['resnet_v1_50/conv1/weights'])


def test_a_features_only_build_leaves_out_the_checkpoints_head_with_one_line(rgb_checkpoint):
  with tf.Graph().as_default():
    _build()
    report = checkpoints.restore(rgb_checkpoint)
  assert report.head == ['resnet_v1_50/logits/biases', 'resnet_v1_50/logits/weights'] and not report.unbuilt
  assert report.head_line() == ("left out the checkpoint's classification head (resnet_v1_50/logits: 2 "
                                'variables): the model is built without classes')
  assert 'unused in the checkpoint (2 of a classification head the model is built without)' in report.summary()


def _has_checkpoint_initializers() -> bool:
  return any('checkpoint_initializer' in op.name for op in tf.compat.v1.get_default_graph().get_operations())


def test_checkpoint_variables_the_model_does_not_build_are_an_error(tmp_path, rgb_checkpoint):
  values = checkpoints.read(rgb_checkpoint)
  extra = {**values, 'resnet_v1_50/block5/conv/weights': np.ones([1, 1, 8, 8], np.float32),
           'resnet_v1_50/block5/conv/BatchNorm/beta': np.ones([8], np.float32),
           'resnet_v1_50/conv1/weights/Momentum': values['resnet_v1_50/conv1/weights'],  # a slot: not an error
           'global_step': np.array(7, np.int64)}  # outside the model's scope: not an error
  path = checkpoints.write(extra, str(tmp_path / 'extra'))
  with tf.Graph().as_default():
    _build(num_classes=1001)
    with pytest.raises(checkpoints.RestoreError, match=(
        r"checkpoint '.*extra' holds 2 variables under the model's scopes that the model does not build "
        r'\(resnet_v1_50/block5: 2 variables\): the model is built with other options than the checkpoint was '
        r'trained with .*\. Build the model the checkpoint was trained as, exclude them, or pass allow_unused=True')):
      checkpoints.restore(path)
    assert not _has_checkpoint_initializers()  # nothing restored
    report = checkpoints.restore(path, allow_unused=True)
    assert report.unbuilt == ['resnet_v1_50/block5/conv/BatchNorm/beta', 'resnet_v1_50/block5/conv/weights']
    assert report.unused == ['global_step', 'resnet_v1_50/block5/conv/BatchNorm/beta',
                             'resnet_v1_50/block5/conv/weights', 'resnet_v1_50/conv1/weights/Momentum']
    assert len(report.restored) == 267 and not report.head
    assert not checkpoints.restore(path, exclude=['resnet_v1_50/block5']).unbuilt


def test_a_resnet_checkpoint_in_a_beta_network_is_named(rgb_checkpoint):
  from nets import resnet_v1_beta  # pylint: disable=import-outside-toplevel
  with tf.Graph().as_default():
    with slim.arg_scope(resnet_v1_beta.resnet_arg_scope()):
      resnet_v1_beta.resnet_v1_50_beta(tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3]), 1001,
                                       is_training=False, depth_multiplier=0.125)
    with pytest.raises(checkpoints.RestoreError, match=(
        r"2 variables have other shapes in checkpoint .* \(it looks like a resnet_v1_50 checkpoint: it holds "
        r"'resnet_v1_50/conv1/weights', the first convolution of that network, which this model does not have: the "
        r'stems differ\)\. Adapt the checkpoint')):
      checkpoints.restore(rgb_checkpoint)
