"""Image preprocessing matching each network's published checkpoints, in TensorFlow ops (usable in `tf.data`).

Two conventions, chosen per network by its registry entry (`NetworkSpec.preprocessing`):

- 'vgg' (ResNet v1 checkpoints): pixel values in [0, 255] minus the ImageNet channel means
  (123.68, 116.78, 103.94). Evaluation resizes the smaller side to 256 and takes the central crop; training
  resizes it to a random size in [256, 512], takes a random crop and flips left-right at random.
- 'inception' (ResNet v2 and Inception v3 checkpoints): pixel values scaled to [-1, 1]. Evaluation keeps the
  central 87.5% and resizes it; training crops a random box covering 5% to 100% of the image with an aspect
  ratio in [3/4, 4/3], resizes it and flips at random. (research/slim also distorts colours in training; that is
  left out here.)

Images are `[height, width, channels]`, uint8 or float; any number of channels. For C != 3 channels the VGG means
are cycled over the channels (the layout of a `repeat`-adapted checkpoint) unless `channel_means` gives one per
channel.
"""

from typing import Callable, Optional, Sequence

import tensorflow as tf

from nets import checks
from nets import nets_factory

VGG_MEANS = (123.68, 116.78, 103.94)
EVAL_RESIZE_SIDE = 256
TRAIN_RESIZE_SIDES = (256, 512)
CENTRAL_FRACTION = 0.875


def _checked_size(height: int, width: int) -> tuple:
  """(height, width) as python ints (numpy ints and `Dimension`s accepted), or a ValueError naming the argument."""
  size = []
  for name, value in (('height', height), ('width', width)):
    number = checks.as_int(value)
    if not isinstance(number, int) or number < 1:
      raise ValueError(f'{name} must be a positive int, got {value!r}')
    size.append(number)
  return tuple(size)


def _as_image(image) -> tf.Tensor:
  image = tf.convert_to_tensor(image)
  shape = checks.static_shape(image)
  if shape is None or len(shape) != 3 or shape[-1] is None:
    raise ValueError('image must be [height, width, channels] with a known channel count, got shape '
                     f'{checks.shape_text(image)}')
  return image


def means_for_channels(channels: int, means: Optional[Sequence[float]] = None) -> tuple:
  """The per-channel means subtracted by 'vgg' preprocessing for `channels` channels."""
  if means is None:
    return tuple(VGG_MEANS[c % 3] for c in range(channels))
  means = tuple(float(m) for m in means)
  if len(means) != channels:
    raise ValueError(f'channel_means must have one value per channel ({channels}), got {len(means)}')
  return means


def _resize_smaller_side(image: tf.Tensor, side) -> tf.Tensor:
  shape = tf.shape(image)
  height, width = tf.cast(shape[0], tf.float32), tf.cast(shape[1], tf.float32)
  scale = tf.cast(side, tf.float32) / tf.minimum(height, width)
  new_size = tf.cast(tf.round(tf.stack([height * scale, width * scale])), tf.int32)
  return tf.image.resize(image, tf.maximum(new_size, side), method='bilinear')


def _central_crop(image: tf.Tensor, height: int, width: int) -> tf.Tensor:
  shape = tf.shape(image)
  top, left = (shape[0] - height) // 2, (shape[1] - width) // 2
  return image[top:top + height, left:left + width, :]


def vgg_preprocess(image, height: int, width: int, is_training: bool = False,
                   channel_means: Optional[Sequence[float]] = None) -> tf.Tensor:
  """'vgg' preprocessing: resize, crop (and flip in training), subtract the channel means; float32 output.

  Args:
    image: `[h, w, c]` uint8 or float image with values in [0, 255].
    height, width: output size.
    is_training: random resize, crop and flip instead of the central crop.
    channel_means: one mean per channel; default: the ImageNet RGB means, cycled over the channels.

  Returns:
    `[height, width, c]` float32.
  """
  height, width = _checked_size(height, width)
  image = tf.cast(_as_image(image), tf.float32)
  channels = checks.static_shape(image)[-1]
  means = means_for_channels(channels, channel_means)
  side = (tf.random.uniform([], TRAIN_RESIZE_SIDES[0], TRAIN_RESIZE_SIDES[1] + 1, tf.int32) if is_training
          else tf.constant(max(EVAL_RESIZE_SIDE, height, width)))
  image = _resize_smaller_side(image, tf.maximum(side, max(height, width)))
  if is_training:
    image = tf.image.random_crop(image, [height, width, channels])
    image = tf.image.random_flip_left_right(image)
  else:
    image = _central_crop(image, height, width)
  image = tf.ensure_shape(image, [height, width, len(means)])
  return image - tf.constant(means, tf.float32)


def inception_preprocess(image, height: int, width: int, is_training: bool = False,
                         central_fraction: float = CENTRAL_FRACTION) -> tf.Tensor:
  """'inception' preprocessing: crop, resize (and flip in training), scale to [-1, 1]; float32 output.

  Args:
    image: `[h, w, c]` image, uint8 in [0, 255] or float in [0, 1].
    height, width: output size.
    is_training: a random box crop and flip instead of the central crop.
    central_fraction: the fraction of each side kept in evaluation.

  Returns:
    `[height, width, c]` float32 in [-1, 1].
  """
  height, width = _checked_size(height, width)
  if not 0 < central_fraction <= 1:
    raise ValueError(f'central_fraction must be in (0, 1], got {central_fraction!r}')
  image = _as_image(image)
  channels = checks.static_shape(image)[-1]
  image = tf.image.convert_image_dtype(image, tf.float32)
  if is_training:
    begin, size, _ = tf.image.sample_distorted_bounding_box(
        tf.shape(image), tf.zeros([1, 0, 4]), min_object_covered=0.1, aspect_ratio_range=(0.75, 4 / 3),
        area_range=(0.05, 1.0), max_attempts=100, use_image_if_no_bounding_boxes=True)
    image = tf.slice(image, begin, size)
    image = tf.image.random_flip_left_right(image)
  elif central_fraction < 1:
    image = tf.image.central_crop(image, central_fraction)
  image = tf.image.resize(image, [height, width], method='bilinear')
  image = tf.ensure_shape(image, [height, width, channels])
  return (image - 0.5) * 2.0


def normalize_pixels(images, name: str) -> tf.Tensor:
  """The pixel-value step of network `name`'s preprocessing alone (no resizing or cropping), for uint8 images
  `[..., channels]` in [0, 255]: 'vgg' subtracts the ImageNet channel means (cycled over C != 3 channels), and
  'inception' scales to [-1, 1]. Returns float32."""
  pixels = tf.cast(images, tf.float32)
  if nets_factory.get_spec(name).preprocessing == 'vgg':
    return pixels - tf.constant(means_for_channels(checks.static_shape(pixels)[-1]), tf.float32)
  return (pixels / 255.0 - 0.5) * 2.0


_BY_KIND = {'vgg': vgg_preprocess, 'inception': inception_preprocess}


def get_preprocessing(name: str) -> Callable:
  """The preprocessing function of network `name`: `fn(image, height, width, is_training=False, **options)`.

  Raises:
    ValueError: for an unknown network name (with the closest known one).
  """
  return _BY_KIND[nets_factory.get_spec(name).preprocessing]
