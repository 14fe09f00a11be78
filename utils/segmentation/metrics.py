"""Evaluating segmenters: the confusion matrix and mean IoU, streaming over batches in graph and eager mode.

    metric = segmentation.MeanIoU(num_classes=21)
    for images, labels in dataset:
      metric.update(labels, predictions)
    miou, per_class = metric.result()
"""

from typing import Optional, Tuple

import numpy as np
import tensorflow as tf

from slimnets.segmentation.labels import IGNORE_LABEL
from slimnets.segmentation.labels import check_num_classes
from slimnets.segmentation.labels import checked_labels


def confusion_matrix(labels, predictions, num_classes: int, ignore_label: int = IGNORE_LABEL) -> tf.Tensor:
  """`[num_classes, num_classes]` float64 counts of (label, prediction) pairs, `ignore_label` pixels left out.

  Raises:
    ValueError: for labels outside [0, num_classes) other than `ignore_label`, or predictions outside it where
      the labels are not `ignore_label`, naming them (eagerly; in a graph an InvalidArgumentError when run).
  """
  caller = 'confusion_matrix'
  num_classes = check_num_classes(num_classes, caller)
  labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
  predictions = tf.reshape(tf.cast(predictions, tf.int64), [-1])
  keep = tf.not_equal(labels, ignore_label)
  labels = checked_labels(tf.boolean_mask(labels, keep), num_classes, None, 'labels', caller)
  predictions = checked_labels(tf.boolean_mask(predictions, keep), num_classes, None, 'predictions', caller)
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
    self.num_classes = check_num_classes(num_classes, 'MeanIoU')
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
