"""The one inference path of every deployment: a model frozen into constants, batch norm folded.

`folded_outputs` runs a backbone (or a DeepLab segmenter) in inference mode with batch norm folded into the
convolutions, in float32 or bfloat16, on weights given as constants (`frozen_weights`, `as_constants`);
`serving_function` wraps it as the `tf.function` every export format writes, and `inference.Predictor` traces
the same thing. This module is the bottom of `slimnets.deploy`: the predictor, the backends and the exports
import it, and it imports none of them.
"""

from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from nets import checks
from nets import deeplab
from nets import layers
from slimnets import models
from slimnets.analysis import features
from slimnets.deploy import precision as precisions


def folded_outputs(backbone: models.Backbone, images: tf.Tensor, precision: str = 'float32', levels: Sequence[str] = (),
                   pooled: bool = False, weights: Optional[Dict[str, tf.Tensor]] = None) -> Dict[str, tf.Tensor]:
  """The backbone in inference mode with batch norm folded, computed in `precision`, outputs cast to float32.

  The one inference path of `Predictor` (weights as constants) and of the SavedModel export (the variables).

  Returns:
    {'output': the network's output, level: each of `levels`, 'pooled': the last level averaged over height and
     width (with `pooled`)}, all float32. A `models.Segmenter`: {'logits': the first output's logits bilinearly
     upsampled to the image size (aligned corners), float32; 'labels': their argmax, int64}.
  """
  check_outputs(backbone, levels, pooled)
  if images.dtype == tf.uint8:  # pixels: the network's pixel normalization first, then the precision
    images = backbone.from_pixels(images)
  with layers.batch_norm_folded_for_inference():
    net, end_points = backbone(tf.cast(images, precisions.dtype(precision)), training=False, weights=weights)
  if isinstance(backbone, models.Segmenter):
    logits = deeplab.resize_bilinear(net, tf.shape(images)[1:3])
    return {'logits': logits, 'labels': tf.argmax(logits, 3)}
  found = backbone.feature_levels(end_points) if levels or pooled else {}
  outputs = {'output': net, **{level: found[level] for level in levels}}
  if pooled:
    outputs['pooled'] = tf.reduce_mean(found[features.level_end_points(backbone.network)[-1][0]], axis=[1, 2])
  return {key: tf.cast(value, tf.float32) for key, value in outputs.items()}


def check_outputs(backbone: models.Backbone, levels: Sequence[str] = (), pooled: bool = False,
                  verb: str = 'gives') -> None:
  """Raises ValueError for feature levels or `pooled` asked of a Segmenter (it `verb`s logits and labels), or
  levels the backbone's network does not have."""
  if isinstance(backbone, models.Segmenter):
    if levels or pooled:
      raise ValueError(f'a Segmenter {verb} its logits and labels, not feature levels; got levels={list(levels)}'
                       f'{", pooled=True" if pooled else ""}')
    return
  features.check_levels(backbone.network, levels)


def main_output(backbone: models.Backbone) -> str:
  """The key of the main output of `folded_outputs`: 'logits' for a Segmenter, else 'output'."""
  return 'logits' if isinstance(backbone, models.Segmenter) else 'output'


DEEPLAB_CROP = 513  # DeepLab's default crop size (export, evaluation)


def default_input_size(backbone: models.Backbone) -> Tuple[int, int]:
  """(height, width) a model runs at by default: a Segmenter's crop size or DeepLab's 513x513, else the network's
  default image size."""
  if isinstance(backbone, models.Segmenter):
    return tuple(backbone.model_options.crop_size or (DEEPLAB_CROP, DEEPLAB_CROP))
  return (backbone.default_image_size,) * 2


def frozen_weights(backbone: models.Backbone) -> Dict[str, np.ndarray]:
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


def serving_function(backbone: models.Backbone, levels: Sequence[str] = (), precision: str = 'float32',
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


