"""Training segmenters: DeepLab's per-pixel loss and learning-rate schedule.

`softmax_cross_entropy(logits, labels, num_classes)` is DeepLab's loss (research/deeplab utils/train_utils.py):
softmax cross-entropy over the pixels whose label is not `ignore_label` (255), averaged over them, optionally
over the hardest `top_k_percent_pixels` only (bootstrapping, Wu et al. arXiv:1605.04996). `poly_learning_rate`
is DeepLab's default schedule.
"""

from typing import Mapping, Optional

import tensorflow as tf

from nets import checks
from nets import deeplab
from slimnets.segmentation.labels import IGNORE_LABEL
from slimnets.segmentation.labels import check_num_classes
from slimnets.segmentation.labels import checked_labels


def _resized_labels(labels: tf.Tensor, size) -> tf.Tensor:
  """`[batch, height, width(, 1)]` integer labels resized to `size` by nearest neighbour (aligned corners)."""
  labels = labels if labels.shape.rank == 4 else labels[..., tf.newaxis]
  resized = tf.raw_ops.ResizeNearestNeighbor(images=labels, size=tf.cast(size, tf.int32), align_corners=True,
                                             half_pixel_centers=False)
  return resized[..., 0]


def softmax_cross_entropy(logits: tf.Tensor, labels: tf.Tensor, num_classes: int,
                          ignore_label: int = IGNORE_LABEL, loss_weight: float = 1.0, upsample_logits: bool = True,
                          top_k_percent_pixels: float = 1.0) -> tf.Tensor:
  """DeepLab's per-pixel softmax cross-entropy, a scalar.

  Args:
    logits: `[batch, h, w, num_classes]`.
    labels: `[batch, height, width]` or `[batch, height, width, 1]` integer labels in [0, num_classes);
      `ignore_label` pixels count for nothing.
    num_classes: the classes of `logits`.
    ignore_label: the label of pixels without ground truth.
    loss_weight: multiplies the loss.
    upsample_logits: resize the logits to the labels' size (bilinear, aligned corners), else the labels to the
      logits' size (nearest neighbour), as DeepLab's `upsample_logits` flag.
    top_k_percent_pixels: in (0, 1]: average over this fraction of the pixels with the largest losses.

  Returns:
    The mean loss over the counted pixels (0 when none counts).

  Raises:
    ValueError: for bad arguments or ranks, before any op is created; for labels outside [0, num_classes) other
      than `ignore_label` (eagerly; in a graph an InvalidArgumentError when run), naming them.
  """
  caller = 'softmax_cross_entropy'
  num_classes = check_num_classes(num_classes, caller)
  if not (isinstance(top_k_percent_pixels, (int, float)) and 0 < top_k_percent_pixels <= 1):
    raise ValueError(f'{caller}: top_k_percent_pixels must be in (0, 1], got {top_k_percent_pixels!r}')
  logits_shape, labels_shape = checks.static_shape(logits), checks.static_shape(labels)
  if logits_shape is None or labels_shape is None or len(logits_shape) != 4 or len(labels_shape) not in (3, 4):
    raise ValueError(f'{caller}: logits must be [batch, h, w, classes] and labels [batch, height, width(, 1)], got '
                     f'shapes {checks.shape_text(logits)} and {checks.shape_text(labels)}')
  if logits_shape[-1] is not None and logits_shape[-1] != num_classes:
    raise ValueError(f'{caller}: logits have {logits_shape[-1]} classes, num_classes is {num_classes}')
  logits = tf.convert_to_tensor(logits)
  labels = checked_labels(tf.cast(labels, tf.int32), num_classes, ignore_label, 'labels', caller)
  if upsample_logits:
    flat = labels if labels.shape.rank == 3 else labels[..., 0]
    logits = deeplab.resize_bilinear(logits, tf.shape(flat)[1:3], logits.dtype)
    labels = flat
  else:
    labels = _resized_labels(labels, tf.shape(logits)[1:3])
  labels = tf.reshape(labels, [-1])
  logits = tf.reshape(logits, [-1, num_classes])
  keep = tf.cast(tf.not_equal(labels, ignore_label), tf.float32) * loss_weight
  targets = tf.stop_gradient(tf.one_hot(tf.where(tf.equal(labels, ignore_label), 0, labels), num_classes))
  losses = tf.nn.softmax_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32)) * keep
  if top_k_percent_pixels < 1.0:
    count = tf.maximum(tf.cast(top_k_percent_pixels * tf.cast(tf.size(losses), tf.float32), tf.int32), 1)
    losses, _ = tf.nn.top_k(losses, k=count, sorted=False)
    present = tf.reduce_sum(tf.cast(tf.not_equal(losses, 0.0), tf.float32))
  else:
    present = tf.reduce_sum(tf.cast(keep > 0, tf.float32))
  return tf.math.divide_no_nan(tf.reduce_sum(losses), present)


def add_softmax_cross_entropy_loss_for_each_scale(scales_to_logits, labels: tf.Tensor, num_classes: int,
                                                  ignore_label: int = IGNORE_LABEL, loss_weight: float = 1.0,
                                                  upsample_logits: bool = True, top_k_percent_pixels: float = 1.0,
                                                  scope: Optional[str] = None) -> list:
  """DeepLab's graph-mode loss: `softmax_cross_entropy` of each scale's logits, added to the losses collection.

  With `tf.compat.v1.losses.get_total_loss()` (these losses plus the layers' weight decay) and
  `tf_slim.learning.create_train_op(total_loss, optimizer)` (which runs the batch norm updates of UPDATE_OPS)
  this is DeepLab's train.py on `deeplab.multi_scale_logits(..., is_training=True)`.

  Args:
    scales_to_logits: {scale name: logits} of one output, e.g. `multi_scale_logits(...)['semantic']`.
    labels, num_classes, ignore_label, loss_weight, upsample_logits, top_k_percent_pixels: as
      `softmax_cross_entropy`.
    scope: name scope of the losses (default 'loss'); each is '<scope>_<scale name>'.

  Returns:
    The losses, one per scale, in the order of `scales_to_logits` (eagerly, nothing is collected).
  """
  if not isinstance(scales_to_logits, Mapping) or not scales_to_logits:
    raise ValueError('add_softmax_cross_entropy_loss_for_each_scale: scales_to_logits must map scale names to '
                     f'logits, got {scales_to_logits!r}')
  losses = []
  for name, logits in scales_to_logits.items():
    with tf.name_scope(f'{scope or "loss"}_{name}'):
      loss = softmax_cross_entropy(logits, labels, num_classes, ignore_label=ignore_label, loss_weight=loss_weight,
                                   upsample_logits=upsample_logits, top_k_percent_pixels=top_k_percent_pixels)
    tf.compat.v1.losses.add_loss(loss)
    losses.append(loss)
  return losses


def poly_learning_rate(step, base_learning_rate: float, training_number_of_steps: int, power: float = 0.9,
                       end_learning_rate: float = 0.0):
  """DeepLab's 'poly' schedule: `(base - end) * (1 - step / steps) ** power + end`, held at `end` after `steps`
  (python numbers or tensors)."""
  checks.check_int('poly_learning_rate: training_number_of_steps', checks.as_int(training_number_of_steps))
  if tf.is_tensor(step):
    progress = tf.minimum(tf.cast(step, tf.float32), float(training_number_of_steps)) / training_number_of_steps
    return (base_learning_rate - end_learning_rate) * (1.0 - progress) ** power + end_learning_rate
  progress = min(float(step), float(training_number_of_steps)) / training_number_of_steps
  return (base_learning_rate - end_learning_rate) * (1.0 - progress) ** power + end_learning_rate


LEARNING_POLICIES = ('poly', 'step')
# The arguments of `learning_rate` after `step`: DeepLab's train.py flags of the learning rate.
LEARNING_RATE_ARGUMENTS = ('base_learning_rate', 'training_number_of_steps', 'learning_policy', 'learning_power',
                           'end_learning_rate', 'learning_rate_decay_step', 'learning_rate_decay_factor',
                           'slow_start_step', 'slow_start_learning_rate')


def learning_rate(step, base_learning_rate: float, training_number_of_steps: int, learning_policy: str = 'poly',
                  learning_power: float = 0.9, end_learning_rate: float = 0.0, learning_rate_decay_step: int = 2000,
                  learning_rate_decay_factor: float = 0.1, slow_start_step: int = 0,
                  slow_start_learning_rate: float = 0.0001) -> tf.Tensor:
  """DeepLab's learning rate at `step` (a tensor or number; float32 tensor back): 'poly' decay
  (`poly_learning_rate`) or 'step' decay (times `learning_rate_decay_factor` every `learning_rate_decay_step`
  steps) of `base_learning_rate`, held at `slow_start_learning_rate` for the first `slow_start_step` steps, the
  decay counting from the end of the slow start (train.py's defaults)."""
  if learning_policy not in LEARNING_POLICIES:
    raise ValueError(f'learning_policy must be one of {", ".join(LEARNING_POLICIES)}, got {learning_policy!r}')
  step = tf.cast(step, tf.float32)
  decayed = tf.maximum(step - slow_start_step, 0.0)
  if learning_policy == 'poly':
    rate = poly_learning_rate(decayed, base_learning_rate, training_number_of_steps, learning_power,
                              end_learning_rate)
  else:
    rate = base_learning_rate * learning_rate_decay_factor ** tf.floor(decayed / learning_rate_decay_step)
  return tf.where(step < slow_start_step, tf.cast(slow_start_learning_rate, tf.float32), rate)
