"""The `slimnets` command line: thin commands over the library.

Conventions: exit status 0 on success, 2 on usage errors (argparse's, and what `usage.check_usage` finds from the
arguments alone before TensorFlow loads), 1 on failures; failures print one line `slimnets: error: ...` on stderr
without a traceback, unless `--debug` is given. The commands (`commands`) load TensorFlow, so they are imported
once the arguments are checked: the one import inside a function in the package.
"""

import sys
import warnings
from typing import Optional, Sequence

from slimnets.cli import arguments
from slimnets.cli import terminal
from slimnets.cli import usage


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = arguments.build_parser().parse_args(argv)
  usage.check_usage(args)
  if not args.debug:
    terminal.quiet_tensorflow()
  with warnings.catch_warnings():
    warnings.showwarning = terminal.show_warning
    try:
      from slimnets.cli import commands  # pylint: disable=import-outside-toplevel
      commands.RUN[args.command](args)
    except FileExistsError as error:  # an existing output: a usage error, as usage.check_usage finds most
      if args.debug:
        raise
      args.parser.error(str(error))
    except (ValueError, TypeError, OSError, ImportError) as error:
      if args.debug:
        raise
      print(f'slimnets: error: {error}', file=sys.stderr)
      return 1
    except KeyboardInterrupt as interrupt:
      if args.debug:
        raise
      kept = getattr(interrupt, 'kept', 'nothing half-written is left')
      print(f'slimnets: interrupted; {kept}', file=sys.stderr)
      return 130  # as a shell reports SIGINT
  return 0
