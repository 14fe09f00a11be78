"""Inference speed of the dense-prediction backbones, next to resnet_v1_50, in float32 and bfloat16.

Each network runs through `slimnets.Predictor` (weights frozen, batch norm folded into the convolutions,
depthwise ones included) at one output stride and size, batch 1, on the same random images. Every side is
warmed up, then the sides are timed alternately, `--runs` times each; medians, images/s and the ratio of each
median to resnet_v1_50's float32 one (measured in the same run) are reported. bfloat16 is asked for whatever
the CPU supports (`unsupported_reason=None`), so on a CPU without bfloat16 instructions it measures emulation;
`--precisions float32` skips it.

    python benchmarks/backbones.py [--runs 7] [--size 513] [--output-stride 16]
        [--networks resnet_v1_50,resnet_v1_50_beta,mobilenet_v1,mobilenet_v2,xception_65] [--precisions float32,bfloat16] [--json]
"""

import argparse
import json
import os
import statistics
import sys
import time
import warnings

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
sys.path[:0] = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]

import numpy as np  # pylint: disable=wrong-import-position

from slimnets.deploy import inference  # pylint: disable=wrong-import-position
from slimnets.deploy import precision as precisions  # pylint: disable=wrong-import-position
from slimnets import models  # pylint: disable=wrong-import-position


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--runs', type=int, default=7)
  parser.add_argument('--size', type=int, default=513)
  parser.add_argument('--output-stride', type=int, default=16)
  parser.add_argument('--networks', default='resnet_v1_50,resnet_v1_50_beta,mobilenet_v1,mobilenet_v2,xception_65')
  parser.add_argument('--precisions', default='float32,bfloat16')
  parser.add_argument('--json', action='store_true')
  args = parser.parse_args()
  networks = args.networks.split(',')
  if networks[0] != 'resnet_v1_50':
    networks.insert(0, 'resnet_v1_50')  # the baseline of the ratios
  sides = {}
  for network in networks:
    backbone = models.Backbone(network, output_stride=args.output_stride, global_pool=False)
    backbone.build()
    inference.randomize_batch_norm(backbone)  # fresh batch norm would time a network no training leaves
    for precision in args.precisions.split(','):
      with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        sides[(network, precision)] = inference.Predictor(backbone, precision, unsupported_reason=None)
  images = np.random.RandomState(0).uniform(-1, 1, [1, args.size, args.size, 3]).astype(np.float32)
  for predictor in sides.values():
    for _ in range(3):
      predictor(images)
  times = {side: [] for side in sides}
  for _ in range(args.runs):
    for side, predictor in sides.items():
      start = time.perf_counter()
      predictor(images)
      times[side].append(1000 * (time.perf_counter() - start))
  baseline = statistics.median(times[('resnet_v1_50', 'float32')]) if ('resnet_v1_50', 'float32') in times else None
  native = precisions.bfloat16_unsupported_reason() is None
  rows = []
  for (network, precision), measured in times.items():
    median = statistics.median(measured)
    rows.append({'network': network, 'precision': precision, 'ms_median': median, 'images_per_second': 1000 / median,
                 'vs_resnet_v1_50_float32': median / baseline if baseline else None,
                 'bfloat16_native': native if precision == 'bfloat16' else None})
  if args.json:
    print(json.dumps({'size': args.size, 'output_stride': args.output_stride, 'runs': args.runs, 'rows': rows},
                     indent=1))
    return
  print(f'{args.size}x{args.size}, output stride {args.output_stride}, batch 1, folded batch norm, median of '
        f'{args.runs}; bfloat16 {"native" if native else "EMULATED (no bfloat16 instructions here)"}')
  for row in rows:
    print(f"{row['network']:<20} {row['precision']:<9} {row['ms_median']:8.1f} ms  {row['images_per_second']:6.2f} "
          f"images/s  {row['vs_resnet_v1_50_float32']:.2f}x resnet_v1_50 float32 time")


if __name__ == '__main__':
  main()
