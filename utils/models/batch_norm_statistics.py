"""Precise batch norm: the moving statistics of a trained model re-estimated from batches."""

from typing import Iterable

import tensorflow as tf

from slimnets.models.module import NetworkModule
from slimnets.models.segmenter import Segmenter


def update_batch_norm_statistics(model: NetworkModule, batches: Iterable) -> int:
  """Sets the moving mean and variance of every batch norm layer to the average of its batch statistics over
  `batches` ("precise batch norm"); nothing else changes.

  After a short training run, moving averages of high decay (DeepLab's 0.997 and 0.9997) still hold mostly the
  statistics of the first steps, and inference with them is far from training with batch statistics. Running
  the trained model over a few dozen batches in training mode, with the decay at the k-th batch set to
  k / (k + 1), gives each layer the plain mean of the k batches' statistics (variances unbiased, as the
  fused kernel's moving variance); the weights are not touched. Dropout runs as in training.

  Args:
    model: a built `Backbone` or `Segmenter` (a Segmenter with `fine_tune_batch_norm`, so that its batch norm
      computes batch statistics in training mode).
    batches: images, `[batch, height, width, in_channels]` each (as the model takes them).

  Returns:
    The number of batches used.

  Raises:
    ValueError: for a Segmenter whose batch norm is frozen, or no batches.
  """
  if isinstance(model, Segmenter) and not model.fine_tune_batch_norm:
    raise ValueError('update_batch_norm_statistics: this Segmenter keeps batch norm frozen in training '
                     '(fine_tune_batch_norm=False), so it computes no batch statistics')

  @tf.function
  def run(images, decay):
    model(images, training=True, moving_average_decay=decay)

  count = 0
  for images in batches:
    run(images, tf.constant(count / (count + 1.0)))
    count += 1
  if not count:
    raise ValueError('update_batch_norm_statistics: batches holds no batch')
  return count
