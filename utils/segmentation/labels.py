"""Segmentation labels: the ignore label and the checks every loss and metric applies to labels."""

from typing import Optional

import tensorflow as tf

from nets import checks

IGNORE_LABEL = 255


def check_num_classes(num_classes, caller: str) -> int:
  value = checks.as_int(num_classes)
  checks.check_int(f'{caller}: num_classes', value)
  return value


def checked_labels(labels: tf.Tensor, num_classes: int, ignore_label: Optional[int], what: str,
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
  any_bad = tf.reduce_any(bad)
  if tf.executing_eagerly():
    if bool(any_bad):
      values = sorted(set(tf.boolean_mask(flat, bad).numpy().tolist()))
      raise ValueError(f'{caller}: {what} must be {valid}, got {values[:10]}'
                       f'{f" and {len(values) - 10} more values" if len(values) > 10 else ""}')
    return labels
  # The offending values are gathered only when there are any: a training step checks every pixel's label.
  values = tf.cond(any_bad, lambda: tf.unique(tf.boolean_mask(flat, bad))[0][:10],
                   lambda: tf.zeros([0], flat.dtype))
  assertion = tf.debugging.Assert(tf.logical_not(any_bad), [f'{caller}: {what} must be {valid}, got', values],
                                  summarize=10)
  with tf.control_dependencies([assertion]):
    return tf.identity(labels)
