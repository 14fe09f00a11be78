"""What a build is asked to do beyond the network's own code: one `BuildOptions` object per thread, set for a block
by `build_options(...)` (which `building` and the models' calls open) and read by the layers as they build.

The layers read it instead of taking arguments because these choices belong to whoever runs the network (an
export folds batch norm, precise batch norm overrides the decay, eager code collects the regularizers), not to the
network function, whose signature stays research/slim's. Per thread, as TensorFlow keeps its scopes: builds in
other threads are not affected.
"""

import contextlib
import dataclasses
import threading
from typing import Iterator, Optional


@dataclasses.dataclass(frozen=True)
class BuildOptions:
  """The options of the builds in the current block.

  Attributes:
    fold_batch_norm: `conv2d` (and the separable convolutions) fold an inference-mode `batch_norm` into their
      weights (`normalization.batch_norm_folded_for_inference`).
    moving_average_decay: `batch_norm` in training mode updates its moving averages with this decay (a float or
      a scalar float tensor) instead of its own; None: its own.
    regularizer_sink: a list that `model_variable` appends `(variable, regularizer)` to instead of adding the
      regularization loss to the graph (eager code, which has no collections); None: the graph collection.
  """
  fold_batch_norm: bool = False
  moving_average_decay: object = None
  regularizer_sink: Optional[list] = None


_DEFAULT = BuildOptions()
_CURRENT = threading.local()  # .options: this thread's BuildOptions


def current() -> BuildOptions:
  """The options of this thread's builds now."""
  return getattr(_CURRENT, 'options', _DEFAULT)


@contextlib.contextmanager
def build_options(**changes) -> Iterator[BuildOptions]:
  """Within this block (in this thread), builds run with the current options changed by `changes` (fields of
  `BuildOptions`); the previous options come back after it.

  Raises:
    TypeError: for a name that is not a field of `BuildOptions`.
  """
  previous = current()
  _CURRENT.options = dataclasses.replace(previous, **changes)
  try:
    yield _CURRENT.options
  finally:
    _CURRENT.options = previous
