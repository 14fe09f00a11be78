"""What the command line shows on the terminal: TensorFlow's start-up logging kept off it, native stderr silenced
where it only repeats what a one-line warning says, progress only on a terminal, warnings as one line."""

import argparse
import contextlib
import os
import sys

from tqdm import tqdm


def quiet_tensorflow() -> None:
  """Imports TensorFlow with its C++ start-up logging (oneDNN, CUDA stubs) kept off the terminal.

  TF_CPP_MIN_LOG_LEVEL does not cover the messages written before absl's logging starts, nor the CUDA errors of
  device discovery on machines without a GPU, so stderr's file descriptor points at /dev/null while TensorFlow
  loads and lists its devices; Python errors are raised after it is restored.
  """
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in sys.modules:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
      import tensorflow  # pylint: disable=import-outside-toplevel
      tensorflow.config.list_physical_devices()  # device discovery logs about missing CUDA drivers
  finally:
    os.dup2(saved, 2)
    os.close(saved)


@contextlib.contextmanager
def native_stderr_silenced():
  """Native (C++) writes to stderr go to /dev/null, while Python's `sys.stderr` still reaches the terminal.

  The JPEG and PNG decoders print lines of their own for each corrupt image ('Premature end of JPEG data',
  'Input file read error'), which extract reports in one line instead, and TFLite's quantizer prints its
  settings ('fully_quantize: 0, inference_type: 6, ...'); `--debug` keeps them.
  """
  try:
    python_on_fd_2 = sys.stderr.fileno() == 2
  except (AttributeError, OSError, ValueError):  # a stand-in (a test's): Python's writes do not use fd 2
    python_on_fd_2 = False
  sys.stderr.flush()
  saved = os.dup(2)
  previous = sys.stderr
  if python_on_fd_2:
    sys.stderr = os.fdopen(saved, 'w', buffering=1, closefd=False)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    sys.stderr = previous


def shows_progress(args: argparse.Namespace) -> bool:
  """Progress goes to stderr only when it is a terminal, and never with --quiet (pipes and logs stay clean)."""
  return not getattr(args, 'quiet', False) and sys.stderr.isatty()


def status(args: argparse.Namespace, text: str) -> None:
  """A status line on stderr ('slimnets: building resnet_v1_50 ...') for the slow steps, where progress shows."""
  if shows_progress(args):
    print(f'slimnets: {text} ...', file=sys.stderr, flush=True)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
  """Warnings as one line `slimnets: warning: ...` on stderr, above a progress bar if one is shown."""
  del category, filename, lineno, file, line
  tqdm.write(f'slimnets: warning: {message}', file=sys.stderr)
