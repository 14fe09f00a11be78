"""Precisions: the float32 and bfloat16 compute types, and whether this machine runs bfloat16 natively.

bfloat16 halves memory traffic and doubles the throughput of convolutions on hardware with bfloat16
instructions; elsewhere TensorFlow emulates it, slower than float32, so a bfloat16 request falls back to
float32 with a message there (`resolve_precision`). Batch norm parameters stay float32 in any precision
(`nets.layers`).
"""

import platform
from typing import Optional, Tuple

PRECISIONS = ('float32', 'bfloat16')  # TensorFlow is imported only when a dtype is needed (the CLI's choices)
QUANTIZATIONS = ('float32', 'float16', 'int8')  # of a TFLite export (`slimnets.deploy.export.export_tflite`)
BACKENDS = ('tensorflow', 'openvino')  # the runtimes of `slimnets.deploy.inference.make_predictor`


def check_precision(precision: str) -> None:
  """Raises ValueError for a precision other than those of `PRECISIONS`."""
  if precision not in PRECISIONS:
    raise ValueError(f'precision must be one of {", ".join(PRECISIONS)}, got {precision!r}')


def dtype(precision: str):
  """The TensorFlow dtype of `precision` ('float32' or 'bfloat16')."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  check_precision(precision)
  return tf.as_dtype(precision)


def _cpu_flags(cpuinfo: str = '/proc/cpuinfo') -> set:
  """The feature flags of the first CPU in `cpuinfo` (empty where there is no such file)."""
  try:
    with open(cpuinfo, encoding='utf-8', errors='replace') as file:
      for line in file:
        key, _, value = line.partition(':')
        if key.strip() in ('flags', 'Features'):
          return set(value.split())
  except OSError:
    pass
  return set()


def bfloat16_unsupported_reason(cpuinfo: str = '/proc/cpuinfo') -> Optional[str]:
  """None when this machine computes bfloat16 convolutions natively, else why not, in words.

  Native means a GPU of compute capability 8.0 or later, an x86 CPU with AVX512_BF16 or AMX-BF16, or an ARM
  CPU with the BF16 extension.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  for gpu in tf.config.list_physical_devices('GPU'):
    capability = tf.config.experimental.get_device_details(gpu).get('compute_capability')
    if capability and tuple(capability) >= (8, 0):
      return None
  flags = _cpu_flags(cpuinfo)
  if flags & {'avx512_bf16', 'amx_bf16', 'bf16'}:
    return None
  machine = platform.machine() or 'this machine'
  return (f'this {machine} CPU has no bfloat16 instructions (avx512_bf16, amx_bf16 or ARM bf16 in '
          f'{cpuinfo}) and no GPU of compute capability >= 8.0 is visible')


def resolve_precision(precision: str, unsupported_reason: Optional[str] = '') -> Tuple[str, Optional[str]]:
  """The precision to run for a requested one, and a message when it differs.

  Args:
    precision: 'float32' or 'bfloat16'.
    unsupported_reason: why bfloat16 is not native here (None: it is); default: `bfloat16_unsupported_reason()`.

  Returns:
    (precision to run, None or a one-line message explaining a fall back to float32).

  Raises:
    ValueError: for a precision other than those of `PRECISIONS`.
  """
  check_precision(precision)
  if precision == 'bfloat16':
    reason = bfloat16_unsupported_reason() if unsupported_reason == '' else unsupported_reason
    if reason is not None:
      return 'float32', f'bfloat16 requested, running float32: {reason}, where bfloat16 is slower than float32'
  return precision, None
