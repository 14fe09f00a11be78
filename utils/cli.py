"""The `slimnets` command line: thin commands over the library.

Conventions: exit status 0 on success, 2 on usage errors (argparse's), 1 on failures; failures print one line
`slimnets: error: ...` on stderr without a traceback, unless `--debug` is given.
"""

import argparse
import json
import os
import sys
from typing import Optional, Sequence


def _quiet_tensorflow() -> None:
  """Keeps TensorFlow's C++ start-up logging off the terminal unless the user asked for it."""
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def _cmd_list(args: argparse.Namespace) -> None:
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  from utils import parameters  # pylint: disable=import-outside-toplevel
  rows = [{
      'network': spec.name,
      'default_image_size': spec.default_image_size,
      'parameters': parameters.count_parameters(spec.name, num_classes=args.num_classes),
      'nominal_stride': spec.nominal_stride,
      'preprocessing': spec.preprocessing,
  } for spec in nets_factory.REGISTRY.values()]
  if args.json:
    print(json.dumps(rows, indent=1))
    return
  header = ('network', 'image size', f'parameters ({args.num_classes or "no"} classes)', 'stride', 'preprocessing')
  table = [header] + [(r['network'], str(r['default_image_size']), f"{r['parameters']:,}", str(r['nominal_stride']),
                       r['preprocessing']) for r in rows]
  widths = [max(len(row[i]) for row in table) for i in range(len(header))]
  for row in table:
    print('  '.join(cell.ljust(width) if i == 0 else cell.rjust(width)
                    for i, (cell, width) in enumerate(zip(row, widths))).rstrip())


def _non_negative_int(text: str) -> int:
  value = int(text)
  if value < 0:
    raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
  return value


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog='slimnets', description='TF-Slim style ResNet and Inception backbones.')
  parser.add_argument('--debug', action='store_true', help='show tracebacks of failures')
  commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
  listing = commands.add_parser('list', help='the networks, with default image size, parameters and stride')
  listing.add_argument('--num-classes', type=_non_negative_int, default=1000,
                       help='classes of the head counted in the parameters (0: features only; default 1000)')
  listing.add_argument('--json', action='store_true', help='print a JSON list instead of a table')
  listing.set_defaults(run=_cmd_list)
  return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  _quiet_tensorflow()
  try:
    args.run(args)
  except (ValueError, TypeError, OSError) as error:
    if args.debug:
      raise
    print(f'slimnets: error: {error}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
