"""Training and evaluating segmenters: DeepLab's per-pixel loss and learning-rate schedule, and mean IoU.

`softmax_cross_entropy(logits, labels, num_classes)` is DeepLab's loss (research/deeplab utils/train_utils.py):
softmax cross-entropy over the pixels whose label is not `ignore_label` (255), averaged over them, optionally
over the hardest `top_k_percent_pixels` only (bootstrapping, Wu et al. arXiv:1605.04996). `poly_learning_rate`
is DeepLab's default schedule. `MeanIoU` accumulates a confusion matrix over batches, in graph and eager mode:

    metric = segmentation.MeanIoU(num_classes=21)
    for images, labels in dataset:
      metric.update(labels, predictions)
    miou, per_class = metric.result()
"""

from typing import Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf

from nets import checks

IGNORE_LABEL = 255


def _check_num_classes(num_classes, caller: str) -> int:
  value = checks.as_int(num_classes)
  checks.check_int(f'{caller}: num_classes', value)
  return value


def _checked_labels(labels: tf.Tensor, num_classes: int, ignore_label: Optional[int], what: str,
                    caller: str) -> tf.Tensor:
  """`labels` (int) after checking that every value is in [0, num_classes) or is `ignore_label` (if not None).

  Eagerly a ValueError; in a graph or `tf.function` an `InvalidArgumentError` when run. Either names up to ten
  of the offending values: a label out of range would otherwise count for nothing in the loss (its one-hot row is
  zero) or fail deep inside the confusion matrix.
  """
  flat = tf.reshape(labels, [-1])
  bad = tf.logical_or(flat < 0, flat >= num_classes)
  if ignore_label is not None:
    bad = tf.logical_and(tf.not_equal(flat, ignore_label), bad)
  valid = f'in [0, {num_classes})' + (f' or the ignore label {ignore_label}' if ignore_label is not None else '')
  if tf.executing_eagerly():
    if bool(tf.reduce_any(bad)):
      values = sorted(set(tf.boolean_mask(flat, bad).numpy().tolist()))
      raise ValueError(f'{caller}: {what} must be {valid}, got {values[:10]}'
                       f'{f" and {len(values) - 10} more values" if len(values) > 10 else ""}')
    return labels
  values = tf.unique(tf.boolean_mask(flat, bad))[0][:10]
  assertion = tf.debugging.Assert(tf.logical_not(tf.reduce_any(bad)),
                                  [f'{caller}: {what} must be {valid}, got', values], summarize=10)
  with tf.control_dependencies([assertion]):
    return tf.identity(labels)


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
  num_classes = _check_num_classes(num_classes, caller)
  if not (isinstance(top_k_percent_pixels, (int, float)) and 0 < top_k_percent_pixels <= 1):
    raise ValueError(f'{caller}: top_k_percent_pixels must be in (0, 1], got {top_k_percent_pixels!r}')
  logits_shape, labels_shape = checks.static_shape(logits), checks.static_shape(labels)
  if logits_shape is None or labels_shape is None or len(logits_shape) != 4 or len(labels_shape) not in (3, 4):
    raise ValueError(f'{caller}: logits must be [batch, h, w, classes] and labels [batch, height, width(, 1)], got '
                     f'shapes {checks.shape_text(logits)} and {checks.shape_text(labels)}')
  if logits_shape[-1] is not None and logits_shape[-1] != num_classes:
    raise ValueError(f'{caller}: logits have {logits_shape[-1]} classes, num_classes is {num_classes}')
  logits = tf.convert_to_tensor(logits)
  labels = _checked_labels(tf.cast(labels, tf.int32), num_classes, ignore_label, 'labels', caller)
  if upsample_logits:
    from nets import deeplab  # pylint: disable=import-outside-toplevel
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


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
  """`[num_classes, num_classes]` float64 counts of (label, prediction) pairs, `ignore_label` pixels left out.

  Raises:
    ValueError: for labels outside [0, num_classes) other than `ignore_label`, or predictions outside it where
      the labels are not `ignore_label`, naming them (eagerly; in a graph an InvalidArgumentError when run).
  """
  caller = 'confusion_matrix'
  num_classes = _check_num_classes(num_classes, caller)
  labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
  predictions = tf.reshape(tf.cast(predictions, tf.int64), [-1])
  keep = tf.not_equal(labels, ignore_label)
  labels = _checked_labels(tf.boolean_mask(labels, keep), num_classes, None, 'labels', caller)
  predictions = _checked_labels(tf.boolean_mask(predictions, keep), num_classes, None, 'predictions', caller)
  return tf.math.confusion_matrix(labels, predictions, num_classes=num_classes, dtype=tf.float64)


def mean_iou_from_confusion(confusion) -> Tuple[tf.Tensor, tf.Tensor]:
  """(mean IoU over the classes present in labels or predictions, per-class IoU with NaN for absent classes)."""
  confusion = tf.convert_to_tensor(confusion, tf.float64)
  true_positives = tf.linalg.diag_part(confusion)
  union = tf.reduce_sum(confusion, 0) + tf.reduce_sum(confusion, 1) - true_positives
  per_class = tf.where(union > 0, true_positives / tf.where(union > 0, union, 1.0),
                       tf.constant(np.nan, tf.float64))
  present = union > 0
  mean = tf.math.divide_no_nan(tf.reduce_sum(tf.boolean_mask(per_class, present)),
                               tf.reduce_sum(tf.cast(present, tf.float64)))
  return mean, per_class


class MeanIoU(tf.Module):
  """A streaming mean IoU: `update(labels, predictions)` adds a batch's confusion matrix, `result()` reads it.

  In graph mode `update` returns the op to run (and the variable needs initializing); eagerly it runs at once.
  """

  def __init__(self, num_classes: int, ignore_label: int = IGNORE_LABEL, name: Optional[str] = None):
    super().__init__(name=name or 'mean_iou')
    self.num_classes = _check_num_classes(num_classes, 'MeanIoU')
    self.ignore_label = ignore_label
    with self.name_scope:
      self.total = tf.Variable(tf.zeros([self.num_classes, self.num_classes], tf.float64), trainable=False,
                               name='confusion_matrix')

  def update(self, labels, predictions):
    """Adds the confusion matrix of one batch; returns the assign op (graph) or the updated total (eager)."""
    return self.total.assign_add(confusion_matrix(labels, predictions, self.num_classes, self.ignore_label))

  def result(self) -> Tuple[tf.Tensor, tf.Tensor]:
    """(mean IoU, per-class IoU) of everything added so far; see `mean_iou_from_confusion`."""
    return mean_iou_from_confusion(self.total)

  def reset(self):
    """Sets the counts back to zero (returns the op in graph mode)."""
    return self.total.assign(tf.zeros_like(self.total))
