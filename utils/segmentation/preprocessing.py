"""DeepLab's input preprocessing (research/deeplab input_preprocess.preprocess_image_and_label), deterministic.

For training: resize to a range (`min_resize_value` / `max_resize_value` / `resize_factor`), scale by a random
factor in [`min_scale_factor`, `max_scale_factor`] (in `scale_factor_step_size` steps, or any value with step 0),
pad to the crop size with the mean pixel (127.5, or the ImageNet mean for resnet_v1_50/101) and the ignore label,
crop at a random place and flip left-right with probability 0.5. For evaluation only the resizing to a range and the
padding to `crop_size` (when given) happen. Every random draw is a stateless op of `seed`, so the same seed gives
the same crop of the same example in any run, on any replica, after any resumption.

    original, image, label = preprocess_image_and_label(image, label, (513, 513), min_scale_factor=0.5,
                                                        max_scale_factor=2.0, scale_factor_step_size=0.25,
                                                        is_training=True, seed=[0, 17])
"""

from typing import Optional, Sequence, Tuple

import tensorflow as tf

from nets import checks
from nets import deeplab
from slimnets.segmentation.labels import IGNORE_LABEL

_PROBABILITY_OF_FLIP = 0.5


def _resize(image: tf.Tensor, size: tf.Tensor, method: str) -> tf.Tensor:
  """`[height, width, channels]` resized to `size` with aligned corners (DeepLab's resizing)."""
  op = tf.raw_ops.ResizeBilinear if method == 'bilinear' else tf.raw_ops.ResizeNearestNeighbor
  resized = op(images=image[tf.newaxis], size=tf.cast(size, tf.int32), align_corners=True, half_pixel_centers=False)
  return tf.cast(resized[0], image.dtype)


def resize_to_range(image: tf.Tensor, label: Optional[tf.Tensor], min_size: Optional[float] = None,
                    max_size: Optional[float] = None, factor: Optional[int] = None):
  """(image, label) resized so that the shorter side is `min_size`, unless the longer side would then exceed
  `max_size`, in which case the longer side is `max_size`; with `factor`, both sides become a multiple of `factor`
  plus one (`max_size` is first lowered to such a size). Image bilinear, label nearest, aligned corners."""
  shape = tf.cast(tf.shape(image)[:2], tf.float32)
  size = tf.cast(shape, tf.int32)
  if min_size is not None:
    size = tf.cast(tf.floor(shape * (float(min_size) / tf.reduce_min(shape))), tf.int32)
  if max_size is not None:
    max_size = float(max_size)
    if factor:
      max_size -= (max_size - 1) % factor
    small = tf.cast(tf.floor(shape * (max_size / tf.reduce_max(shape))), tf.int32)
    size = tf.where(tf.cast(tf.reduce_max(size), tf.float32) > max_size, small, size)
  if factor:
    size += (factor - (size - 1) % factor) % factor
  image = _resize(image, size, 'bilinear')
  return image, None if label is None else _resize(label, size, 'nearest')


def random_scale(min_scale_factor: float, max_scale_factor: float, step_size: float, seed) -> tf.Tensor:
  """A scale in [min, max]: one of the steps `min, min + step, ..., max` with equal probability, any value with
  step 0, or `min` when min == max."""
  if min_scale_factor == max_scale_factor:
    return tf.constant(float(min_scale_factor))
  if not step_size:
    return tf.random.stateless_uniform([], seed, float(min_scale_factor), float(max_scale_factor))
  steps = int((max_scale_factor - min_scale_factor) / step_size + 1)
  index = tf.random.stateless_uniform([], seed, 0, steps, dtype=tf.int32)
  return tf.linspace(float(min_scale_factor), float(max_scale_factor), steps)[index]


def check_arguments(crop_size, min_scale_factor, max_scale_factor, scale_factor_step_size, is_training) -> tuple:
  """The crop size as a pair (or None), after checking the arguments of `preprocess_image_and_label`."""
  caller = 'preprocess_image_and_label'
  if crop_size is None:
    if is_training:
      raise ValueError(f'{caller}: crop_size is needed for training, got None')
  else:
    crop_size = checks.int_pair(crop_size, f'{caller}: crop_size')
  if not (0 < min_scale_factor <= max_scale_factor):
    raise ValueError(f'{caller}: min_scale_factor and max_scale_factor must satisfy 0 < min <= max, got '
                     f'{min_scale_factor} and {max_scale_factor}')
  if scale_factor_step_size < 0:
    raise ValueError(f'{caller}: scale_factor_step_size must be >= 0, got {scale_factor_step_size}')
  return crop_size


def preprocess_image_and_label(image: tf.Tensor, label: Optional[tf.Tensor], crop_size: Optional[Sequence[int]],
                               min_resize_value: Optional[int] = None, max_resize_value: Optional[int] = None,
                               resize_factor: Optional[int] = None, min_scale_factor: float = 1.0,
                               max_scale_factor: float = 1.0, scale_factor_step_size: float = 0.0,
                               ignore_label: int = IGNORE_LABEL, is_training: bool = True,
                               model_variant: Optional[str] = None, seed=None
                               ) -> Tuple[tf.Tensor, tf.Tensor, Optional[tf.Tensor]]:
  """DeepLab's preprocessing of one example.

  Args:
    image: `[height, width, 3]` pixels (uint8 or float in [0, 255]).
    label: `[height, width, 1]` integer labels, or None (evaluation without labels).
    crop_size: (height, width) of the training crops; at evaluation the size to pad to (images larger than it
      are refused when run), or None to keep each image's size.
    min_resize_value, max_resize_value, resize_factor: see `resize_to_range` (off when both values are None).
    min_scale_factor, max_scale_factor, scale_factor_step_size: the random scaling of training.
    ignore_label: the label of padded pixels.
    is_training: random scaling, cropping and flipping.
    model_variant: the backbone, for the pixel to pad with (`deeplab.mean_pixel`; default 127.5).
    seed: a stateless seed, shape [2] integers; None draws one from TensorFlow's global generator.

  Returns:
    (original image, resized only (uint8 in, float32 out when resized); the preprocessed float32 image;
    the int32 label or None).

  Raises:
    ValueError: for bad arguments, or a training example without a label.
  """
  crop_size = check_arguments(crop_size, min_scale_factor, max_scale_factor, scale_factor_step_size, is_training)
  if is_training and label is None:
    raise ValueError('preprocess_image_and_label: training needs the label, got None')
  if seed is None:
    seed = tf.random.uniform([2], maxval=2 ** 31 - 1, dtype=tf.int64)
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 4)
  original = image
  processed = tf.cast(image, tf.float32)
  label = None if label is None else tf.cast(label, tf.int32)
  if min_resize_value or max_resize_value:
    processed, label = resize_to_range(processed, label, min_resize_value, max_resize_value, resize_factor)
    original = processed
  if is_training:
    scale = random_scale(min_scale_factor, max_scale_factor, scale_factor_step_size, seeds[0])
    size = tf.cast(tf.cast(tf.shape(processed)[:2], tf.float32) * scale, tf.int32)
    processed, label = _resize(processed, size, 'bilinear'), _resize(label, size, 'nearest')
  if crop_size is not None:
    shape = tf.shape(processed)
    if not is_training:
      fits = tf.debugging.assert_less_equal(shape[:2], tf.constant(crop_size), message=(
          f'preprocess_image_and_label: an image is larger than crop_size {list(crop_size)}; evaluate with a '
          'larger crop_size or None (whole images)'))
      with tf.control_dependencies([fits]):
        processed = tf.identity(processed)
    padding = [[0, tf.maximum(crop_size[0] - shape[0], 0)], [0, tf.maximum(crop_size[1] - shape[1], 0)], [0, 0]]
    mean = tf.constant(deeplab.mean_pixel(model_variant or ''), tf.float32)
    processed = tf.pad(processed - mean, padding) + mean
    if label is not None:
      label = tf.pad(label, padding, constant_values=ignore_label)
  if is_training:
    shape = tf.shape(processed)
    top = tf.random.stateless_uniform([], seeds[1], 0, shape[0] - crop_size[0] + 1, dtype=tf.int32)
    left = tf.random.stateless_uniform([], seeds[2], 0, shape[1] - crop_size[1] + 1, dtype=tf.int32)
    processed = processed[top:top + crop_size[0], left:left + crop_size[1]]
    label = label[top:top + crop_size[0], left:left + crop_size[1]]
    flip = tf.random.stateless_uniform([], seeds[3]) <= _PROBABILITY_OF_FLIP
    processed = tf.cond(flip, lambda: tf.reverse(processed, [1]), lambda: processed)
    label = tf.cond(flip, lambda: tf.reverse(label, [1]), lambda: label)
    processed.set_shape([*crop_size, processed.shape[-1]])
    label.set_shape([*crop_size, 1])
  return original, processed, label
