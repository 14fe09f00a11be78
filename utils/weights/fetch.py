"""Fetching the published TF-Slim checkpoints into a local cache, verified against the network.

Each checkpoint is a `.tar.gz` archive holding one checkpoint (research/slim's `NAME.ckpt`, DeepLab's
`FOLDER/model.ckpt`), as the network's registry entry declares it (`NetworkSpec.archive`). `fetch` downloads
it with a progress bar into a temporary file inside the cache directory, checks its size and checksum against
the published archive's where public records of them are known (a wrong Content-Length before downloading,
the checksum before extracting anything), extracts the checkpoint's files there, and checks that the
checkpoint holds every variable the network creates (with the archive's number of classes, or the backbone's
where that is not known) at the right shape. Only then is it moved to `CACHE/NAME/`; a failed
download, a corrupt archive or a checkpoint of the wrong network leaves nothing in the cache.
"""

import copy
import hashlib
import os
import tarfile
import urllib.error
import urllib.request
from typing import Optional

import tensorflow as tf
from tqdm import tqdm

from nets import deeplab
from nets import nets_factory
from slimnets.weights import checkpoints
from slimnets import staging
from slimnets.analysis import dry_build
from slimnets.segmentation import runs

DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser('~'), '.cache', 'slimnets')

# The published archives, as the registry declares them (research/slim's and DeepLab's).
PUBLISHED = {name: spec.archive for name, spec in nets_factory.REGISTRY.items() if spec.archive}


def _published(network: str) -> nets_factory.Archive:
  return nets_factory.published(network)


def cached_path(network: str, cache_dir: Optional[str] = None) -> str:
  """Where the verified checkpoint of `network` lives in the cache: `CACHE/NETWORK/<its name in the archive>`;
  for a model of DeepLab's model zoo the folder `CACHE/NAME`, which holds its checkpoint and `model_options.json`
  (a folder the commands take as `--checkpoint`, as a training run's)."""
  if network in nets_factory.DEEPLAB_MODELS:
    return os.path.join(cache_dir or DEFAULT_CACHE_DIR, nets_factory.DEEPLAB_MODELS[network].name)
  folder = os.path.join(cache_dir or DEFAULT_CACHE_DIR, network)
  return os.path.join(folder, os.path.basename(_published(network).checkpoint))


def model_options(name: str) -> deeplab.ModelOptions:
  """The `deeplab.ModelOptions` DeepLab's model-zoo model `name` was trained with (checked)."""
  return deeplab.ModelOptions(**copy.deepcopy(nets_factory.DEEPLAB_MODELS[name].model_options)).checked()


def verify_model(name: str, checkpoint: str) -> int:
  """Checks that `checkpoint` holds every variable of DeepLab's model-zoo model `name` at the right shape.

  Returns:
    The number of variables checked.

  Raises:
    ValueError: naming the missing or mis-shaped variables.
  """
  expected = dry_build.build_segmenter(model_options(name), (129, 129)).variables
  return _compare(expected, checkpoint, f'the model {name}')


def verify(network: str, checkpoint: str, num_classes: Optional[int] = None) -> int:
  """Checks that `checkpoint` holds every variable of `network` (with that head) at the right shape.

  Returns:
    The number of variables checked.

  Raises:
    ValueError: naming the missing or mis-shaped variables, or an unreadable file.
  """
  num_classes = _published(network).num_classes if num_classes is None else num_classes
  expected = dry_build.build(network, num_classes=num_classes).variables
  return _compare(expected, checkpoint, f'{network} ' + (f'with {num_classes} classes' if num_classes else
                                                         '(its backbone)'))


def _compare(expected, checkpoint: str, what: str) -> int:
  found = checkpoints.shapes(checkpoint)
  missing = [name for name in expected if name not in found]
  wrong = [f'{name} {list(found[name])} (expected {list(shape)})' for name, (shape, _) in expected.items()
           if name in found and found[name] != shape]
  if missing or wrong:
    raise ValueError(f'{checkpoint!r} is not a checkpoint of {what}: '
                     f'{len(missing)} variables missing (e.g. {missing[:3]}), {len(wrong)} of another shape '
                     f'(e.g. {wrong[:3]})')
  return len(expected)


def _download(url: str, destination: str, progress: bool, size: Optional[int] = None,
              digest: Optional[str] = None) -> None:
  """Downloads `url` to `destination`, checking its length against the server's Content-Length and, where they
  are known, against the published archive's `size` and `digest` ('ALGORITHM:HEX')."""
  algorithm, _, expected_hex = (digest or '').partition(':')
  hasher = hashlib.new(algorithm) if digest else None
  not_published = 'truncated, tampered with, or not the published archive'
  try:
    with urllib.request.urlopen(url, timeout=60) as response:
      total = int(response.headers.get('Content-Length') or 0) or None
      if size is not None and total is not None and total != size:  # refused before reading the body
        raise ValueError(f'{url} is {total} bytes, the published archive is {size} bytes: {not_published}')
      received = 0
      with open(destination, 'wb') as out, tqdm(total=total, unit='B', unit_scale=True,
                                                desc=os.path.basename(url), disable=not progress) as bar:
        while True:
          chunk = response.read(1 << 20)
          if not chunk:
            break
          out.write(chunk)
          if hasher:
            hasher.update(chunk)
          received += len(chunk)
          bar.update(len(chunk))
      if total is not None and received != total:
        raise OSError(f'the transfer stopped after {received} of {total} bytes')
  except urllib.error.HTTPError as error:
    raise OSError(f'cannot download {url}: HTTP {error.code} {error.reason}') from None
  except (urllib.error.URLError, OSError) as error:
    raise OSError(f'cannot download {url}: {getattr(error, "reason", error)}') from None
  if size is not None and received != size:
    raise ValueError(f'{url} gave {received} bytes, the published archive is {size} bytes: {not_published}')
  if hasher and hasher.hexdigest() != expected_hex:
    raise ValueError(f'{url} has {algorithm} {hasher.hexdigest()}, the published archive has {expected_hex}: '
                     f'{not_published}')


def _extract_checkpoint(archive: str, checkpoint: str, folder: str) -> str:
  """Extracts the files of checkpoint prefix `checkpoint` (and nothing else) into `folder`; returns its path.

  The archive may keep them in a folder of its own (DeepLab's `resnet_v1_50/model.ckpt.*`); they must all be in
  the same one. A `checkpoint` with folders ('ema/model-540000') matches the end of the files' paths.
  """
  def matches(name: str) -> bool:
    prefix = name.rpartition('.')[0] if '.' in os.path.basename(name) else name
    return any(candidate == checkpoint or candidate.endswith('/' + checkpoint) for candidate in (name, prefix))

  try:
    with tarfile.open(archive, 'r:gz') as tar:  # the published archives are all .tar.gz / .tgz
      members = [m for m in tar.getmembers() if m.isfile() and matches(m.name)]
      folders = sorted({os.path.dirname(m.name) for m in members})
      if len(folders) != 1:
        held = [m.name for m in tar.getmembers()][:5]
        where = f'in {len(folders)} folders ({", ".join(folders)})' if folders else 'none'
        raise ValueError(f'the archive should hold one checkpoint {checkpoint}, it holds {where} (its files: {held})')
      for member in members:
        member.name = os.path.basename(member.name)
        tar.extract(member, folder, filter='data')
  except (tarfile.TarError, EOFError, OSError) as error:
    reason = ' '.join(str(error).split()) or type(error).__name__  # one line, whatever tarfile or gzip said
    raise ValueError(f'the downloaded archive is not a readable .tar.gz ({reason}): truncated, or not the '
                     'published file') from None
  return os.path.join(folder, os.path.basename(checkpoint))


def fetch(network: str, url: Optional[str] = None, cache_dir: Optional[str] = None, progress: bool = True) -> str:
  """Downloads, extracts and verifies the published checkpoint of `network`; returns its path in the cache.

  An already cached checkpoint is returned without downloading.

  Args:
    network: a network with a published checkpoint (see `PUBLISHED`), or a model of DeepLab's model zoo
      (`nets_factory.DEEPLAB_MODELS`, e.g. 'xception_coco_voc_trainaug'): then its folder is returned, holding the
      checkpoint and its `model_options.json`, which `--checkpoint FOLDER` takes without architecture flags.
    url: where to download the archive from (default: the official address); a mirror of the published file,
      which is checked against the published size and checksum where they are known (`Archive.size`, `digest`).
    cache_dir: the cache (default `~/.cache/slimnets`).
    progress: show a progress bar on stderr.

  Raises:
    ValueError: for a network without a published checkpoint, or an archive that is not its checkpoint.
    OSError: when the download fails.
  """
  published = _published(network)
  target = cached_path(network, cache_dir)
  segmentation = network in nets_factory.DEEPLAB_MODELS
  if (os.path.isfile(os.path.join(target, runs.MODEL_OPTIONS_FILE)) if segmentation else
      os.path.exists(target) or os.path.exists(target + '.index')):
    return target
  with staging.staged(target if segmentation else os.path.dirname(target), directory=True) as folder:
    archive = os.path.join(folder, '.download-' + os.path.basename(published.url))
    _download(url or published.url, archive, progress, published.size, published.digest)
    extracted = _extract_checkpoint(archive, published.checkpoint, folder)
    os.remove(archive)
    if not segmentation:
      verify(network, extracted, published.num_classes)
      return target
    verify_model(network, extracted)
    runs.write_model_options(folder, model_options(network))  # the folder is then a run's: its model is known
    tf.compat.v1.train.update_checkpoint_state(folder, os.path.basename(extracted))
  return target
