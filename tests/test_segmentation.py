"""slimnets.segmentation against numpy: DeepLab's loss (ignore label, hard pixels), the poly schedule, mean IoU."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import evaluate
from slimnets import segmentation


def _numpy_cross_entropy(logits, labels, ignore=255):
  flat_logits = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
  flat_labels = labels.reshape(-1)
  shifted = flat_logits - flat_logits.max(axis=1, keepdims=True)
  log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
  keep = flat_labels != ignore
  losses = np.zeros(len(flat_labels))
  losses[keep] = -log_probabilities[keep, flat_labels[keep]]
  return losses, keep


def _case(seed=0):
  rng = np.random.RandomState(seed)
  logits = rng.normal(0, 2, [2, 5, 5, 3]).astype(np.float32)
  labels = rng.randint(0, 3, [2, 5, 5])
  labels[0, :2] = 255
  return logits, labels


def test_loss_is_the_mean_over_the_labelled_pixels():
  logits, labels = _case()
  losses, keep = _numpy_cross_entropy(logits, labels)
  for upsample in (False, True):  # same size: resizing either way changes nothing
    loss = evaluate(segmentation.softmax_cross_entropy(tf.constant(logits), tf.constant(labels), 3,
                                                       upsample_logits=upsample))
    np.testing.assert_allclose(loss, losses[keep].mean(), rtol=1e-5)
  assert keep.sum() == 40


def test_hard_pixel_mining_averages_the_largest_losses():
  logits, labels = _case(1)
  losses, _ = _numpy_cross_entropy(logits, labels)
  top = np.sort(losses)[::-1][:int(0.25 * losses.size)]
  loss = evaluate(segmentation.softmax_cross_entropy(tf.constant(logits), tf.constant(labels[..., None]), 3,
                                                     top_k_percent_pixels=0.25, upsample_logits=False))
  np.testing.assert_allclose(loss, top[top != 0].mean(), rtol=1e-5)


def test_upsampled_logits_meet_labels_of_the_image_size_and_no_labelled_pixel_gives_zero():
  logits = tf.constant(np.random.RandomState(2).normal(0, 1, [1, 3, 3, 4]).astype(np.float32))
  labels = np.full([1, 9, 9], 2)
  loss = evaluate(segmentation.softmax_cross_entropy(logits, tf.constant(labels), 4))
  assert np.isfinite(loss) and loss > 0
  assert evaluate(segmentation.softmax_cross_entropy(logits, tf.constant(np.full([1, 9, 9], 255)), 4)) == 0.0


def test_loss_arguments_are_checked():
  logits, labels = tf.zeros([1, 3, 3, 4]), tf.zeros([1, 3, 3], tf.int32)
  with pytest.raises(ValueError, match=r'softmax_cross_entropy: top_k_percent_pixels must be in \(0, 1\], got 0'):
    segmentation.softmax_cross_entropy(logits, labels, 4, top_k_percent_pixels=0)
  with pytest.raises(ValueError, match='softmax_cross_entropy: num_classes must be a positive int, got 0'):
    segmentation.softmax_cross_entropy(logits, labels, 0)
  with pytest.raises(ValueError, match=r'labels \[batch, height, width\(, 1\)\], got shapes \(1, 3, 3, 4\) and \(9,\)'):
    segmentation.softmax_cross_entropy(logits, tf.zeros([9], tf.int32), 4)
  with pytest.raises(ValueError, match='softmax_cross_entropy: logits have 4 classes, num_classes is 5'):
    segmentation.softmax_cross_entropy(logits, labels, 5)


def test_poly_learning_rate():
  assert segmentation.poly_learning_rate(0, 0.007, 1000) == pytest.approx(0.007)
  assert segmentation.poly_learning_rate(500, 0.007, 1000) == pytest.approx(0.007 * 0.5 ** 0.9)
  assert segmentation.poly_learning_rate(1500, 0.007, 1000, end_learning_rate=1e-4) == pytest.approx(1e-4)
  assert evaluate(segmentation.poly_learning_rate(tf.constant(500), 0.007, 1000)) == pytest.approx(0.007 * 0.5 ** 0.9)


def test_learning_rate_holds_the_slow_start_then_decays_from_its_end():
  rates = [evaluate(segmentation.learning_rate(step, 0.007, 1000, slow_start_step=100, slow_start_learning_rate=1e-4))
           for step in (0, 99, 100, 550)]
  assert rates == pytest.approx([1e-4, 1e-4, 0.007, 0.007 * 0.55 ** 0.9], rel=1e-6)
  steps = [evaluate(segmentation.learning_rate(step, 0.01, 1000, 'step', learning_rate_decay_step=30,
                                               learning_rate_decay_factor=0.5)) for step in (0, 29, 30, 95)]
  assert steps == pytest.approx([0.01, 0.01, 0.005, 0.00125])
  with pytest.raises(ValueError, match="learning_policy must be one of poly, step, got 'cosine'"):
    segmentation.learning_rate(0, 0.01, 1000, 'cosine')


def _numpy_miou(labels, predictions, classes, ignore=255):
  keep = labels != ignore
  confusion = np.zeros([classes, classes])
  np.add.at(confusion, (labels[keep], predictions[keep]), 1)
  tp = np.diag(confusion)
  union = confusion.sum(0) + confusion.sum(1) - tp
  per_class = np.where(union > 0, tp / np.maximum(union, 1), np.nan)
  return np.nanmean(per_class), per_class


def test_streaming_mean_iou_equals_numpy_over_batches():
  rng = np.random.RandomState(3)
  batches = [(rng.randint(0, 4, [2, 6, 6]), rng.randint(0, 4, [2, 6, 6])) for _ in range(3)]
  for labels, _ in batches:
    labels[:, 0] = 255
  # Labels and predictions are 0..3 of 5 classes: class 4 never appears, so its IoU is NaN and the mean skips it.
  expected = _numpy_miou(np.stack([b[0] for b in batches]), np.stack([b[1] for b in batches]), 5)
  with tf.Graph().as_default():
    metric = segmentation.MeanIoU(num_classes=5)
    labels = tf.compat.v1.placeholder(tf.int32, [None, 6, 6])
    predictions = tf.compat.v1.placeholder(tf.int64, [None, 6, 6])
    update = metric.update(labels, predictions)
    result = metric.result()
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for batch_labels, batch_predictions in batches:
        sess.run(update, {labels: batch_labels, predictions: batch_predictions})
      miou, per_class = sess.run(result)
  np.testing.assert_allclose(miou, expected[0], rtol=1e-12)
  np.testing.assert_array_equal(np.isnan(per_class), [False, False, False, False, True])
  np.testing.assert_allclose(per_class[:4], expected[1][:4], rtol=1e-12)


@pytest.mark.eager
def test_mean_iou_eagerly_and_reset():
  metric = segmentation.MeanIoU(num_classes=2)
  metric.update(np.array([[0, 1, 1, 255]]), np.array([[0, 1, 0, 1]]))
  miou, per_class = metric.result()
  np.testing.assert_allclose(per_class.numpy(), [0.5, 0.5])
  assert float(miou) == 0.5
  metric.reset()
  assert float(tf.reduce_sum(metric.total)) == 0.0


@pytest.mark.eager
def test_labels_out_of_range_are_an_error_naming_them_eagerly():
  logits = tf.zeros([1, 2, 3, 3])
  labels = tf.constant([[[0, 7, 255], [2, -1, 7]]])
  with pytest.raises(ValueError, match=r'softmax_cross_entropy: labels must be in \[0, 3\) or the ignore label 255, '
                                       r'got \[-1, 7\]$'):
    segmentation.softmax_cross_entropy(logits, labels, 3)
  metric = segmentation.MeanIoU(num_classes=3)
  with pytest.raises(ValueError, match=r'confusion_matrix: labels must be in \[0, 3\), got \[-1, 7\]$'):
    metric.update(labels, tf.zeros_like(labels))
  with pytest.raises(ValueError, match=r'confusion_matrix: predictions must be in \[0, 3\), got \[3\]$'):
    metric.update(tf.constant([[0, 255]]), tf.constant([[3, 4]]))  # 4 is at an ignored pixel: not counted
  assert float(tf.reduce_sum(metric.total)) == 0.0
  # in a tf.function the same words come as an InvalidArgumentError when run
  loss = tf.function(lambda y: segmentation.softmax_cross_entropy(logits, y, 3))
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'softmax_cross_entropy: labels must be in \[0, 3\) or the '
                                                           r'ignore label 255, got.*\[7 -1\]'):
    loss(labels)
  assert float(loss(tf.constant([[[0, 1, 255], [2, 2, 1]]]))) > 0


def test_labels_out_of_range_fail_when_the_graph_runs():
  with tf.Graph().as_default():
    labels = tf.compat.v1.placeholder(tf.int32, [1, 2, 2])
    loss = segmentation.softmax_cross_entropy(tf.zeros([1, 2, 2, 3]), labels, 3)
    metric = segmentation.MeanIoU(num_classes=3)
    update = metric.update(labels, tf.zeros_like(labels))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      assert sess.run(loss, {labels: [[[0, 1], [255, 2]]]}) == pytest.approx(np.log(3))
      with pytest.raises(tf.errors.InvalidArgumentError, match=r'softmax_cross_entropy: labels must be in \[0, 3\) '
                                                               r'or the ignore label 255, got.*\[9\]'):
        sess.run(loss, {labels: [[[0, 9], [255, 2]]]})
      with pytest.raises(tf.errors.InvalidArgumentError, match=r'confusion_matrix: labels must be in \[0, 3\), got'):
        sess.run(update, {labels: [[[0, 9], [255, 2]]]})
