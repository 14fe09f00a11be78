"""Argument checks shared by the networks, run before any op, variable or scope is created.

Each check raises a `ValueError` naming the network function, the argument, the value given and what is
valid, so that a mistake surfaces at the call instead of as a shape error deep in the graph.

Static shapes are read with `static_shape` and sizes with `as_int` / `int_pair`, which hold in both TensorFlow
behaviours: under `tf.compat.v1.disable_v2_behavior()` a `TensorShape` holds `Dimension` objects (an unknown one
is `Dimension(None)`, which is not `None`), and TF1 code passes sizes as `Dimension`s, `TensorShape` slices
(`net.get_shape()[1:3]`), numpy integers and lists.
"""

import numbers
from typing import List, Optional

import tensorflow as tf


def static_shape(value) -> Optional[List[Optional[int]]]:
  """The static shape of a tensor, array or shape as a list of ints and Nones; None when the rank is unknown."""
  shape = tf.TensorShape(getattr(value, 'shape', value))
  return None if shape.rank is None else shape.as_list()


def shape_text(value) -> str:
  """The static shape of a tensor or shape as TF2 prints it, e.g. '(None, 64, 64, 3)', in both behaviours."""
  dims = static_shape(value)
  return '<unknown>' if dims is None else str(tuple(dims))


def as_int(value):
  """`value` as a python int when it is an integer (python or numpy, or a `Dimension` with a value).

  Anything else (None, an unknown `Dimension`, a float, a bool, a string) comes back unchanged for the caller's
  check to reject with its own message.
  """
  if isinstance(value, tf.compat.v1.Dimension):
    if value.value is None:
      return value  # unknown: not a size
    value = value.value
  if isinstance(value, numbers.Integral) and not isinstance(value, bool):
    return int(value)
  return value


def int_pair(value, name: str) -> tuple:
  """`value` as an (h, w) pair of positive python ints, or a ValueError naming `name`.

  Accepts what tf-slim's layers accept for sizes, strides and rates: an int (python or numpy), a `Dimension`
  with a value, or a list, tuple or `TensorShape` of one or two of these.
  """
  items = value
  if isinstance(value, tf.TensorShape):
    items = value.as_list() if value.rank is not None else None
  if isinstance(items, (list, tuple)):
    pair = tuple(as_int(v) for v in items)
    pair = pair * 2 if len(pair) == 1 else pair
  else:
    pair = (as_int(items),) * 2
  if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
    raise ValueError(f'{name} must be a positive int or a pair of positive ints, got {value!r}')
  return pair


def is_int(value, minimum: int = 1) -> bool:
  """Whether `value` is a python int (not a bool) >= `minimum`."""
  return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def check_int(name: str, value, minimum: int = 1, allow_none: bool = False) -> None:
  """Raises ValueError naming `name` unless `value` is an int >= `minimum` (or None, with `allow_none`)."""
  if (value is None and allow_none) or is_int(value, minimum):
    return
  kind = 'a positive int' if minimum == 1 else f'an int >= {minimum}'
  raise ValueError(f'{name} must be {"None or " if allow_none else ""}{kind}, got {value!r}')


def multi_grid(value, count: int, per: str, caller: Optional[str] = None) -> Optional[tuple]:
  """`value` (None, or `count` int rates >= 1: numpy ints and `Dimension`s too) as None or a tuple of ints.

  Raises:
    ValueError: naming `caller` and what each rate is for (`per`, e.g. 'unit of block4').
  """
  if value is None:
    return None
  found = tuple(as_int(r) for r in value) if isinstance(value, (list, tuple)) else ()
  if len(found) != count or not all(is_int(r) for r in found):
    raise ValueError(f'{caller + ": " if caller else ""}multi_grid must be None or {count} int rates >= 1, one per '
                     f'{per}, got {value!r}')
  return found


def check_images(inputs, caller: str) -> None:
  """`inputs` must be a `[batch, height, width, channels]` float32, float16 or bfloat16 tensor with a known
  channel count and no axis known to be empty (float64 is refused: batch norm's fused kernel has no float64
  version)."""
  shape = static_shape(getattr(inputs, 'shape', None))
  if shape is None or len(shape) != 4 or shape[-1] is None:
    raise ValueError(f'{caller}: inputs must be a 4-D [batch, height, width, channels] tensor with a known '
                     f'channel count, got shape {shape_text(getattr(inputs, "shape", None))}')
  check_not_empty(inputs, caller)
  dtype = getattr(inputs, 'dtype', None)
  try:
    dtype = tf.as_dtype(dtype)
  except TypeError:
    dtype = None
  if dtype is None or not dtype.is_floating:
    name = dtype.name if dtype is not None else repr(getattr(inputs, 'dtype', None))
    raise ValueError(f'{caller}: inputs must be a float tensor (float32, float16 or bfloat16), got '
                     f'dtype {name}; cast the images, e.g. tf.cast(images, tf.float32), and preprocess them')
  if dtype.base_dtype == tf.float64:
    raise ValueError(f'{caller}: inputs must be float32, float16 or bfloat16, got dtype float64 (numpy\'s '
                     'default): batch norm\'s fused kernel has no float64 version; cast the images, e.g. '
                     'tf.cast(images, tf.float32)')


def check_not_empty(inputs, caller: str) -> None:
  """Raises ValueError naming the axes of `[batch, height, width, channels]` inputs that are known to be empty."""
  shape = static_shape(getattr(inputs, 'shape', inputs)) or []
  empty = [axis for axis, n in zip(('batch', 'height', 'width', 'channel'), shape) if n == 0]
  if empty:
    raise ValueError(f'{caller}: inputs must hold at least one image of at least 1x1 pixels and one channel, got '
                     f'shape {shape_text(inputs)}: its {" and ".join(empty)} '
                     f'{"axis is" if len(empty) == 1 else "axes are"} empty')


def check_num_classes(num_classes, caller: str) -> Optional[int]:
  """`num_classes` must be None, 0 (no logits) or a positive int (numpy's and `Dimension`s too); returns it as
  a python int (or None)."""
  value = as_int(num_classes)
  if not (value is None or (isinstance(value, int) and value >= 0)) or isinstance(num_classes, bool):
    raise ValueError(f'{caller}: num_classes must be None or 0 (no logits) or a positive int, got {num_classes!r}')
  return value


def check_depth_multiplier(depth_multiplier, caller: str) -> None:
  """`depth_multiplier` must be a real number > 0."""
  if (isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, numbers.Real)
      or not depth_multiplier > 0):
    raise ValueError(f'{caller}: depth_multiplier must be a number > 0, got {depth_multiplier!r}')
