"""slimnets.deploy.extract and `slimnets extract`: features of an image folder; skipping, resuming, not overwriting."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from slimnets import cli
from slimnets import folders
from slimnets.deploy import extract
from slimnets.deploy import inference
from slimnets.weights import preprocessing
from slimnets import models

pytestmark = pytest.mark.eager  # Backbone, Predictor, export and extract run eagerly

THIN = {'depth_multiplier': 0.125}
GOOD = ['a.jpg', 'b.png', 'c.JPEG', 'grey.png', 'sub/d.jpg', 'sub/e.png']
SIZE = (40, 48)


@pytest.fixture(scope='module')
def folder(tmp_path_factory):
  """Six small images (JPEG and PNG, one grey, one in a subfolder), a corrupt JPEG, a truncated PNG, a text file."""
  root = tmp_path_factory.mktemp('images')
  rng = np.random.RandomState(0)
  (root / 'sub').mkdir()
  for i, name in enumerate(GOOD):
    image = rng.randint(0, 256, [30 + 3 * i, 37, 1 if name.startswith('grey') else 3]).astype(np.uint8)
    encode = tf.io.encode_png if name.lower().endswith('.png') else tf.io.encode_jpeg
    (root / name).write_bytes(encode(image).numpy())
  (root / 'broken.jpg').write_bytes(b'\xff\xd8\xff\xe0 this is not a JPEG')
  (root / 'cut.png').write_bytes((root / 'b.png').read_bytes()[:60])
  (root / 'notes.txt').write_text('not an image')
  return str(root)


@pytest.fixture(scope='module')
def backbone():
  return models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN).build()


def _run(backbone, folder, output, **kwargs):
  skipped = []
  kwargs = {'levels': ('C4',), 'pooled': True, 'input_size': SIZE, 'batch_size': 4, 'progress': False,
            'on_skip': lambda path, reason: skipped.append(path), **kwargs}
  return extract.extract(backbone, folder, str(output), **kwargs), skipped


def _expected(backbone, folder, name):
  """The features of one image, computed without extract: decode, the network's preprocessing, Predictor."""
  image = tf.io.decode_image(tf.io.read_file(os.path.join(folder, name)), channels=3, expand_animations=False)
  image = preprocessing.get_preprocessing('resnet_v1_50')(image, *SIZE)
  return inference.Predictor(backbone, levels=('C4',), pooled=True)(image[tf.newaxis])


def test_list_images_finds_jpeg_and_png_at_any_depth(folder):
  assert folders.list_images(folder) == sorted(GOOD + ['broken.jpg', 'cut.png'])
  with pytest.raises(NotADirectoryError, match=r'is not a directory'):
    folders.list_images(os.path.join(folder, 'a.jpg'))


def test_one_npz_with_paths_and_features_skipping_unreadable_files(backbone, folder, tmp_path):
  output = tmp_path / 'features.npz'
  mask = os.umask(0o027)
  try:
    report, skipped = _run(backbone, folder, output)
  finally:
    os.umask(mask)
  assert oct(os.stat(output).st_mode & 0o777) == oct(0o640)  # as a plain open() under umask 027, not 0600
  assert skipped == ['broken.jpg', 'cut.png'] and [p for p, _ in report.skipped] == skipped
  assert report.skipped[0][1] == 'jpeg::Uncompress failed. Invalid JPEG data or crop window.'
  assert (report.written, report.resumed) == (6, 0)
  with np.load(output) as arrays:
    assert sorted(arrays) == ['C4', 'paths', 'pooled']
    assert list(arrays['paths']) == sorted(GOOD)
    assert arrays['C4'].shape == (6, 3, 3, 128) and arrays['pooled'].shape == (6, 256)
    expected = _expected(backbone, folder, 'sub/d.jpg')
    row = list(arrays['paths']).index('sub/d.jpg')
    # A batch of 4 and a batch of 1 may run different kernels, so compare at float32's precision of the scale.
    for key in ('C4', 'pooled'):
      scale = np.abs(expected[key][0]).max()
      np.testing.assert_allclose(arrays[key][row], expected[key][0], rtol=1e-4, atol=1e-5 * scale)
  assert sorted(os.listdir(tmp_path)) == ['features.npz']  # no partial folder or temporary file left


def test_one_file_per_image_in_a_directory(backbone, folder, tmp_path):
  output = tmp_path / 'features'
  report, _ = _run(backbone, folder, output, levels=(), pooled=False)
  assert report.written == 6
  written = sorted(os.path.relpath(os.path.join(root, n), output) for root, _, files in os.walk(output) for n in files)
  assert written == sorted([name + '.npz' for name in GOOD] + [extract.STATE_FILE])
  with np.load(output / 'grey.png.npz') as arrays:
    assert sorted(arrays) == ['pooled'] and arrays['pooled'].shape == (256,)  # pooled is the default
  settings = json.loads((output / extract.STATE_FILE).read_text())
  assert settings['network'] == 'resnet_v1_50' and settings['keys'] == ['pooled'] and settings['input_size'] == [40, 48]


class _Interrupt(Exception):
  pass


def _interrupting_after(monkeypatch, calls):
  """Makes Predictor calls after the first `calls` (the first one traces) raise, as a killed run would stop."""
  original = inference.Predictor.__call__
  count = []

  def call(self, images):
    count.append(1)
    if len(count) > calls:
      raise _Interrupt()
    return original(self, images)

  monkeypatch.setattr(inference.Predictor, '__call__', call)


@pytest.mark.parametrize('name', ['features.npz', 'features'])
def test_an_interrupted_run_resumes_without_redoing_finished_images(backbone, folder, tmp_path, monkeypatch, name):
  output = tmp_path / name
  with monkeypatch.context() as patch:
    _interrupting_after(patch, 2)  # the trace, then one batch of 4
    with pytest.raises(_Interrupt):
      _run(backbone, folder, output, batch_size=4)
  assert not output.with_suffix('.npz').exists() or output.is_dir()  # the single file is not assembled yet
  report, skipped = _run(backbone, folder, output, batch_size=4)
  assert (report.resumed, report.written) == (4, 2) and skipped == ['broken.jpg', 'cut.png']
  fresh, _ = _run(backbone, folder, tmp_path / ('fresh-' + name), batch_size=4)
  assert fresh.written == 6
  if name.endswith('.npz'):
    with np.load(output) as resumed, np.load(tmp_path / ('fresh-' + name)) as clean:
      assert list(resumed['paths']) == list(clean['paths']) == sorted(GOOD)
      np.testing.assert_allclose(resumed['pooled'], clean['pooled'], rtol=1e-5, atol=1e-6)
    assert not os.path.exists(str(output) + '.partial')
  again, _ = _run(backbone, folder, output if output.is_dir() else tmp_path / 'third.npz')
  assert again.written == (0 if output.is_dir() else 6)  # a finished directory run has nothing left to do
  leftovers = [n for _, folders, files in os.walk(tmp_path) for n in files + folders if '.partial-' in n]
  assert leftovers == []


def test_existing_outputs_are_not_overwritten(backbone, folder, tmp_path):
  single = tmp_path / 'features.npz'
  single.write_bytes(b'keep me')
  with pytest.raises(FileExistsError, match=r"features.npz' already exists; pass --overwrite to replace it"):
    _run(backbone, folder, single)
  assert single.read_bytes() == b'keep me'
  _run(backbone, folder, single, overwrite=True)
  with np.load(single) as arrays:
    assert len(arrays['paths']) == 6

  directory = tmp_path / 'features'
  _run(backbone, folder, directory)
  before = (directory / 'a.jpg.npz').stat().st_mtime_ns
  with pytest.raises(FileExistsError, match=r'holds an extraction with other settings; pass --overwrite'):
    _run(backbone, folder, directory, levels=('C5',))
  assert (directory / 'a.jpg.npz').stat().st_mtime_ns == before
  report, _ = _run(backbone, folder, directory, levels=('C5',), overwrite=True)
  assert report.written == 6
  with np.load(directory / 'a.jpg.npz') as arrays:
    assert sorted(arrays) == ['C5', 'pooled']

  foreign = tmp_path / 'photos'
  foreign.mkdir()
  (foreign / 'holiday.jpg').write_bytes(b'x')
  for overwrite in (False, True):
    with pytest.raises(FileExistsError, match=r'is not a slimnets extract output; choose another output'):
      _run(backbone, folder, foreign, overwrite=overwrite)
  assert os.listdir(foreign) == ['holiday.jpg']


def test_bad_arguments_fail_before_writing_anything(backbone, folder, tmp_path):
  output = tmp_path / 'out.npz'
  with pytest.raises(ValueError, match=r'has no feature level C7'):
    _run(backbone, folder, output, levels=('C7',))
  with pytest.raises(ValueError, match=r'batch_size must be a positive int, got 0'):
    _run(backbone, folder, output, batch_size=0)
  with pytest.raises(ValueError, match=r"has no .jpg, .jpeg, .png files"):
    _run(backbone, str(tmp_path), output)
  assert os.listdir(tmp_path) == []


def test_cli_extract_exit_codes_and_messages(folder, tmp_path, capfd):
  capsys = capfd  # stderr at the file descriptor: the native decoders' own lines would show here
  output = tmp_path / 'features.npz'
  argv = ['extract', '--network', 'resnet_v1_50', '--images', folder, '--output', str(output), '--input-size', '33',
          '--batch', '4', '--features', 'C5', '--quiet']
  assert cli.main(argv) == 0
  captured = capsys.readouterr()
  assert captured.out.strip() == f'extracted 6 images, skipped 2 unreadable, float32: {output}'
  warned = captured.err.splitlines()  # every line is ours: none of the decoders' 'Premature end of JPEG data'
  assert warned[0] == 'slimnets: warning: no --checkpoint given: the network has random weights'
  assert warned[1] == 'slimnets: warning: skipped broken.jpg: jpeg::Uncompress failed. Invalid JPEG data or crop window.'
  assert warned[2].startswith('slimnets: warning: skipped cut.png: ') and len(warned) == 3
  with np.load(output) as arrays:
    assert arrays['C5'].shape == (6, 2, 2, 2048)
  with pytest.raises(SystemExit) as exit_info:  # a usage error (as export's), found before TensorFlow loads
    cli.main(argv)
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == (f"slimnets extract: error: output '{output}' already exists; pass --overwrite "
                                     'to replace it (see --help)\n')
  with pytest.raises(SystemExit) as exit_info:
    cli.main(argv + ['--pooled'])
  assert exit_info.value.code == 2
  assert 'argument --pooled: not allowed with argument --features' in capsys.readouterr().err


@pytest.mark.parametrize('calls, kept', [
    (1, 'no image was finished; nothing half-written is left'),  # interrupted after the trace
    (2, 'the 4 finished images are kept; the same command resumes with the rest (--overwrite starts afresh)'),
])
def test_cli_interrupted_extract_says_in_one_line_what_was_kept(folder, tmp_path, capsys, monkeypatch, calls, kept):
  original = inference.Predictor.__call__
  count = []

  def call(self, images):
    count.append(1)
    if len(count) > calls:
      raise KeyboardInterrupt
    return original(self, images)

  monkeypatch.setattr(inference.Predictor, '__call__', call)
  argv = ['extract', '--network', 'resnet_v1_50', '--images', folder, '--output', str(tmp_path / 'f.npz'),
          '--input-size', '33', '--batch', '4']
  assert cli.main(argv) == 130
  err = capsys.readouterr().err.strip().splitlines()
  assert err[-1] == f'slimnets: interrupted; {kept}'
  assert 'Traceback' not in '\n'.join(err)
