"""A learning check on pixels, as a user runs it: a folder of synthetic scenes -> build-dataset -> train -> evaluate.

Each scene is a textured background (smoothed noise of a random tint) with 1-4 shapes of random size, position
and colour: discs (class 1), squares (class 2) and triangles (class 3); colour says nothing about the class, the
shape does. The scenes are written as PNG images and label PNGs; `slimnets build-dataset` makes DeepLab TFRecords
of them (a train and a val split), `slimnets train` trains a thin DeepLab v3+ from scratch (MobileNet v2 at depth
0.5, output stride 8, ASPP rates 1/2/3, decoder at stride 4; DeepLab's loss, momentum and poly schedule; random
left-right flips, no random scaling), then sets the batch norm statistics from a few dozen training batches
(`--update-batch-norm-statistics`; DeepLab's moving averages of decay 0.997 / 0.9997 still hold mostly the first
steps' statistics after a short run), and `slimnets evaluate` reports the mean IoU on scenes it never saw:

    python benchmarks/segmentation_learning.py [--steps 800] [--batch 8] [--size 65] [--learning-rate 0.05]
        [--scenes 1000] [--statistics-batches 30] [--json]
"""

import argparse
import contextlib
import io
import json
import os
import tempfile
import time

import numpy as np
from PIL import Image


def scene(rng: np.random.RandomState, size: int):
  """One (image [size, size, 3] uint8, labels [size, size] uint8) pair."""
  noise = rng.uniform(0, 1, [size // 4 + 2, size // 4 + 2])
  texture = np.kron(noise, np.ones([4, 4]))[:size, :size]
  image = (rng.uniform(40, 200, 3) * (0.6 + 0.4 * texture[..., None])).astype(np.float32)
  labels = np.zeros([size, size], np.uint8)
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
  return np.clip(np.round(image), 0, 255).astype(np.uint8), labels


def write_scenes(folder: str, count: int, size: int, seed: int) -> None:
  rng = np.random.RandomState(seed)
  for sub in ('images', 'masks'):
    os.makedirs(os.path.join(folder, sub))
  for i in range(count):
    image, labels = scene(rng, size)
    Image.fromarray(image).save(os.path.join(folder, 'images', f'{i:05d}.png'))
    Image.fromarray(labels, mode='L').save(os.path.join(folder, 'masks', f'{i:05d}.png'))


def run(argv, quiet: bool) -> str:
  """`slimnets argv`; its standard output (exit status 0 asserted)."""
  from slimnets import cli  # pylint: disable=import-outside-toplevel  (after the scenes: TensorFlow loads here)
  printed = io.StringIO()
  with contextlib.redirect_stdout(printed):
    status = cli.main(argv + (['--quiet'] if quiet else []))
  assert status == 0, (argv, status)
  return printed.getvalue()


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--steps', type=int, default=800)
  parser.add_argument('--batch', type=int, default=8)
  parser.add_argument('--size', type=int, default=65)
  parser.add_argument('--scenes', type=int, default=1000, help='training scenes (repeated over the steps)')
  parser.add_argument('--eval-scenes', type=int, default=64)
  parser.add_argument('--optimizer', choices=('momentum', 'adam'), default='adam')
  parser.add_argument('--learning-rate', type=float, default=0.002,
                      help="adam's learning rate (constant), or momentum's base learning rate (poly)")
  parser.add_argument('--statistics-batches', type=int, default=30,
                      help='training batches to set the batch norm statistics from (0: keep the moving averages)')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args(argv)
  with tempfile.TemporaryDirectory() as root:
    write_scenes(os.path.join(root, 'train'), args.scenes, args.size, seed=1)
    write_scenes(os.path.join(root, 'val'), args.eval_scenes, args.size, seed=12345)
    data, logdir = os.path.join(root, 'data'), os.path.join(root, 'run')
    for split in ('train', 'val'):
      run(['build-dataset', os.path.join(root, split, 'images'), os.path.join(root, split, 'masks'), '--output', data,
           '--split', split, '--num-classes', '4'], quiet=True)
    start = time.perf_counter()
    trained = run(['train', '--train-logdir', logdir, '--dataset-dir', data, '--model-variant', 'mobilenet_v2',
                   '--depth-multiplier', '0.5', '--output-stride', '8', '--atrous-rates', '1,2,3',
                   '--decoder-output-stride', '4', '--train-crop-size', f'{args.size},{args.size}',
                   '--train-batch-size', str(args.batch), '--training-number-of-steps', str(args.steps),
                   '--optimizer', args.optimizer,
                   '--base-learning-rate' if args.optimizer == 'momentum' else '--adam-learning-rate',
                   str(args.learning_rate), '--min-scale-factor', '1',
                   '--max-scale-factor', '1', '--update-batch-norm-statistics', str(args.statistics_batches)],
                  quiet=args.json)
    seconds = time.perf_counter() - start
    images_per_second = float(trained.split(' images/s')[0].rsplit(' ', 1)[1]) if ' images/s' in trained else None
    checkpoint = os.path.join(logdir, f'model.ckpt-{args.steps}' + ('-precise_bn' if args.statistics_batches else ''))
    results = {}
    for name, path in (('moving averages', os.path.join(logdir, f'model.ckpt-{args.steps}')),
                       ('statistics updated', checkpoint)):
      if name == 'statistics updated' and not args.statistics_batches:
        continue
      evaluated = json.loads(run(['evaluate', '--checkpoint-dir', path, '--dataset-dir', data, '--eval-split', 'val',
                                  '--json'], quiet=True))
      results[name] = evaluated
  final = results.get('statistics updated', results['moving averages'])
  summary = {'steps': args.steps, 'batch': args.batch, 'size': args.size, 'train_seconds': round(seconds, 1),
             'training_images_per_second': images_per_second,
             'mean_iou': round(final['mean_iou'], 3),
             'mean_iou_with_moving_averages': round(results['moving averages']['mean_iou'], 3),
             'per_class_iou': [None if v is None else round(v, 3) for v in final['per_class_iou']]}
  if args.json:
    print(json.dumps(summary))
  else:
    print(f"{args.steps} steps of batch {args.batch} at {args.size}x{args.size}: {seconds:.0f} s with the "
          f"statistics update, {images_per_second} training images/s; mean IoU on {args.eval_scenes} unseen scenes "
          f"{summary['mean_iou']} (moving averages: {summary['mean_iou_with_moving_averages']}; background, disc, "
          f"square, triangle: {summary['per_class_iou']})")


if __name__ == '__main__':
  main()
