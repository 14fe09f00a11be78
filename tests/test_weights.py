"""slimnets.weights.fetch: fetching a published checkpoint from a local HTTP server, verified, never half-cached."""

import dataclasses
import functools
import hashlib
import io
import os
import re
import tarfile

import numpy as np
import pytest

from slimnets.weights import checkpoints
from slimnets import cli
from slimnets.analysis import dry_build
from slimnets.weights import fetch
from tests.conftest import QuietHandler


def _archive(root, filename, network, values):
  """A .tar.gz like the published ones: `network.ckpt*` files in a folder."""
  folder = root / (filename + '-src')
  checkpoints.write(values, str(folder / (network + '.ckpt')))
  with tarfile.open(root / filename, 'w:gz', compresslevel=1) as tar:
    for name in os.listdir(folder):
      tar.add(folder / name, arcname=name)
  return filename


@functools.lru_cache(maxsize=None)
def _zeros_of(network, num_classes):
  return {name: np.zeros(shape, np.float32)
          for name, (shape, _) in dry_build.build(network, num_classes=num_classes).variables.items()}


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
  root, url = server
  name = _archive(root, 'good.tar.gz', 'resnet_v1_50', _zeros_of('resnet_v1_50', 1000))
  cache = str(tmp_path / 'cache')
  path = fetch.fetch('resnet_v1_50', url=url + name, cache_dir=cache, progress=False)
  assert path == os.path.join(cache, 'resnet_v1_50', 'resnet_v1_50.ckpt')
  assert fetch.verify('resnet_v1_50', path) == 267
  assert sorted(os.listdir(cache)) == ['resnet_v1_50']
  before = len(QuietHandler.requests)
  assert fetch.fetch('resnet_v1_50', url=url + name, cache_dir=cache, progress=False) == path
  assert len(QuietHandler.requests) == before  # cached: no second download


def test_wrong_checkpoint_is_not_cached(server, tmp_path):
  root, url = server
  values = dict(list(_zeros_of('resnet_v1_50', 1000).items())[:10])
  name = _archive(root, 'partial.tar.gz', 'resnet_v1_50', values)
  cache = tmp_path / 'cache'
  with pytest.raises(ValueError, match=r"is not a checkpoint of resnet_v1_50 with 1000 classes: 257 variables missing"):
    fetch.fetch('resnet_v1_50', url=url + name, cache_dir=str(cache), progress=False)
  assert os.listdir(cache) == []


def test_truncated_archive_and_missing_file(server, tmp_path):
  root, url = server
  name = _archive(root, 'whole.tar.gz', 'inception_v3', {'x': np.zeros(1000, np.float32)})
  (root / 'cut.tar.gz').write_bytes((root / name).read_bytes()[:200])
  cache = tmp_path / 'cache'
  (root / 'noise.tar.gz').write_bytes(np.random.RandomState(0).bytes(5000))
  for broken in ('cut.tar.gz', 'noise.tar.gz'):
    with pytest.raises(ValueError) as error:
      fetch.fetch('inception_v3', url=url + broken, cache_dir=str(cache), progress=False)
    # one line (tarfile's own message lists four failed methods on four lines)
    assert re.fullmatch(r'the downloaded archive is not a readable \.tar\.gz \([^\n]+\): truncated, or not the '
                        r'published file', str(error.value)), str(error.value)
  with pytest.raises(OSError, match=r'cannot download http://127\.0\.0\.1:\d+/absent\.tar\.gz: HTTP 404 File not found'):
    fetch.fetch('inception_v3', url=url + 'absent.tar.gz', cache_dir=str(cache), progress=False)
  assert os.listdir(cache) == []


def test_networks_without_published_weights():
  with pytest.raises(ValueError, match=r'resnet_v2_200 has no published TF-Slim checkpoint; networks with one: '
                                       r'inception_v3, resnet_v1_50'):
    fetch.fetch('resnet_v2_200')
  assert fetch.PUBLISHED['resnet_v2_50'].url == (
      'https://download.tensorflow.org/models/resnet_v2_50_2017_04_14.tar.gz')
  with pytest.raises(ValueError, match=r'mobilenet_edgetpu: its published checkpoints \(https://storage.googleapis'
                                       r'.com/mobilenet_edgetpu/checkpoints/\) are not declared here yet: download '
                                       r'one and restore it by name; networks fetch-weights knows: inception_v3, '):
    fetch.fetch('mobilenet_edgetpu')
  assert fetch.PUBLISHED['mobilenet_v3_large'].url == (
      'https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-large_224_1.0_float.tgz')


def test_a_mobilenet_v3_archive_gives_its_ema_checkpoint_not_the_pristine_one(server, tmp_path):
  root, url = server
  values = _zeros_of('mobilenet_v3_small', 1001)
  source = tmp_path / 'v3-small_224_1.0_float'
  checkpoints.write(values, str(source / 'ema' / 'model-388500'))
  checkpoints.write({name: value + 1 for name, value in values.items()}, str(source / 'pristine' / 'model-388500'))
  with tarfile.open(root / 'v3.tgz', 'w:gz', compresslevel=1) as tar:
    tar.add(source, arcname=source.name)
  cache = str(tmp_path / 'cache')
  path = fetch.fetch('mobilenet_v3_small', url=url + 'v3.tgz', cache_dir=cache, progress=False)
  assert path == os.path.join(cache, 'mobilenet_v3_small', 'model-388500')
  fetched = checkpoints.read(path)
  assert all(not fetched[name].any() for name in values)  # the ema values (zeros), not the pristine ones


def test_cli_fetch_weights(server, tmp_path, capsys):
  root, url = server
  name = _archive(root, 'cli.tar.gz', 'resnet_v1_50', _zeros_of('resnet_v1_50', 1000))
  cache = str(tmp_path / 'c')
  assert cli.main(['fetch-weights', 'resnet_v1_50', '--url', url + name, '--cache-dir', cache, '--quiet']) == 0
  assert capsys.readouterr().out == os.path.join(cache, 'resnet_v1_50', 'resnet_v1_50.ckpt') + '\n'
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['fetch-weights', 'resnet_v1_200', '--cache-dir', cache])
  assert exit_info.value.code == 2
  assert capsys.readouterr().err.startswith('slimnets fetch-weights: error: resnet_v1_200 has no published TF-Slim '
                                            'checkpoint')


def _tar(path, files):
  """A .tar.gz at `path` of {member name: bytes}."""
  with tarfile.open(path, 'w:gz') as tar:
    for name, data in files.items():
      info = tarfile.TarInfo(name)
      info.size = len(data)
      tar.addfile(info, io.BytesIO(data))


def _unpinned(monkeypatch):
  """Lets fetch take the tests' own archives for networks whose published archive has a known checksum."""
  published = fetch._published
  monkeypatch.setattr(fetch, '_published',
                      lambda network: dataclasses.replace(published(network), size=None, digest=None))


@pytest.mark.parametrize('network, variables', [('mobilenet_v1_025', 137), ('mobilenet_v2_035', 262)])
def test_research_slim_mobilenet_archive_with_its_frozen_graph(server, tmp_path, monkeypatch, network, variables):
  root, url = server
  archive = fetch.PUBLISHED[network]
  _unpinned(monkeypatch)
  base = archive.checkpoint[:-len('.ckpt')]  # e.g. mobilenet_v2_0.35_224
  source = root / f'{network}-src'
  checkpoints.write(_zeros_of(network, 1001), str(source / archive.checkpoint))
  files = {name: (source / name).read_bytes() for name in os.listdir(source)}
  _tar(root / f'{base}.tgz', {**files, f'{base}_frozen.pb': b'graph', f'{base}.tflite': b'model'})
  cache = tmp_path / 'cache'
  path = fetch.fetch(network, url=f'{url}{base}.tgz', cache_dir=str(cache), progress=False)
  assert path == str(cache / network / archive.checkpoint)
  assert sorted(os.listdir(cache / network)) == sorted(files)  # the checkpoint's files only
  assert fetch.verify(network, path) == variables


def test_deeplab_archives_keep_model_ckpt_in_a_folder(tmp_path):
  _tar(tmp_path / 'deeplab.tar.gz', {'resnet_v1_50/model.ckpt.index': b'i', 'resnet_v1_50/checkpoint': b'c',
                                     'resnet_v1_50/model.ckpt.data-00000-of-00001': b'd',
                                     'resnet_v1_50/frozen_inference_graph.pb': b'g'})
  path = fetch._extract_checkpoint(str(tmp_path / 'deeplab.tar.gz'), 'model.ckpt', str(tmp_path / 'out'))
  assert path == str(tmp_path / 'out' / 'model.ckpt')
  assert sorted(os.listdir(tmp_path / 'out')) == ['model.ckpt.data-00000-of-00001', 'model.ckpt.index']
  _tar(tmp_path / 'two.tar.gz', {'a/model.ckpt.index': b'i', 'b/model.ckpt.index': b'i'})
  with pytest.raises(ValueError, match=r'should hold one checkpoint model\.ckpt, it holds in 2 folders \(a, b\)'):
    fetch._extract_checkpoint(str(tmp_path / 'two.tar.gz'), 'model.ckpt', str(tmp_path / 'out2'))


def test_published_archives_are_the_registry_declarations():
  assert fetch.PUBLISHED['resnet_v1_101_beta'].url == (
      'https://download.tensorflow.org/models/resnet_v1_101_2018_05_04.tar.gz')
  assert fetch.PUBLISHED['xception_65'].checkpoint == 'model.ckpt'
  assert fetch.PUBLISHED['mobilenet_v1'].url == (
      'https://download.tensorflow.org/models/mobilenet_v1_2018_08_02/mobilenet_v1_1.0_224.tgz')
  assert fetch.cached_path('xception_71', '/c') == '/c/xception_71/model.ckpt'
  assert fetch.PUBLISHED['mobilenet_v2_140'].url == (
      'https://storage.googleapis.com/mobilenet_v2/checkpoints/mobilenet_v2_1.4_224.tgz')
  assert fetch.cached_path('mobilenet_v2_035', '/c') == '/c/mobilenet_v2_035/mobilenet_v2_0.35_224.ckpt'


def test_published_sizes_and_checksums_are_declared():
  """Where public download manifests record an archive's size and checksum, the registry declares them."""
  assert fetch.PUBLISHED['mobilenet_v2'].size == 78306834
  assert fetch.PUBLISHED['mobilenet_v2'].digest == (
      'sha256:318084bc1b63d6d7b854553e09cdf77078b1c0168be27c59a0d44253b5ed49dc')
  assert fetch.PUBLISHED['inception_v2'].digest.startswith('sha384:c0b2efbae8fc')
  assert fetch.PUBLISHED['mobilenet_v2_035'].size is None  # the checksum alone is on record
  assert fetch.PUBLISHED['resnet_v1_50'].digest is None and fetch.PUBLISHED['resnet_v1_50'].size is None
  pinned = sorted(name for name, archive in fetch.PUBLISHED.items() if archive.digest)
  assert pinned == ['inception_v1', 'inception_v2', 'mobilenet_v1', 'mobilenet_v1_050', 'mobilenet_v2',
                    'mobilenet_v2_035', 'mobilenet_v2_140']


def _mobilenet_v2_035_archive(root):
  """A well-formed mobilenet_v2_035 archive with the right variables, which is not the published file."""
  source = root / 'v2_035-src'
  checkpoints.write(_zeros_of('mobilenet_v2_035', 1001), str(source / 'mobilenet_v2_0.35_224.ckpt'), overwrite=True)
  _tar(root / 'mobilenet_v2_0.35_224.tgz', {name: (source / name).read_bytes() for name in os.listdir(source)})
  return (root / 'mobilenet_v2_0.35_224.tgz').read_bytes()


def test_a_file_that_is_not_the_published_archive_is_refused_before_extraction(server, tmp_path):
  root, url = server
  data = _mobilenet_v2_035_archive(root)
  actual = hashlib.sha256(data).hexdigest()
  cache = tmp_path / 'cache'
  with pytest.raises(ValueError, match=(
      rf'^{re.escape(url)}mobilenet_v2_0\.35_224\.tgz has sha256 {actual}, the published archive has '
      r'efcc34277c52f7dd4b0b26c2f52686793f4ea5fdddc899ac5aac9eb8d5861550: truncated, tampered with, or not the '
      r'published archive$')):
    fetch.fetch('mobilenet_v2_035', url=url + 'mobilenet_v2_0.35_224.tgz', cache_dir=str(cache), progress=False)
  assert os.listdir(cache) == []


def test_a_download_of_another_size_is_refused_before_its_body_is_read(server, tmp_path, capsys):
  root, url = server
  (root / 'mobilenet_v2_1.0_224.tgz').write_bytes(b'x' * 1000)
  before = len(QuietHandler.requests)
  cache = tmp_path / 'cache'
  assert cli.main(['fetch-weights', 'mobilenet_v2', '--url', url + 'mobilenet_v2_1.0_224.tgz',
                   '--cache-dir', str(cache), '--quiet']) == 1
  assert capsys.readouterr().err == (
      f'slimnets: error: {url}mobilenet_v2_1.0_224.tgz is 1000 bytes, the published archive is 78306834 bytes: '
      'truncated, tampered with, or not the published archive\n')
  assert len(QuietHandler.requests) == before + 1
  assert os.listdir(cache) == []


def test_the_published_checksum_lets_the_published_file_through(server, tmp_path, monkeypatch):
  root, url = server
  data = _mobilenet_v2_035_archive(root)
  published = fetch._published
  for digest in (f'sha256:{hashlib.sha256(data).hexdigest()}', f'sha384:{hashlib.sha384(data).hexdigest()}'):
    monkeypatch.setattr(fetch, '_published', lambda network, digest=digest: dataclasses.replace(
        published(network), size=len(data), digest=digest))
    cache = tmp_path / digest[:6]
    path = fetch.fetch('mobilenet_v2_035', url=url + 'mobilenet_v2_0.35_224.tgz', cache_dir=str(cache),
                         progress=False)
    assert path == str(cache / 'mobilenet_v2_035' / 'mobilenet_v2_0.35_224.ckpt')
