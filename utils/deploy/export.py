"""SavedModel export of a backbone, for serving with nothing of this project installed.

The SavedModel's `serving_default` signature takes `images` (float32 `[batch, height, width, channels]`, batch,
height and width free, or height and width fixed by `input_size`) and returns `output` (the network's main
output: logits, or features without classes) plus one output per requested feature level, named by the level
('C2', 'C5', ...), all float32. Its
`serving_uint8` signature takes uint8 pixels instead, as decoders return them, and normalizes them as the
network's preprocessing does (`models.Backbone.from_pixels`; a segmenter takes [0, 255] pixels as they are). It runs the
network in inference mode, with batch norm folded into the convolutions (`layers.batch_norm_folded_for_inference`),
in float32 or bfloat16, with the weights as constants of the graph (as `inference.Predictor` runs them; the
SavedModel has no variables to fine-tune: fine-tune from the checkpoint). Load it with
`tf.saved_model.load(path).signatures['serving_default'](images=...)`. `export_openvino` and `export_tflite`
write the same function as an OpenVINO IR and a TFLite model.

A `models.Segmenter` (DeepLab) exports instead `logits` (float32 `[batch, height, width, classes]`, bilinearly
upsampled to the image size with aligned corners) and `labels` (int64 `[batch, height, width]`, their argmax),
for [0, 255] images.
"""

import os
from typing import Iterable, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from slimnets import models
from slimnets import staging
from slimnets.deploy import backends
from slimnets.deploy import precision as precisions
from slimnets.deploy import serving


def _check_export(backbone: models.NetworkModule, output: str, levels: Sequence[str], overwrite: bool) -> None:
  backbone.check_outputs(levels, verb='exports')
  staging.check_output(output, overwrite)


def export_saved_model(backbone: models.NetworkModule, output: str, levels: Sequence[str] = (),
                       overwrite: bool = False, precision: str = 'float32',
                       input_size: Optional[Tuple[int, int]] = None) -> str:
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
    input_size: (height, width) the signatures take, the batch still free (images of another size are an
      InvalidArgumentError naming the size); None: any size. A model served at one size runs faster with it:
      grappler and oneDNN plan the graph for known shapes (benchmarks/deployment.py).

  Returns:
    `output`.

  Raises:
    ValueError: for an unknown level or precision, or a bad `input_size`.
    FileExistsError: for an existing `output` without `overwrite`.
  """
  precisions.check_precision(precision)
  if input_size is not None:
    serving.check_run_arguments(input_size, 1)
  _check_export(backbone, output, levels, overwrite)
  shape = (None, *(input_size or (None, None)))
  module = tf.Module(name='serving')  # holds the functions alone: no unused copy of the weights as variables
  module.serve = serving.serving_function(backbone, levels, precision, shape, check_size=True)
  # uint8 pixels: normalized as the model takes them, then the float32 function (its weights are not copied)
  spec = tf.TensorSpec([*shape, backbone.in_channels], tf.uint8, name='images')
  module.serve_uint8 = tf.function(lambda images: module.serve(backbone.from_pixels(images)),
                                   input_signature=[spec])
  with staging.staged(output, directory=True) as folder:
    tf.saved_model.save(module, folder, signatures={'serving_default': module.serve,
                                                    'serving_uint8': module.serve_uint8})
  return output


def export_openvino(backbone: models.NetworkModule, output: str, levels: Sequence[str] = (), overwrite: bool = False,
                    precision: str = 'float32') -> str:
  """Writes `backbone` as an OpenVINO IR: a directory `output` with `model.xml` and `model.bin`.

  Needs the `openvino` package (`pip install openvino`, or `pip install '.[openvino]'` in a slimnets checkout).
  The model has the SavedModel's input and outputs (dynamic batch, height and width) and float32 weights;
  `precision` is recorded as its inference precision hint ('bfloat16': OpenVINO's bf16 where the CPU has it, f32
  elsewhere). Run it with
  `slimnets.deploy.backends.OpenVINOPredictor(output)` or `openvino.Core().compile_model(output + '/model.xml')`.

  Raises:
    ImportError: without openvino. ValueError, FileExistsError: as `export_saved_model`.
  """
  precisions.check_precision(precision)
  _check_export(backbone, output, levels, overwrite)
  ov = backends.import_openvino()
  model = backends.openvino_model(backbone, levels)
  model.set_rt_info(backends.OPENVINO_PRECISIONS[precision], ['runtime_options', 'INFERENCE_PRECISION_HINT'])
  with staging.staged(output, directory=True) as folder:
    ov.save_model(model, os.path.join(folder, 'model.xml'), compress_to_fp16=False)
  return output


def export_tflite(backbone: models.NetworkModule, output: str, input_size: Tuple[int, int], *, batch_size: int = 1,
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
      each (e.g. `slimnets.deploy.extract.preprocessed_images(folder, network, input_size)`); a hundred or so.

  Raises:
    ValueError: for a bad quantization, size or batch, or 'int8' without images. FileExistsError: as
      `export_saved_model`.
  """
  if quantization not in precisions.QUANTIZATIONS:
    raise ValueError(f'quantization must be one of {", ".join(precisions.QUANTIZATIONS)}, '
                     f'got {quantization!r}')
  serving.check_run_arguments(input_size, batch_size)
  if quantization == 'int8' and representative is None:
    raise ValueError("quantization='int8' needs representative images to calibrate on")
  _check_export(backbone, output, levels, overwrite)
  serve = serving.serving_function(backbone, levels, 'float32', (batch_size, *input_size))
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
  with staging.staged(output) as staged:
    with open(staged, 'wb') as out:
      out.write(model)
  return output
