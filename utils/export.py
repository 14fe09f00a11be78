"""SavedModel export of a backbone, for serving with nothing of this project installed.

The SavedModel's `serving_default` signature takes `images` (float32 `[batch, height, width, channels]`, batch,
height and width free) and returns `output` (the network's main output: logits, or features without classes)
plus one output per requested feature level, named by the level ('C2', 'C5', ...), all float32. It runs the
network in inference mode, with batch norm folded into the convolutions (`layers.batch_norm_folded_for_inference`),
in float32 or bfloat16, with the weights as constants of the graph (as `inference.Predictor` runs them; the
SavedModel has no variables to fine-tune: export the checkpoint for that). Load it with `tf.saved_model.load(path).signatures['serving_default'](images=...)`.

A `tf2.Segmenter` (DeepLab) exports instead `logits` (float32 `[batch, height, width, classes]`, bilinearly
upsampled to the image size with aligned corners) and `labels` (int64 `[batch, height, width]`, their argmax),
for [0, 255] images.
"""

from typing import Sequence

import tensorflow as tf

from utils import checkpoints
from utils import features
from utils import files
from utils import inference
from utils import precision as precisions
from utils import tf2

def _frozen_serving(backbone: tf2.Backbone, levels: Sequence[str], precision: str) -> tf.Module:
  """The SavedModel's root object: a module holding only the serving function, with the backbone's weights as
  constants (as `inference.Predictor` runs it), not variables.

  A function that reads variables folds batch norm into the convolutions, and casts to bfloat16, at every call,
  and oneDNN re-lays out its weights at every call; with constants, grappler does the folding once when the
  SavedModel is loaded and oneDNN keeps its weight layouts, so the SavedModel runs as fast as `Predictor`
  (benchmarks/deployment.py). The backbone is not tracked: no unused variables are written beside them.
  """
  weights = inference.frozen_weights(backbone)

  def serve(images):
    outputs = inference.folded_outputs(backbone, images, precision, levels, weights=inference.as_constants(weights))
    if isinstance(backbone, tf2.Segmenter):
      from nets import deeplab  # pylint: disable=import-outside-toplevel
      logits = deeplab.resize_bilinear(outputs['output'], tf.shape(images)[1:3])
      return {'logits': logits, 'labels': tf.argmax(logits, 3)}
    return outputs

  module = tf.Module(name='serving')
  spec = tf.TensorSpec([None, None, None, backbone.in_channels], tf.float32, name='images')
  module.serve = tf.function(serve, input_signature=[spec])
  return module


def export_saved_model(backbone: tf2.Backbone, output: str, levels: Sequence[str] = (),
                       overwrite: bool = False, precision: str = 'float32') -> str:
  """Writes `backbone` as a SavedModel directory `output` (see the module docstring for its signature).

  The directory is written next to `output` under a temporary name and moved into place when complete, so a
  failure leaves nothing behind (and, with `overwrite`, the previous export intact).

  Args:
    backbone: the backbone, with its weights (its variables are built if it has not run yet).
    output: the SavedModel directory to create.
    levels: feature levels to add as outputs, e.g. ('C2', 'C5').
    overwrite: replace an existing `output`.
    precision: 'float32', or 'bfloat16' to compute in bfloat16 (inputs and outputs stay float32). Exported as
      asked, whatever this machine supports: the SavedModel may be served elsewhere.

  Returns:
    `output`.

  Raises:
    ValueError: for an unknown level or precision.
    FileExistsError: for an existing `output` without `overwrite`.
  """
  if isinstance(backbone, tf2.Segmenter) and levels:
    raise ValueError(f'a Segmenter exports its logits and labels, not feature levels; got levels={list(levels)}')
  features.check_levels(backbone.network, levels)
  precisions.check_precision(precision)
  checkpoints.check_output(output, overwrite)
  backbone.build()
  serving = _frozen_serving(backbone, levels, precision)
  with files.staged(output, directory=True) as staging:
    tf.saved_model.save(serving, staging, signatures={'serving_default': serving.serve})
  return output
