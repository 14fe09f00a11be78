"""Permissions of staged outputs.

Outputs are written under a temporary name and renamed into place when complete. `tempfile.mkstemp` and
`tempfile.mkdtemp` create owner-only files (0600) and folders (0700) whatever the umask, so a SavedModel or a
features file staged that way could not be read by a serving account or a colleague. `as_plainly_created`
gives such a path the permissions a plain `open(path, 'w')` or `os.mkdir(path)` would have given it.
"""

import os


def _umask() -> int:
  mask = os.umask(0o022)
  os.umask(mask)
  return mask


def as_plainly_created(path: str) -> str:
  """Sets `path` (a file or folder made by `tempfile`) to 0666 or 0777 less the process umask; returns it."""
  mode = 0o777 if os.path.isdir(path) else 0o666
  os.chmod(path, mode & ~_umask())
  return path
