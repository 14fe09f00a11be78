"""Other runtimes for a network: OpenVINO (an optional extra) and TFLite, each with `Predictor`'s call.

    predictor = OpenVINOPredictor(backbone, precision='bfloat16', levels=('C5',))   # or an exported IR's folder
    outputs = predictor(images)       # {'output': array, 'C5': array}, float32 numpy arrays, as Predictor gives
    lite = TFLitePredictor('model.tflite')
    outputs = lite(images)            # images of the size it was exported at

Both run the network `slimnets.deploy.serving.serving_function` traces (weights as constants, batch norm folded), so
their outputs are the TensorFlow path's within each runtime's rounding (tests/test_backends.py). OpenVINO
converts that function in memory (`openvino_model`); `pip install openvino` (or `pip install '.[openvino]'` in
a slimnets checkout) installs it.
"""

import os
import warnings
from typing import Dict, Optional, Sequence, Union

import numpy as np
import tensorflow as tf

from slimnets import models
from slimnets.deploy import precision as precisions
from slimnets.deploy import serving

OPENVINO_PRECISIONS = {'float32': 'f32', 'bfloat16': 'bf16'}  # INFERENCE_PRECISION_HINT values


def import_openvino():
  """The `openvino` module, or an ImportError saying how to install it."""
  try:
    import openvino  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise ImportError("the OpenVINO backend needs the openvino package: pip install openvino (or, in a slimnets "
                      "checkout, pip install '.[openvino]', the project's extra)") from None
  return openvino


def openvino_model(backbone: models.NetworkModule, levels: Sequence[str] = ()):
  """The backbone's float32 serving function (`serving.serving_function`) as an `openvino.Model`, with the
  input `images` (dynamic batch, height and width) and the outputs named as the SavedModel's."""
  ov = import_openvino()
  serve = serving.serving_function(backbone, levels, 'float32')
  return ov.convert_model(serve.get_concrete_function())


class OpenVINOPredictor:
  """`Predictor`'s call on OpenVINO's CPU runtime.

  Args:
    model: a `models.NetworkModule` (converted now, weights as they are), or the folder `export.export_openvino` wrote.
    precision: 'float32' or 'bfloat16' (OpenVINO's inference precision; bfloat16 where the CPU lacks it warns
      as `Predictor` does and runs float32); None: the exported model's own (its `--precision`), or float32.
    levels: with a backbone, feature levels to return as well.
    threads: CPU threads for inference (default: OpenVINO's, all cores).
    unsupported_reason: as for `precision.resolve_precision`.
  """

  def __init__(self, model: Union[models.NetworkModule, str], precision: Optional[str] = None,
               levels: Sequence[str] = (), threads: Optional[int] = None, unsupported_reason: Optional[str] = ''):
    ov = import_openvino()
    if isinstance(model, models.NetworkModule):
      model = openvino_model(model, levels)
    elif levels:
      raise ValueError('levels= is for a backbone; an exported model has the levels it was exported with')
    else:
      model = ov.Core().read_model(os.path.join(model, 'model.xml'))
    if precision is None:
      key = ['runtime_options', 'INFERENCE_PRECISION_HINT']
      hint = model.get_rt_info(key).astype(str) if model.has_rt_info(key) else 'f32'
      precision = {code: name for name, code in OPENVINO_PRECISIONS.items()}.get(hint, 'float32')
    self.precision, message = precisions.resolve_precision(precision, unsupported_reason)
    if message:
      warnings.warn(message, RuntimeWarning, stacklevel=2)
    config = {'INFERENCE_PRECISION_HINT': OPENVINO_PRECISIONS[self.precision]}
    if threads:
      config['INFERENCE_NUM_THREADS'] = threads
    self._compiled = ov.Core().compile_model(model, 'CPU', config)
    self._request = self._compiled.create_infer_request()
    # An output port may carry several names (with no classes, 'output' and the last level are one tensor).
    self._outputs = [(port, sorted(port.get_names())) for port in self._compiled.outputs]

  def __call__(self, images) -> Dict[str, np.ndarray]:
    """{'output': ..., level: ...} as float32 arrays for float32 `[batch, h, w, C]` images."""
    results = self._request.infer({0: np.asarray(images, np.float32)})
    return {name: np.array(results[port], np.float32) for port, names in self._outputs for name in names}


def _lite_interpreter(path: str, threads: Optional[int]):
  """LiteRT's interpreter where `ai-edge-litert` is installed, else TensorFlow's (deprecated, still in 2.21)."""
  try:
    from ai_edge_litert import interpreter as litert  # pylint: disable=import-outside-toplevel
    return litert.Interpreter(model_path=path, num_threads=threads)
  except ImportError:
    with warnings.catch_warnings():
      warnings.filterwarnings('ignore', message=r'(?s).*tf\.lite\.Interpreter is deprecated')
      return tf.lite.Interpreter(model_path=path, num_threads=threads)


class TFLitePredictor:
  """`Predictor`'s call on a model `export.export_tflite` wrote, with the TFLite interpreter (XNNPACK on CPUs).

  Args:
    path: the `.tflite` file.
    threads: CPU threads (default: 1 for the interpreter; pass the core count to use them all).
  """

  def __init__(self, path: str, threads: Optional[int] = None):
    self._interpreter = _lite_interpreter(path, threads)
    self._runner = self._interpreter.get_signature_runner()
    self.input_shape = tuple(int(v) for v in self._runner.get_input_details()['images']['shape'])

  def __call__(self, images) -> Dict[str, np.ndarray]:
    """{'output': ..., level: ...} as float32 arrays for float32 images of `input_shape`."""
    images = np.asarray(images, np.float32)
    if images.shape != self.input_shape:
      raise ValueError(f'this TFLite model takes images of shape {list(self.input_shape)}, got {list(images.shape)}')
    return {name: np.asarray(value, np.float32) for name, value in self._runner(images=images).items()}


def agreement(reference, candidate, images: Sequence[np.ndarray], batch_size: int = 1) -> Dict[str, Optional[float]]:
  """How closely `candidate` (e.g. an int8 `TFLitePredictor`) follows `reference` (e.g. the float32 `Predictor`)
  on `images` (`[height, width, C]` each), in batches of `batch_size` (a last partial batch is left out).

  Returns:
    {'images': how many were compared, 'max_rel_error': the largest `serving.max_relative_error` of 'output'
     (a segmenter's 'logits') over the batches, 'top1_agreement': the fraction of images whose arg max class is
     the same, where 'output' is `[batch, classes]` logits, else None, 'pixel_agreement': for a segmenter, the
     fraction of pixels with the same label, else None}.
  """
  errors, count, classified, same, pixels, same_pixels = [], 0, 0, 0, 0, 0
  for start in range(0, len(images) - batch_size + 1, batch_size):
    batch = np.stack(images[start:start + batch_size]).astype(np.float32)
    expected, found = reference(batch), candidate(batch)
    key = 'output' if 'output' in expected else 'logits'
    want, got = expected[key], found[key]
    errors.append(serving.max_relative_error(got, want))
    agree = int(np.sum(np.argmax(got, -1) == np.argmax(want, -1)))
    if key == 'logits':  # a segmenter's, per pixel
      same_pixels += agree
      pixels += int(np.prod(want.shape[:-1]))
    elif want.ndim == 2:  # [batch, classes]
      same += agree
      classified += batch_size
    count += batch_size
  return {'images': count, 'max_rel_error': max(errors) if errors else None,
          'top1_agreement': same / classified if classified else None,
          'pixel_agreement': same_pixels / pixels if pixels else None}
