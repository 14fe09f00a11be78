"""A learning check on pixels: a thin DeepLab v3+ learns to segment synthetic scenes on 2 CPU cores.

Each scene is a textured background (smoothed noise of a random tint) with 1-4 shapes of random size, position
and colour: discs (class 1), squares (class 2) and triangles (class 3); colour says nothing about the class, the
shape does. The model is `slimnets.models.Segmenter` (MobileNet v2 at depth 0.5, output stride 8, ASPP rates 1/2/3,
decoder at stride 4) trained from scratch with DeepLab's loss and poly schedule (Adam) and batch statistics
(`fine_tune_batch_norm`). DeepLab's moving averages (decay 0.997 and 0.9997) still hold mostly the first steps'
statistics after a short run, so they are then set to the average over a few dozen training scenes
(`slimnets.models.update_batch_norm_statistics`, `--statistics-batches`; 0 keeps the moving averages). The model is
evaluated by mean IoU on scenes it never saw:

    python benchmarks/segmentation_learning.py [--steps 800] [--batch 8] [--size 65] [--learning-rate 2e-3]
        [--statistics-batches 30] [--frozen-batch-norm] [--json]
"""

import argparse
import json
import time

import numpy as np


def scene(rng: np.random.RandomState, size: int):
  """One (image [size, size, 3] float32 in [0, 255], labels [size, size] int32) pair."""
  noise = rng.uniform(0, 1, [size // 4 + 2, size // 4 + 2])
  texture = np.kron(noise, np.ones([4, 4]))[:size, :size]
  image = (rng.uniform(40, 200, 3) * (0.6 + 0.4 * texture[..., None])).astype(np.float32)
  labels = np.zeros([size, size], np.int32)
  rows, cols = np.mgrid[:size, :size]
  for _ in range(rng.randint(1, 5)):
    kind = rng.randint(1, 4)
    radius = rng.randint(size // 10, size // 4)
    cy, cx = rng.randint(radius, size - radius, 2)
    if kind == 1:
      mask = (rows - cy) ** 2 + (cols - cx) ** 2 <= radius ** 2
    elif kind == 2:
      mask = (np.abs(rows - cy) <= radius) & (np.abs(cols - cx) <= radius)
    else:  # upward triangle: widens linearly from its apex
      mask = (rows >= cy - radius) & (rows <= cy + radius) & (np.abs(cols - cx) <= (rows - cy + radius) / 2)
    shade = rng.uniform(0, 255, 3) * (0.8 + 0.2 * rng.uniform(0, 1, [size, size, 1]))
    image[mask] = shade[mask]
    labels[mask] = kind
  return image, labels


def batch(rng, count: int, size: int):
  pairs = [scene(rng, size) for _ in range(count)]
  return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--steps', type=int, default=800)
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--size', type=int, default=65)
  parser.add_argument('--eval-scenes', type=int, default=64)
  parser.add_argument('--learning-rate', type=float, default=2e-3)
  parser.add_argument('--statistics-batches', type=int, default=30,
                      help='batches of training scenes to average the batch norm statistics over after training '
                           '(0: keep the moving averages)')
  parser.add_argument('--frozen-batch-norm', action='store_true',
                      help='keep batch norm at its initial statistics in training (fine_tune_batch_norm off)')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)

  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  from slimnets import segmentation  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel

  tf.random.set_seed(0)
  options = deeplab.ModelOptions({'semantic': 4}, atrous_rates=(1, 2, 3), output_stride=8,
                                 model_variant='mobilenet_v2', depth_multiplier=0.5, decoder_output_stride=(4,))
  segmenter = models.Segmenter(options, fine_tune_batch_norm=not args.frozen_batch_norm).build(args.size)
  trainable = [v for v in segmenter.variables_by_name.values() if v.trainable]
  step_var = tf.Variable(0, dtype=tf.int64)
  schedule = lambda: segmentation.poly_learning_rate(step_var, args.learning_rate, args.steps)
  optimizer = tf.keras.optimizers.Adam(schedule)

  @tf.function
  def train_step(images, labels):
    with tf.GradientTape() as tape:
      logits, _ = segmenter(images, training=True)
      loss = segmentation.softmax_cross_entropy(logits, labels, 4)
      total = loss + segmenter.regularization_loss()
    optimizer.apply_gradients(zip(tape.gradient(total, trainable), trainable))
    step_var.assign_add(1)
    return loss

  @tf.function
  def predict(images):
    logits, _ = segmenter(images, training=False)
    return tf.argmax(deeplab.resize_bilinear(logits, tf.shape(images)[1:3]), 3)

  rng = np.random.RandomState(1)
  losses = []
  start = time.perf_counter()
  for _ in range(args.steps):
    losses.append(float(train_step(*batch(rng, args.batch, args.size))))
  train_seconds = time.perf_counter() - start

  def evaluate():
    metric = segmentation.MeanIoU(num_classes=4)
    test_rng = np.random.RandomState(12345)
    for _ in range(args.eval_scenes // 8):
      images, labels = batch(test_rng, 8, args.size)
      metric.update(labels, predict(images))
    miou, per_class = metric.result()
    return round(float(miou), 3), [round(float(v), 3) for v in per_class.numpy()]

  result = {'steps': args.steps, 'batch': args.batch, 'size': args.size, 'train_seconds': round(train_seconds, 1),
            'frozen_batch_norm': args.frozen_batch_norm,
            'first_loss': round(float(np.mean(losses[:10])), 3), 'last_loss': round(float(np.mean(losses[-10:])), 3),
            'statistics_batches': args.statistics_batches, 'statistics_seconds': 0.0}
  result['mean_iou'], result['per_class_iou'] = evaluate()
  if args.statistics_batches:
    result['mean_iou_with_moving_averages'] = result['mean_iou']
    start = time.perf_counter()
    scenes = np.random.RandomState(2)
    models.update_batch_norm_statistics(
        segmenter, (batch(scenes, args.batch, args.size)[0] for _ in range(args.statistics_batches)))
    result['statistics_seconds'] = round(time.perf_counter() - start, 1)
    result['mean_iou'], result['per_class_iou'] = evaluate()
  if args.json:
    print(json.dumps(result))
  else:
    statistics = (f' (with the moving averages: {result["mean_iou_with_moving_averages"]}; statistics of '
                  f'{args.statistics_batches} batches in {result["statistics_seconds"]:.0f} s)'
                  if args.statistics_batches else '')
    print(f'{args.steps} steps of batch {args.batch} at {args.size}x{args.size} in {train_seconds:.0f} s; '
          f'loss {result["first_loss"]} -> {result["last_loss"]} (mean of 10 steps); '
          f'mean IoU on {args.eval_scenes} unseen scenes {result["mean_iou"]}{statistics} '
          f'(background, disc, square, triangle: {result["per_class_iou"]})')

if __name__ == '__main__':
  main()
