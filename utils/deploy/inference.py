"""Fast inference: a backbone frozen into constants, batch norm folded into the convolutions, float32 or bfloat16.

    backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False)
    backbone.restore(checkpoint)
    predictor = Predictor(backbone, precision='bfloat16', levels=('C4', 'C5'))
    outputs = predictor(images)   # {'output': array, 'C4': array, 'C5': array}, float32 numpy arrays

`Predictor` traces the network once per input shape with the backbone's weights as constants, so grappler
computes the folded weights (`layers.batch_norm_folded_for_inference`) and their bfloat16 casts once, and
oneDNN runs every convolution with its bias and activation as one kernel. In bfloat16 the activations and
weights are bfloat16 and the outputs are cast back to float32, which halves the memory traffic of every layer
(measured speeds: README, Performance). On hardware without bfloat16 instructions bfloat16 is emulated and
slower than float32, so `slimnets.deploy.precision.resolve_precision` falls back to float32 with a message.
"""

import statistics
import time
import warnings
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from nets import checks
from slimnets import models
from slimnets.deploy import backends
from slimnets.deploy import precision as precisions
from slimnets.deploy import serving

class Predictor:
  """Inference with a snapshot of a backbone's weights, in float32 or bfloat16.

  Args:
    backbone: a `models.NetworkModule` (built here if it has not run yet). Its weights are copied now: later changes
      to its variables need a new predictor.
    precision: 'float32' or 'bfloat16'. bfloat16 on hardware without bfloat16 instructions warns
      (RuntimeWarning) and runs float32; `precision` says what runs.
    levels: feature levels to return as well, e.g. ('C4', 'C5').
    pooled: also return 'pooled', the global average of the last feature map (`[batch, channels]`).
    unsupported_reason: as for `resolve_precision` (default: this machine's; None: bfloat16 is native).

  Raises:
    ValueError: for an unknown precision or level.
  """

  def __init__(self, backbone: models.NetworkModule, precision: str = 'float32', levels: Sequence[str] = (),
               pooled: bool = False, unsupported_reason: Optional[str] = ''):
    self.precision, message = precisions.resolve_precision(precision, unsupported_reason)
    backbone.check_outputs(levels, pooled)
    if message:
      warnings.warn(message, RuntimeWarning, stacklevel=2)
    self.backbone = backbone.build()
    self.levels = tuple(levels)
    self.pooled = pooled
    self._weights = serving.frozen_weights(self.backbone)
    self._function = tf.function(self._predict)

  def _predict(self, images: tf.Tensor) -> Dict[str, tf.Tensor]:
    return serving.folded_outputs(self.backbone, images, self.precision, self.levels, self.pooled,
                                  weights=serving.as_constants(self._weights))

  def __call__(self, images) -> Dict[str, np.ndarray]:
    """{'output': ..., level: ..., ['pooled': ...]} as float32 arrays for float32 `[batch, h, w, C]` images, or
    uint8 pixels (see `models.Backbone.__call__`) (a Segmenter's: 'logits' and 'labels', see `folded_outputs`)."""
    images = tf.convert_to_tensor(images)
    images = images if images.dtype == tf.uint8 else tf.cast(images, tf.float32)
    return {key: value.numpy() for key, value in self._function(images).items()}


def randomize_batch_norm(backbone: models.NetworkModule, seed: int = 0) -> None:
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


def make_predictor(backbone: models.NetworkModule, precision: str = 'float32', backend: str = 'tensorflow',
                   unsupported_reason: Optional[str] = ''):
  """`Predictor(backbone, precision)`, or with backend 'openvino' `backends.OpenVINOPredictor` (the same call)."""
  check_backend(backend)
  if backend == 'openvino':
    return backends.OpenVINOPredictor(backbone, precision, unsupported_reason=unsupported_reason)
  return Predictor(backbone, precision, unsupported_reason=unsupported_reason)


def benchmark(backbone: models.NetworkModule, input_size: Tuple[int, int], batch_size: int = 1,
              precision: str = 'float32', runs: int = 20, warmup: int = 3, seed: int = 0,
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
  serving.check_run_arguments(input_size, batch_size)
  check_backend(backend)
  checks.check_int('runs', runs, 1)
  checks.check_int('warmup', warmup, 0)
  ran, message = precisions.resolve_precision(precision, unsupported_reason)
  low, high = backbone.value_range
  images = np.random.RandomState(seed).uniform(low, high, [batch_size, *input_size, backbone.in_channels])
  images = images.astype(np.float32)
  predictor = make_predictor(backbone, ran, backend, unsupported_reason=None)
  key = backbone.main_output
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
    result['max_rel_error_vs_float32'] = serving.max_relative_error(first, reference)
  return result
