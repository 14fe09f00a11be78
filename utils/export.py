"""SavedModel export of a backbone, for serving with nothing of this project installed.

The SavedModel's `serving_default` signature takes `images` (float32 `[batch, height, width, channels]`, batch,
height and width free) and returns `output` (the network's main output: logits, or features without classes)
plus one output per requested feature level, named by the level ('C2', 'C5', ...), all float32. Its
`serving_uint8` signature takes uint8 pixels instead, as decoders return them, and normalizes them as the
network's preprocessing does (`tf2.Backbone.from_pixels`; a segmenter takes [0, 255] pixels as they are). It runs the
network in inference mode, with batch norm folded into the convolutions (`layers.batch_norm_folded_for_inference`),
in float32 or bfloat16, with the weights as constants of the graph (as `inference.Predictor` runs them; the
SavedModel has no variables to fine-tune: fine-tune from the checkpoint). Load it with
`tf.saved_model.load(path).signatures['serving_default'](images=...)`. `export_openvino` and `export_tflite`
write the same function as an OpenVINO IR and a TFLite model.

A `tf2.Segmenter` (DeepLab) exports instead `logits` (float32 `[batch, height, width, classes]`, bilinearly
upsampled to the image size with aligned corners) and `labels` (int64 `[batch, height, width]`, their argmax),
for [0, 255] images.
"""

import os
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from utils import checkpoints
from utils import features
from utils import files
from utils import inference
from utils import precision as precisions
from utils import tf2

def serving_function(backbone: tf2.Backbone, levels: Sequence[str] = (), precision: str = 'float32',
                     input_shape: Sequence[Optional[int]] = (None, None, None)):
  """The serving function of every export: float32 `images` -> {'output', level, ...} (a `Segmenter`: 'logits'
  and 'labels'), the backbone's weights as constants (as `inference.Predictor` runs them), not variables.

  A function that reads variables folds batch norm into the convolutions, and casts to bfloat16, at every call,
  and oneDNN re-lays out its weights at every call; with constants, grappler does the folding once when the
  SavedModel is loaded and oneDNN keeps its weight layouts, so the SavedModel runs as fast as `Predictor`
  (benchmarks/deployment.py). The weights are a snapshot: later changes to the variables are not seen.

  Args:
    input_shape: (batch, height, width) of the images; None where any size is taken (TFLite needs them fixed).
  """
  weights = inference.frozen_weights(backbone)

  def serve(images):
    return inference.folded_outputs(backbone, images, precision, levels, weights=inference.as_constants(weights))

  spec = tf.TensorSpec([*input_shape, backbone.in_channels], tf.float32, name='images')
  return tf.function(serve, input_signature=[spec])


def _check_export(backbone: tf2.Backbone, output: str, levels: Sequence[str], overwrite: bool) -> None:
  if isinstance(backbone, tf2.Segmenter) and levels:
    raise ValueError(f'a Segmenter exports its logits and labels, not feature levels; got levels={list(levels)}')
  features.check_levels(backbone.network, levels)
  checkpoints.check_output(output, overwrite)


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
  precisions.check_precision(precision)
  _check_export(backbone, output, levels, overwrite)
  serving = tf.Module(name='serving')  # holds the functions alone: no unused copy of the weights as variables
  serving.serve = serving_function(backbone, levels, precision)
  # uint8 pixels: normalized as the model takes them, then the float32 function (its weights are not copied)
  spec = tf.TensorSpec([None, None, None, backbone.in_channels], tf.uint8, name='images')
  serving.serve_uint8 = tf.function(lambda images: serving.serve(backbone.from_pixels(images)),
                                    input_signature=[spec])
  with files.staged(output, directory=True) as staging:
    tf.saved_model.save(serving, staging, signatures={'serving_default': serving.serve,
                                                      'serving_uint8': serving.serve_uint8})
  return output


def export_openvino(backbone: tf2.Backbone, output: str, levels: Sequence[str] = (), overwrite: bool = False,
                    precision: str = 'float32') -> str:
  """Writes `backbone` as an OpenVINO IR: a directory `output` with `model.xml` and `model.bin`.

  Needs the `openvino` package (`pip install openvino`, or `pip install '.[openvino]'` in a slimnets checkout).
  The model has the SavedModel's input and outputs (dynamic batch, height and width) and float32 weights;
  `precision` is recorded as its inference precision hint ('bfloat16': OpenVINO's bf16 where the CPU has it, f32
  elsewhere). Run it with
  `utils.backends.OpenVINOPredictor(output)` or `openvino.Core().compile_model(output + '/model.xml')`.

  Raises:
    ImportError: without openvino. ValueError, FileExistsError: as `export_saved_model`.
  """
  from utils import backends  # pylint: disable=import-outside-toplevel
  precisions.check_precision(precision)
  _check_export(backbone, output, levels, overwrite)
  ov = backends.import_openvino()
  model = backends.openvino_model(backbone, levels)
  model.set_rt_info(backends.OPENVINO_PRECISIONS[precision], ['runtime_options', 'INFERENCE_PRECISION_HINT'])
  with files.staged(output, directory=True) as staging:
    ov.save_model(model, os.path.join(staging, 'model.xml'), compress_to_fp16=False)
  return output


def export_tflite(backbone: tf2.Backbone, output: str, input_size: Tuple[int, int], *, batch_size: int = 1,
                  levels: Sequence[str] = (), quantization: str = 'float32',
                  representative: Optional[Iterable[np.ndarray]] = None, overwrite: bool = False) -> str:
  """Writes `backbone` as a TFLite model file `output` for float32 images of one size.

  Its signature 'serving_default' takes `images` ([batch_size, height, width, C]) and returns the SavedModel's
  outputs, float32.

  Args:
    input_size: (height, width): TFLite models have a fixed input shape.
    quantization: 'float32'; 'float16' (weights stored as float16, computed in float32 on CPUs); 'int8'
      (post-training quantization of weights and activations, calibrated on `representative`; inputs and
      outputs stay float32).
    representative: for 'int8': preprocessed float32 images, `[height, width, C]` or `[1, height, width, C]`
      each (e.g. `utils.extract.preprocessed_images(folder, network, input_size)`); a hundred or so.

  Raises:
    ValueError: for a bad quantization, size or batch, or 'int8' without images. FileExistsError: as
      `export_saved_model`.
  """
  if quantization not in precisions.QUANTIZATIONS:
    raise ValueError(f'quantization must be one of {", ".join(precisions.QUANTIZATIONS)}, '
                     f'got {quantization!r}')
  inference.check_run_arguments(input_size, batch_size)
  if quantization == 'int8' and representative is None:
    raise ValueError("quantization='int8' needs representative images to calibrate on")
  _check_export(backbone, output, levels, overwrite)
  serve = serving_function(backbone, levels, 'float32', (batch_size, *input_size))
  holder = tf.Module()  # given with the function, the converter writes its signature ('serving_default')
  holder.serve = serve
  converter = tf.lite.TFLiteConverter.from_concrete_functions([serve.get_concrete_function()], holder)
  if quantization != 'float32':
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
  if quantization == 'float16':
    converter.target_spec.supported_types = [tf.float16]
  if quantization == 'int8':
    images = [np.asarray(image, np.float32).reshape(1, *input_size, backbone.in_channels)
              for image in representative]
    if not images:
      raise ValueError("quantization='int8' needs representative images to calibrate on; got none")
    converter.representative_dataset = lambda: ([np.repeat(image, batch_size, axis=0)] for image in images)
  logger = tf.get_logger()
  level = logger.level
  logger.setLevel('ERROR')  # the converter warns of each graph collection it cannot serialize (end points)
  try:
    model = converter.convert()
  finally:
    logger.setLevel(level)
  with files.staged(output) as staging:
    with open(staging, 'wb') as out:
      out.write(model)
  return output
