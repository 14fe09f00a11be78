"""research/deeplab's `core/utils.py`: the helpers its heads share (`nets.deeplab`, `nets.dense_prediction_cell`).
`nets.deeplab` offers them under the same names."""

import tensorflow as tf
import tf_slim as slim

from nets import layers


def scale_dimension(dim, scale: float):
  """`(dim - 1) * scale + 1` as an int: the size of `dim` pixels resampled with aligned corners (tensors too)."""
  if tf.is_tensor(dim):
    return tf.cast((tf.cast(dim, tf.float32) - 1.0) * scale + 1.0, tf.int32)
  return int((float(dim) - 1.0) * scale + 1.0)


def resize_bilinear(images: tf.Tensor, size, output_dtype=tf.float32) -> tf.Tensor:
  """Bilinear resizing with aligned corners (DeepLab's), cast to `output_dtype`."""
  size = tf.stack(size) if isinstance(size, (list, tuple)) and any(tf.is_tensor(n) for n in size) else size
  resized = tf.raw_ops.ResizeBilinear(images=images, size=tf.cast(size, tf.int32), align_corners=True,
                                      half_pixel_centers=False)
  return tf.cast(resized, output_dtype)


def split_separable_conv2d(inputs: tf.Tensor, filters: int, kernel_size=3, rate=1, weight_decay: float = 0.00004,
                           depthwise_weights_initializer_stddev: float = 0.33,
                           pointwise_weights_initializer_stddev: float = 0.06, scope: str = None) -> tf.Tensor:
  """A depthwise convolution '<scope>_depthwise' and a 1x1 one '<scope>_pointwise', each with the arg scope's
  normalizer and activation (between them too, unlike `separable_conv2d`); only the pointwise one decays."""
  net = layers.separable_conv2d(
      inputs, None, kernel_size, depth_multiplier=1, rate=rate,
      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=depthwise_weights_initializer_stddev),
      weights_regularizer=None, scope=f'{scope}_depthwise')
  return layers.conv2d(
      net, filters, 1,
      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=pointwise_weights_initializer_stddev),
      weights_regularizer=slim.l2_regularizer(weight_decay), scope=f'{scope}_pointwise')


def q_sigmoid(x: tf.Tensor) -> tf.Tensor:
  """DeepLab's quantization-friendly sigmoid (`utils.q_sigmoid`): relu6(x + 3) * 0.16667."""
  return tf.nn.relu6(x + 3.0) * 0.16667
