"""Fast inference: a backbone frozen into constants, batch norm folded into the convolutions, float32 or bfloat16.

    backbone = tf2.Backbone('resnet_v1_50', output_stride=16, global_pool=False)
    backbone.restore(checkpoint)
    predictor = Predictor(backbone, precision='bfloat16', levels=('C4', 'C5'))
    outputs = predictor(images)   # {'output': array, 'C4': array, 'C5': array}, float32 numpy arrays

`Predictor` traces the network once per input shape with the backbone's weights as constants, so grappler
computes the folded weights (`layers.batch_norm_folded_for_inference`) and their bfloat16 casts once, and
oneDNN runs every convolution with its bias and activation as one kernel. In bfloat16 the activations and
weights are bfloat16 and the outputs are cast back to float32, which halves the memory traffic of every layer
(measured speeds: README, Performance). On hardware without bfloat16 instructions bfloat16 is emulated and
slower than float32, so `utils.precision.resolve_precision` falls back to float32 with a message.
"""

import statistics
import time
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from nets import checks
from nets import layers
from utils import features
from utils import precision as precisions
from utils import tf2

def folded_outputs(backbone: tf2.Backbone, images: tf.Tensor, precision: str = 'float32', levels: Sequence[str] = (),
                   pooled: bool = False, weights: Optional[Dict[str, tf.Tensor]] = None) -> Dict[str, tf.Tensor]:
  """The backbone in inference mode with batch norm folded, computed in `precision`, outputs cast to float32.

  The one inference path of `Predictor` (weights as constants) and of the SavedModel export (the variables).

  Returns:
    {'output': the network's output, level: each of `levels`, 'pooled': the last level averaged over height and
     width (with `pooled`)}, all float32. A `tf2.Segmenter`: {'logits': the first output's logits bilinearly
     upsampled to the image size (aligned corners), float32; 'labels': their argmax, int64}.
  """
  check_outputs(backbone, levels, pooled)
  if images.dtype == tf.uint8:  # pixels: the network's pixel normalization first, then the precision
    images = backbone.from_pixels(images)
  with layers.batch_norm_folded_for_inference():
    net, end_points = backbone(tf.cast(images, precisions.dtype(precision)), training=False, weights=weights)
  if isinstance(backbone, tf2.Segmenter):
    from nets import deeplab  # pylint: disable=import-outside-toplevel
    logits = deeplab.resize_bilinear(net, tf.shape(images)[1:3])
    return {'logits': logits, 'labels': tf.argmax(logits, 3)}
  found = backbone.feature_levels(end_points) if levels or pooled else {}
  outputs = {'output': net, **{level: found[level] for level in levels}}
  if pooled:
    outputs['pooled'] = tf.reduce_mean(found[features.level_end_points(backbone.network)[-1][0]], axis=[1, 2])
  return {key: tf.cast(value, tf.float32) for key, value in outputs.items()}


def check_outputs(backbone: tf2.Backbone, levels: Sequence[str] = (), pooled: bool = False) -> None:
  """Raises ValueError for feature levels or `pooled` asked of a Segmenter (it gives logits and labels), or
  levels the backbone's network does not have."""
  if isinstance(backbone, tf2.Segmenter):
    if levels or pooled:
      raise ValueError(f'a Segmenter gives its logits and labels, not feature levels; got levels={list(levels)}'
                       f'{", pooled=True" if pooled else ""}')
    return
  features.check_levels(backbone.network, levels)


def main_output(backbone: tf2.Backbone) -> str:
  """The key of the main output of `folded_outputs`: 'logits' for a Segmenter, else 'output'."""
  return 'logits' if isinstance(backbone, tf2.Segmenter) else 'output'


def default_input_size(backbone: tf2.Backbone) -> Tuple[int, int]:
  """(height, width) a model runs at by default: a Segmenter's crop size or DeepLab's 513x513, else the network's
  default image size."""
  if isinstance(backbone, tf2.Segmenter):
    return tuple(backbone.model_options.crop_size or (DEEPLAB_CROP, DEEPLAB_CROP))
  return (backbone.default_image_size,) * 2


DEEPLAB_CROP = 513  # DeepLab's default crop size (export, evaluation)


def frozen_weights(backbone: tf2.Backbone) -> Dict[str, np.ndarray]:
  """The current values of the backbone's variables by name (built first if need be)."""
  return {name: variable.numpy() for name, variable in backbone.build().variables_by_name.items()}


def as_constants(values: Dict[str, np.ndarray]) -> Dict[str, tf.Tensor]:
  """Weights as graph constants, for `Backbone.__call__(..., weights=)` inside a traced function.

  Constants, not variables, are what make inference fast: grappler folds batch norm into the convolutions (and
  casts to bfloat16) once, and oneDNN keeps the reordered layouts of constant filters between calls.
  """
  return {name: tf.constant(value) for name, value in values.items()}


class Predictor:
  """Inference with a snapshot of a backbone's weights, in float32 or bfloat16.

  Args:
    backbone: a `tf2.Backbone` (built here if it has not run yet). Its weights are copied now: later changes
      to its variables need a new predictor.
    precision: 'float32' or 'bfloat16'. bfloat16 on hardware without bfloat16 instructions warns
      (RuntimeWarning) and runs float32; `precision` says what runs.
    levels: feature levels to return as well, e.g. ('C4', 'C5').
    pooled: also return 'pooled', the global average of the last feature map (`[batch, channels]`).
    unsupported_reason: as for `resolve_precision` (default: this machine's; None: bfloat16 is native).

  Raises:
    ValueError: for an unknown precision or level.
  """

  def __init__(self, backbone: tf2.Backbone, precision: str = 'float32', levels: Sequence[str] = (),
               pooled: bool = False, unsupported_reason: Optional[str] = ''):
    self.precision, message = precisions.resolve_precision(precision, unsupported_reason)
    check_outputs(backbone, levels, pooled)
    if message:
      warnings.warn(message, RuntimeWarning, stacklevel=2)
    self.backbone = backbone.build()
    self.levels = tuple(levels)
    self.pooled = pooled
    self._weights = frozen_weights(self.backbone)
    self._function = tf.function(self._predict)

  def _predict(self, images: tf.Tensor) -> Dict[str, tf.Tensor]:
    return folded_outputs(self.backbone, images, self.precision, self.levels, self.pooled,
                          weights=as_constants(self._weights))

  def __call__(self, images) -> Dict[str, np.ndarray]:
    """{'output': ..., level: ..., ['pooled': ...]} as float32 arrays for float32 `[batch, h, w, C]` images, or
    uint8 pixels (see `tf2.Backbone.__call__`) (a Segmenter's: 'logits' and 'labels', see `folded_outputs`)."""
    images = tf.convert_to_tensor(images)
    images = images if images.dtype == tf.uint8 else tf.cast(images, tf.float32)
    return {key: value.numpy() for key, value in self._function(images).items()}


def check_run_arguments(input_size, batch_size) -> None:
  """Raises ValueError for an input size that is not (height, width) of positive ints, or a bad batch size."""
  checks.check_int('batch_size', batch_size, 1)
  if (not isinstance(input_size, (tuple, list)) or len(input_size) != 2
      or not all(checks.is_int(v) for v in input_size)):
    raise ValueError(f'input_size must be (height, width) of positive ints, got {input_size!r}')


def _input_range(backbone: tf2.Backbone) -> Tuple[float, float]:
  """The value range of the images `backbone` takes: VGG's mean-subtracted pixels or [-1, 1]; a Segmenter's
  [0, 255] pixels."""
  if isinstance(backbone, tf2.Segmenter):
    return (0.0, 255.0)
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  return nets_factory.get_spec(backbone.network).value_range


def max_relative_error(outputs: np.ndarray, reference: np.ndarray) -> float:
  """max |outputs - reference| / max |reference|: the largest error relative to the reference's range."""
  scale = float(np.max(np.abs(reference)))
  return float(np.max(np.abs(outputs.astype(np.float64) - reference))) / scale if scale else 0.0


def randomize_batch_norm(backbone: tf2.Backbone, seed: int = 0) -> None:
  """Gives the backbone's batch norm variables random values of a trained network's kind, for timing.

  Freshly initialized batch norm is the identity: zero offsets, which grappler removes as adds of zero, and
  then a convolution with a bias and activation no longer fuses into one kernel. A trained network never has
  that, so timing random weights without this would not time what real weights run. Gammas and variances are
  drawn from U(0.5, 1.5), betas and means from U(-0.1, 0.1).
  """
  rng = np.random.RandomState(seed)
  for name, variable in backbone.build().variables_by_name.items():
    if name.endswith(('/gamma', '/moving_variance')):
      variable.assign(rng.uniform(0.5, 1.5, variable.shape).astype(np.float32))
    elif name.endswith(('/beta', '/moving_mean')):
      variable.assign(rng.uniform(-0.1, 0.1, variable.shape).astype(np.float32))


def check_backend(backend: str) -> None:
  """Raises ValueError for a backend other than those of `precision.BACKENDS`."""
  if backend not in precisions.BACKENDS:
    raise ValueError(f'backend must be one of {", ".join(precisions.BACKENDS)}, got {backend!r}')


def make_predictor(backbone: tf2.Backbone, precision: str = 'float32', backend: str = 'tensorflow',
                   unsupported_reason: Optional[str] = ''):
  """`Predictor(backbone, precision)`, or with backend 'openvino' `utils.backends.OpenVINOPredictor` (same call)."""
  check_backend(backend)
  if backend == 'openvino':
    from utils import backends  # pylint: disable=import-outside-toplevel
    return backends.OpenVINOPredictor(backbone, precision, unsupported_reason=unsupported_reason)
  return Predictor(backbone, precision, unsupported_reason=unsupported_reason)


def benchmark(backbone: tf2.Backbone, input_size: Tuple[int, int], batch_size: int = 1, precision: str = 'float32',
              runs: int = 20, warmup: int = 3, seed: int = 0,
              unsupported_reason: Optional[str] = '', backend: str = 'tensorflow') -> Dict[str, object]:
  """Times `Predictor(backbone, precision)` (or the OpenVINO backend's) on random images of the network's input
  range.

  Each timed run is one call, from a float32 numpy batch to float32 numpy outputs. For bfloat16 the outputs
  are compared with those of float32 on the same images (`max_relative_error`). The backbone's weights are
  used as they are: for random weights, call `randomize_batch_norm` first.

  Returns:
    {'network', 'input_size', 'batch', 'precision' (what ran), 'requested_precision', 'backend', 'runs',
     'images_per_second' (batch / median), 'ms_per_batch_median', 'ms_per_batch_min', 'ms_per_batch_max',
     'ms_per_batch_p10', 'ms_per_batch_p90', 'max_rel_error_vs_float32' (bfloat16 only), 'message' (or None)}.

  Raises:
    ValueError: for a bad size, batch, run count, precision or backend, or a size the network does not take.
    ImportError: for the OpenVINO backend without openvino.
  """
  check_run_arguments(input_size, batch_size)
  check_backend(backend)
  checks.check_int('runs', runs, 1)
  checks.check_int('warmup', warmup, 0)
  ran, message = precisions.resolve_precision(precision, unsupported_reason)
  low, high = _input_range(backbone)
  images = np.random.RandomState(seed).uniform(low, high, [batch_size, *input_size, backbone.in_channels])
  images = images.astype(np.float32)
  predictor = make_predictor(backbone, ran, backend, unsupported_reason=None)
  key = main_output(backbone)
  first = predictor(images)[key]
  for _ in range(warmup):
    predictor(images)
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    predictor(images)
    times.append(1000.0 * (time.perf_counter() - start))
  median = statistics.median(times)
  result = {
      'network': backbone.network, 'input_size': list(input_size), 'batch': batch_size, 'precision': ran,
      'requested_precision': precision, 'backend': backend, 'runs': runs,
      'images_per_second': batch_size * 1000.0 / median,
      'ms_per_batch_median': median, 'ms_per_batch_min': min(times), 'ms_per_batch_max': max(times),
      'ms_per_batch_p10': float(np.percentile(times, 10)), 'ms_per_batch_p90': float(np.percentile(times, 90)),
      'message': message,
  }
  if ran == 'bfloat16':
    reference = Predictor(backbone, 'float32')(images)[key]
    result['max_rel_error_vs_float32'] = max_relative_error(first, reference)
  return result
