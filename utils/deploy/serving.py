"""The one inference path of every deployment: a model frozen into constants, batch norm folded.

`folded_outputs` runs a backbone (or a DeepLab segmenter) in inference mode with batch norm folded into the
convolutions, in float32 or bfloat16, on weights given as constants (`frozen_weights`, `as_constants`);
`serving_function` wraps it as the `tf.function` every export format writes, and `inference.Predictor` traces
the same thing. This module is the bottom of `slimnets.deploy`: the predictor, the backends and the exports
import it, and it imports none of them.
"""

from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from nets import checks
from slimnets import models
from slimnets.deploy import precision as precisions


def folded_outputs(model: models.NetworkModule, images: tf.Tensor, precision: str = 'float32',
                   levels: Sequence[str] = (), pooled: bool = False,
                   weights: Optional[Dict[str, tf.Tensor]] = None) -> Dict[str, tf.Tensor]:
  """The model in inference mode with batch norm folded, computed in `precision`: its serving outputs.

  The one inference path of `Predictor` (weights as constants) and of the SavedModel export (the variables).

  Returns:
    `model.serving_outputs`: a `models.Backbone`'s {'output': the network's output, level: each of `levels`,
    'pooled': the last level averaged over height and width (with `pooled`)}, all float32; a `models.Segmenter`'s
    {'logits': the first output's logits bilinearly upsampled to the image size (aligned corners), float32;
    'labels': their argmax, int64}.
  """
  model.check_outputs(levels, pooled)
  if images.dtype == tf.uint8:  # pixels: the network's pixel normalization first, then the precision
    images = model.from_pixels(images)
  net, end_points = model(tf.cast(images, precisions.dtype(precision)), training=False, weights=weights,
                          fold_batch_norm=True)
  return model.serving_outputs(net, end_points, images, levels, pooled)


def frozen_weights(backbone: models.NetworkModule) -> Dict[str, np.ndarray]:
  """The current values of the backbone's variables by name (built first if need be)."""
  return {name: variable.numpy() for name, variable in backbone.build().variables_by_name.items()}


def as_constants(values: Dict[str, np.ndarray]) -> Dict[str, tf.Tensor]:
  """Weights as graph constants, for `Backbone.__call__(..., weights=)` inside a traced function.

  Constants, not variables, are what make inference fast: grappler folds batch norm into the convolutions (and
  casts to bfloat16) once, and oneDNN keeps the reordered layouts of constant filters between calls.
  """
  return {name: tf.constant(value) for name, value in values.items()}


def check_run_arguments(input_size, batch_size) -> None:
  """Raises ValueError for an input size that is not (height, width) of positive ints, or a bad batch size."""
  checks.check_int('batch_size', batch_size, 1)
  if (not isinstance(input_size, (tuple, list)) or len(input_size) != 2
      or not all(checks.is_int(v) for v in input_size)):
    raise ValueError(f'input_size must be (height, width) of positive ints, got {input_size!r}')


def max_relative_error(outputs: np.ndarray, reference: np.ndarray) -> float:
  """max |outputs - reference| / max |reference|: the largest error relative to the reference's range."""
  scale = float(np.max(np.abs(reference)))
  return float(np.max(np.abs(outputs.astype(np.float64) - reference))) / scale if scale else 0.0


def serving_function(backbone: models.NetworkModule, levels: Sequence[str] = (), precision: str = 'float32',
                     input_shape: Sequence[Optional[int]] = (None, None, None), check_size: bool = False):
  """The serving function of every export: float32 `images` -> {'output', level, ...} (a `Segmenter`: 'logits'
  and 'labels'), the backbone's weights as constants (as `inference.Predictor` runs them), not variables.

  A function that reads variables folds batch norm into the convolutions, and casts to bfloat16, at every call,
  and oneDNN re-lays out its weights at every call; with constants, grappler does the folding once when the
  SavedModel is loaded and oneDNN keeps its weight layouts, so the SavedModel runs as fast as `Predictor`
  (benchmarks/deployment.py). The weights are a snapshot: later changes to the variables are not seen.

  Args:
    input_shape: (batch, height, width) of the images; None where any size is taken (TFLite needs them fixed).
    check_size: assert at run time that the images have the fixed height and width of `input_shape`: a
      SavedModel's signature does not check the shapes it is called with, and a graph traced for one size run
      on another fails obscurely, or computes wrong sizes (TFLite checks its input shape itself).
  """
  weights = frozen_weights(backbone)
  height, width = input_shape[1:3]

  def serve(images):
    if check_size and height is not None and width is not None:
      assertion = tf.debugging.Assert(
          tf.reduce_all(tf.equal(tf.shape(images)[1:3], [height, width])),
          [f'this model takes images of {height}x{width} (its input_size), got shape', tf.shape(images)],
          summarize=4)
      with tf.control_dependencies([assertion]):
        images = tf.identity(images)
    return folded_outputs(backbone, images, precision, levels, weights=as_constants(weights))

  spec = tf.TensorSpec([*input_shape, backbone.in_channels], tf.float32, name='images')
  return tf.function(serve, input_signature=[spec])


