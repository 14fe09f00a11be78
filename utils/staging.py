"""Writing outputs all or nothing: staged under a temporary name beside the target, renamed into place.

Every file or folder the project writes (SavedModels, fetched checkpoints, features, extraction state) goes
through `staged`, so an interrupted or failed write leaves the target as it was and no half-written output.
`tempfile` creates owner-only files (0600) and folders (0700) whatever the umask; a staged output is given the
permissions a plain `open(path, 'w')` or `os.mkdir(path)` would have given it (`as_plainly_created`), so a
serving account or a colleague can read it.
"""

import contextlib
import os
import shutil
import tempfile
from typing import Iterator


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def as_plainly_created(path: str) -> str:
  """Sets `path` (a file or folder made by `tempfile`) to 0666 or 0777 less the process umask; returns it."""
  mode = 0o777 if os.path.isdir(path) else 0o666
  os.chmod(path, mode & ~_umask())
  return path


def check_output(output: str, overwrite: bool = False) -> None:
  """Raises FileExistsError when a file or folder (or a checkpoint, `output.index`) exists at `output` and not
  `overwrite`."""
  if not overwrite and any(os.path.exists(p) for p in (output, output + '.index')):
    raise FileExistsError(f'output {output!r} already exists; pass --overwrite to replace it')


def check_file_or_folder(output: str, file_suffix: str) -> None:
  """Raises ValueError when `output` is neither a file name ending in `file_suffix` nor a folder name: a name with
  another extension ('features.txt') would otherwise become a folder of that name without a word."""
  extension = os.path.splitext(os.path.basename(os.path.normpath(output)))[1]
  if extension and extension.lower() != file_suffix and not os.path.isdir(output):
    raise ValueError(f'output {output!r} must be a {file_suffix} file or a folder (a name without an extension), '
                     f'not a {extension} file')


def _remove(path: str) -> None:
  if os.path.isdir(path) and not os.path.islink(path):
    shutil.rmtree(path, ignore_errors=True)
  elif os.path.lexists(path):
    os.remove(path)


@contextlib.contextmanager
def staged(path: str, directory: bool = False) -> Iterator[str]:
  """Yields a temporary path beside `path` to write the output at (an empty folder with `directory`).

  When the block ends normally the output gets plain permissions and replaces `path` (a folder there is moved
  aside first and deleted after, so `path` is never missing half of an output); when it raises, the output is
  removed and `path` is left as it was.
  """
  path = os.path.abspath(os.fspath(path))
  parent, name = os.path.split(path)
  os.makedirs(parent, exist_ok=True)
  if directory:
    temporary = tempfile.mkdtemp(dir=parent, prefix=f'.{name}.partial-')
  else:
    handle, temporary = tempfile.mkstemp(dir=parent, prefix=f'.{name}.partial-')
    os.close(handle)
  try:
    yield temporary
    as_plainly_created(temporary)
    if os.path.isdir(path) and not os.path.islink(path):
      previous = tempfile.mkdtemp(dir=parent, prefix=f'.{name}.previous-')
      os.replace(path, os.path.join(previous, name))
      os.replace(temporary, path)
      shutil.rmtree(previous)
    else:
      os.replace(temporary, path)
  finally:
    _remove(temporary)
