"""The arguments every layer checks the same way: sizes, data format, padding, output counts, collections."""

from typing import Optional, Sequence, Union

from nets import checks

IntPair = Union[int, Sequence[int]]
NHWC = 'NHWC'


def check_data_format(data_format: Optional[str]) -> None:
  if data_format not in (None, NHWC):
    raise ValueError(f"data_format must be 'NHWC' (or None), got {data_format!r}: "
                     'these layers are built for channels-last tensors')


def check_padding(padding) -> None:
  if padding not in ('SAME', 'VALID'):
    raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")


def num_outputs_of(value, layer: str, allow_none: bool = False):
  """`num_outputs` as a python int (numpy ints and `Dimension`s accepted), or a ValueError."""
  number = checks.as_int(value)
  if (allow_none and value is None) or (isinstance(number, int) and number > 0):
    return number
  valid = 'None (depthwise only) or a positive int' if allow_none else 'a positive int'
  raise ValueError(f'{layer}: num_outputs must be {valid}, got {value!r}')


def collections_for(variables_collections, name: str) -> list:
  """The extra collections for variable `name`: a dict maps names to collections, a list applies to all."""
  if isinstance(variables_collections, dict):
    extra = variables_collections.get(name)
  else:
    extra = variables_collections
  if extra is None:
    return []
  return [extra] if isinstance(extra, str) else list(extra)
