"""Argument checks shared by the networks, run before any op, variable or scope is created.

Each check raises a `ValueError` naming the network function, the argument, the value given and what is
valid, so that a mistake surfaces at the call instead of as a shape error deep in the graph.
"""

import numbers

import tensorflow as tf


def check_images(inputs, caller: str) -> None:
  """`inputs` must be a `[batch, height, width, channels]` floating-point tensor with a known channel count."""
  shape = tf.TensorShape(getattr(inputs, 'shape', None))
  if shape.rank != 4 or shape[-1] is None:
    raise ValueError(f'{caller}: inputs must be a 4-D [batch, height, width, channels] tensor with a known '
                     f'channel count, got shape {shape}')
  dtype = getattr(inputs, 'dtype', None)
  try:
    dtype = tf.as_dtype(dtype)
  except TypeError:
    dtype = None
  if dtype is None or not dtype.is_floating:
    name = dtype.name if dtype is not None else repr(getattr(inputs, 'dtype', None))
    raise ValueError(f'{caller}: inputs must be a float tensor (float32, float16, bfloat16 or float64), got '
                     f'dtype {name}; cast the images, e.g. tf.cast(images, tf.float32), and preprocess them')


def check_num_classes(num_classes, caller: str) -> None:
  """`num_classes` must be None, 0 (no logits) or a positive int."""
  valid = num_classes is None or (isinstance(num_classes, numbers.Integral) and not isinstance(num_classes, bool)
                                  and num_classes >= 0)
  if not valid:
    raise ValueError(f'{caller}: num_classes must be None or 0 (no logits) or a positive int, got {num_classes!r}')


def check_depth_multiplier(depth_multiplier, caller: str) -> None:
  """`depth_multiplier` must be a real number > 0."""
  if (isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, numbers.Real)
      or not depth_multiplier > 0):
    raise ValueError(f'{caller}: depth_multiplier must be a number > 0, got {depth_multiplier!r}')
