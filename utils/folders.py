"""Folders of images the commands read: `list_images` finds the JPEG and PNG files under a folder."""

import os
from typing import List

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png')


def check_folder(folder: str) -> None:
  """Raises NotADirectoryError when the images folder `folder` is not a directory."""
  if not os.path.isdir(folder):
    raise NotADirectoryError(f'images folder {folder!r} is not a directory')


def list_images(folder: str) -> List[str]:
  """Relative paths of the JPEG and PNG files under `folder` (at any depth), sorted.

  Raises:
    NotADirectoryError: when `folder` is not a directory.
  """
  check_folder(folder)
  found = []
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for name in files:
      if name.lower().endswith(IMAGE_EXTENSIONS):
        found.append(os.path.relpath(os.path.join(root, name), folder))
  return sorted(found)
