"""Pictures of segmentations (research/deeplab vis.py): DeepLab's colormaps, palette PNGs, overlays.

A prediction is written as a palette PNG: its pixel values are the predicted labels and its palette the dataset's
colours, so it shows in colour and reads back as labels (`PIL.Image.open(path)` in mode 'P', `np.asarray` gives the
labels). Cityscapes predictions in train ids (0-18) become the benchmark's label ids for its server
(`CITYSCAPES_LABEL_IDS`).
"""

import io
import os
from typing import Optional

import numpy as np
from PIL import Image

from slimnets import staging

COLORMAPS = ('pascal', 'cityscapes', 'ade20k')
# Cityscapes' label id of each train id (the 19 evaluated classes).
CITYSCAPES_LABEL_IDS = (7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33)
_CITYSCAPES_COLORS = ((128, 64, 128), (244, 35, 232), (70, 70, 70), (102, 102, 156), (190, 153, 153), (153, 153, 153),
                      (250, 170, 30), (220, 220, 0), (107, 142, 35), (152, 251, 152), (70, 130, 180), (220, 20, 60),
                      (255, 0, 0), (0, 0, 142), (0, 0, 70), (0, 60, 100), (0, 80, 100), (0, 0, 230), (119, 11, 32))
_ADE20K_COLORS = '''
0,0,0 120,120,120 180,120,120 6,230,230 80,50,50 4,200,3 120,120,80 140,140,140 204,5,255 230,230,230 4,250,7
224,5,255 235,255,7 150,5,61 120,120,70 8,255,51 255,6,82 143,255,140 204,255,4 255,51,7 204,70,3 0,102,200
61,230,250 255,6,51 11,102,255 255,7,71 255,9,224 9,7,230 220,220,220 255,9,92 112,9,255 8,255,214 7,255,224
255,184,6 10,255,71 255,41,10 7,255,255 224,255,8 102,8,255 255,61,6 255,194,7 255,122,8 0,255,20 255,8,41
255,5,153 6,51,255 235,12,255 160,150,20 0,163,255 140,140,140 250,10,15 20,255,0 31,255,0 255,31,0 255,224,0
153,255,0 0,0,255 255,71,0 0,235,255 0,173,255 31,0,255 11,200,200 255,82,0 0,255,245 0,61,255 0,255,112
0,255,133 255,0,0 255,163,0 255,102,0 194,255,0 0,143,255 51,255,0 0,82,255 0,255,41 0,255,173 10,0,255
173,255,0 0,255,153 255,92,0 255,0,255 255,0,245 255,0,102 255,173,0 255,0,20 255,184,184 0,31,255 0,255,61
0,71,255 255,0,204 0,255,194 0,255,82 0,10,255 0,112,255 51,0,255 0,194,255 0,122,255 0,255,163 255,153,0
0,255,10 255,112,0 143,255,0 82,0,255 163,255,0 255,235,0 8,184,170 133,0,255 0,255,92 184,0,255 255,0,31
0,184,255 0,214,255 255,0,112 92,255,0 0,224,255 112,224,255 70,184,160 163,0,255 153,0,255 71,255,0 255,0,163
255,204,0 255,0,143 0,255,235 133,255,0 255,0,235 245,0,255 255,0,122 255,245,0 10,190,212 214,255,0 0,204,255
20,0,255 255,255,0 0,153,255 0,41,255 0,255,204 41,0,255 41,255,0 173,0,255 0,245,255 71,0,255 122,0,255
0,255,184 0,92,255 184,255,0 0,133,255 255,214,0 25,194,194 102,255,0 92,0,255'''


def colormap(name: str) -> np.ndarray:
  """`[256, 3]` uint8 colours of labels 0-255 in DeepLab's colormap `name` ('pascal': the VOC bit pattern;
  'cityscapes': the 19 train ids; 'ade20k': the 151 classes; black beyond a dataset's entries).

  Raises:
    ValueError: for another name.
  """
  if name not in COLORMAPS:
    raise ValueError(f'colormap must be one of {", ".join(COLORMAPS)}, got {name!r}')
  colors = np.zeros([256, 3], np.uint8)
  if name == 'pascal':  # label bits 0, 3, 6 to red's high bits, 1, 4, 7 to green's, 2, 5 to blue's
    labels = np.arange(256)
    for shift in range(7, -1, -1):
      for channel in range(3):
        colors[:, channel] |= (((labels >> channel) & 1) << shift).astype(np.uint8)
      labels = labels >> 3
  elif name == 'cityscapes':
    colors[:len(_CITYSCAPES_COLORS)] = _CITYSCAPES_COLORS
  else:
    table = [tuple(int(v) for v in item.split(',')) for item in _ADE20K_COLORS.split()]
    colors[:len(table)] = table
  return colors


def _encoded(picture: Image.Image) -> bytes:
  stored = io.BytesIO()
  picture.save(stored, format='PNG')
  return stored.getvalue()


def _write(path: str, data: bytes) -> None:
  with staging.staged(path) as temporary:
    with open(temporary, 'wb') as handle:
      handle.write(data)


def palette_png(labels: np.ndarray, colormap_name: str = 'pascal') -> bytes:
  """A palette PNG of `[height, width]` labels in [0, 255]: values are the labels, colours DeepLab's."""
  labels = np.asarray(labels)
  if labels.ndim != 2 or labels.size == 0 or labels.min() < 0 or labels.max() > 255:
    raise ValueError(f'labels must be a non-empty [height, width] array of values in [0, 255], got shape '
                     f'{labels.shape}{f" and values in [{labels.min()}, {labels.max()}]" if labels.size else ""}')
  picture = Image.fromarray(labels.astype(np.uint8), mode='P')
  picture.putpalette(colormap(colormap_name).reshape(-1).tolist())
  return _encoded(picture)


def overlay(image: np.ndarray, labels: np.ndarray, colormap_name: str = 'pascal', alpha: float = 0.5) -> np.ndarray:
  """`[height, width, 3]` uint8: the image blended with the labels' colours (`alpha` of colour)."""
  colors = colormap(colormap_name)[np.asarray(labels, np.int64)]
  blended = (1.0 - alpha) * np.asarray(image, np.float32)[..., :3] + alpha * colors
  return np.clip(np.round(blended), 0, 255).astype(np.uint8)


def write_prediction(output_dir: str, name: str, image: np.ndarray, labels: np.ndarray,
                     colormap_name: str = 'pascal', raw_dir: Optional[str] = None,
                     label_ids: Optional[np.ndarray] = None) -> None:
  """Writes `<name>_image.png`, `<name>_prediction.png` (palette) and `<name>_overlay.png` in `output_dir`, and
  with `raw_dir` `<raw_dir>/<name>.png`: the labels as a grayscale PNG, mapped through `label_ids` if given
  (e.g. `CITYSCAPES_LABEL_IDS`). Each file all or nothing."""
  image = np.clip(np.round(np.asarray(image, np.float32)), 0, 255).astype(np.uint8)
  _write(os.path.join(output_dir, f'{name}_image.png'), _encoded(Image.fromarray(image[..., :3])))
  _write(os.path.join(output_dir, f'{name}_prediction.png'), palette_png(labels, colormap_name))
  _write(os.path.join(output_dir, f'{name}_overlay.png'),
         _encoded(Image.fromarray(overlay(image, labels, colormap_name))))
  if raw_dir is not None:
    raw = np.asarray(labels, np.int64)
    if label_ids is not None:
      raw = np.asarray(label_ids, np.int64)[raw]
    _write(os.path.join(raw_dir, f'{name}.png'), _encoded(Image.fromarray(raw.astype(np.uint8), mode='L')))
