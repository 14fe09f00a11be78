"""The export formats: one table that `slimnets export`'s choices, its checks and its dispatch read (no
TensorFlow: the command line checks its arguments before TensorFlow loads)."""

import dataclasses
from typing import Optional, Tuple


@dataclasses.dataclass(frozen=True)
class Format:
  """An export format.

  Attributes:
    name: the `--format` value.
    help: what it writes, for `--help`.
    fixed_shape: the model takes one input size and batch (`--batch` and the quantization options are this
      format's only).
    sized: it takes `--input-size` (a fixed-shape format: its one size; else: fixes the height and width the
      model takes, batch still free).
    precision: it takes `--precision` (a compute precision or a runtime's hint); else it computes in float32.
    package: the Python package its writer needs beyond TensorFlow, or None.
  """
  name: str
  help: str
  fixed_shape: bool = False
  sized: bool = False
  precision: bool = True
  package: Optional[str] = None


FORMATS: Tuple[Format, ...] = (
    Format('savedmodel', 'a SavedModel directory (the default)', sized=True),
    Format('openvino', 'an OpenVINO IR directory: model.xml and model.bin (needs the openvino package)',
           package='openvino'),
    Format('tflite', 'a .tflite file for one input size', fixed_shape=True, sized=True, precision=False),
)
NAMES = tuple(f.name for f in FORMATS)


def get_format(name: str) -> Format:
  """The format `name`.

  Raises:
    ValueError: naming the formats there are.
  """
  for candidate in FORMATS:
    if candidate.name == name:
      return candidate
  raise ValueError(f'format must be one of {", ".join(NAMES)}, got {name!r}')
