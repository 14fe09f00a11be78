"""A DeepLab v3/v3+ model (`nets.deeplab`) in TF2 code: an eager `tf.Module` with DeepLab's variable names, run as
a `Backbone` is (the same `NetworkModule`: getter, variables and checkpoints), returning the logits of each output."""

import functools
from typing import Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from nets import checks
from nets import deeplab
from slimnets.models.module import NetworkModule
from slimnets.models.module import check_eager
from slimnets.models.module import new_variable


class Segmenter(NetworkModule):
  """A DeepLab v3/v3+ model (`nets.deeplab`) as an eager, trainable `tf.Module`, with DeepLab's variable names.

  `segmenter(images, training)` returns (the merged logits of the first output, {output: merged logits}) for
  [0, 255] images; DeepLab checkpoints restore by name (`restore`), `save` writes one, `regularization_loss()`
  is the weight decay of every layer (backbone and heads).

  Args:
    model_options: a `deeplab.ModelOptions`.
    in_channels: channels the images must have.
    weight_decay: L2 weight of the convolution kernels (DeepLab's default 1e-4).
    fine_tune_batch_norm: with `training=True`, normalize with batch statistics and update the moving averages
      (DeepLab's switch; off for small batches per replica, or on with `synchronized_batch_norm`).
    image_pyramid: scales to run at (default (1.0,)).
    synchronized_batch_norm: as for `Backbone`: batch statistics of the global batch across replicas.
    name: the module's name (default 'deeplab'); variable names do not depend on it.
    variable_factory: as for `Backbone` (`slimnets.keras.Segmenter` makes Keras weights).
  """

  def __init__(self, model_options, *, in_channels: int = 3, weight_decay: float = 0.0001,
               fine_tune_batch_norm: bool = True, image_pyramid: Optional[Sequence[float]] = None,
               synchronized_batch_norm: bool = False, name: Optional[str] = None, variable_factory=new_variable):
    if not isinstance(model_options, deeplab.ModelOptions):
      raise ValueError(f'Segmenter: model_options must be a deeplab.ModelOptions, got {type(model_options).__name__}')
    model_options = model_options.checked()  # DeepLab checks them when the model is built: here, before any op
    check_eager('Segmenter')
    checks.check_int('in_channels', in_channels)
    # No arg scope of the model's own: DeepLab sets every layer's arguments itself (`nets.deeplab`).
    super().__init__(name or 'deeplab', in_channels=in_channels, synchronized_batch_norm=synchronized_batch_norm,
                     variable_factory=variable_factory, arg_scope={})
    self.network = model_options.model_variant  # the backbone DeepLab's heads are on
    # Kept as it is: a tf.Module would wrap the namedtuple (and its dict) in trackable proxies.
    self.model_options = self._no_dependency(model_options)
    self.weight_decay = weight_decay
    self.fine_tune_batch_norm = fine_tune_batch_norm
    self.image_pyramid = tuple(image_pyramid or (1.0,))

  def from_pixels(self, images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels are what a Segmenter takes ([0, 255]; DeepLab preprocesses inside): cast to float32."""
    return tf.cast(images, tf.float32)

  def _network(self, images: tf.Tensor, training) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    outputs = deeplab.multi_scale_logits(images, self.model_options, self.image_pyramid, self.weight_decay,
                                         is_training=training, fine_tune_batch_norm=self.fine_tune_batch_norm)
    logits = {output: scales[deeplab.MERGED_LOGITS_SCOPE] for output, scales in outputs.items()}
    return logits[sorted(logits)[0]], logits

  def predict(self, images, eval_scales: Sequence[float] = (1.0,), add_flipped_images: bool = False,
              output: Optional[str] = None, crop_size: Optional[Sequence[int]] = None) -> tf.Tensor:
    """Per-pixel labels `[batch, height, width]` (int64) at the images' size, in inference mode: the argmax of the
    softmax of the logits upsampled to the image size, averaged over `eval_scales` and, with
    `add_flipped_images`, over the left-right flipped images too (DeepLab's eval.py and vis.py).

    Args:
      images: `[batch, height, width, in_channels]`, [0, 255] (uint8 or float), any size the model takes.
      eval_scales: scales to run the model at, e.g. (0.5, 0.75, 1.0, 1.25, 1.5, 1.75).
      add_flipped_images: also run on the mirrored images.
      output: the output to predict (default: the first of `outputs_to_num_classes`, by name).
      crop_size: (height, width) the images are padded to, DeepLab's eval_crop_size (their static size must be
        it): the model runs with it as its crop size, as DeepLab's eval.py and vis.py do, so that an image-level
        pooling of `image_pooling_crop_size` windows (DeepLab's MobileNet v3 Cityscapes models) pools those
        windows, not the whole map. None: the model's own crop size where the images have it, else the whole map.

    Raises:
      ValueError: for bad images, scales, output or crop size, before anything runs.
    """
    scales = tuple(eval_scales)
    if not scales or not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in scales):
      raise ValueError(f'predict: eval_scales must hold scales > 0, got {eval_scales!r}')
    outputs = sorted(self.model_options.outputs_to_num_classes)
    output = outputs[0] if output is None else output
    if output not in outputs:
      raise ValueError(f'predict: output must be one of {outputs}, got {output!r}')
    images = self.network_input(images)
    if crop_size is not None and tuple(images.shape[1:3]) != tuple(crop_size):
      raise ValueError(f'predict: crop_size {tuple(crop_size)} is not the images\' size '
                       f'{"x".join(str(n) for n in images.shape[1:3])} (pad them to it)')
    size = tf.shape(images)[1:3]
    total = None
    for scale in scales:
      for flipped in ((False, True) if add_flipped_images else (False,)):
        inputs = tf.reverse(images, [2]) if flipped else images
        logits, _ = self._run(inputs, False, None,
                              functools.partial(self._logits_at_scale, float(scale), output, crop_size))
        logits = tf.reverse(logits, [2]) if flipped else logits
        probabilities = tf.nn.softmax(deeplab.resize_bilinear(logits, size, tf.float32))
        total = probabilities if total is None else total + probabilities
    return tf.argmax(total, 3)

  def _logits_at_scale(self, scale: float, output: str, crop_size: Optional[Sequence[int]], images: tf.Tensor,
                       training) -> Tuple[tf.Tensor, dict]:
    options = self.model_options
    if crop_size is not None:
      options = options._replace(crop_size=tuple(crop_size))
    elif options.crop_size and tuple(images.shape[1:3]) != tuple(options.crop_size):
      options = options._replace(crop_size=None, image_pooling_crop_size=None)  # another size than the crops'
    outputs = deeplab.multi_scale_logits(images, options, (scale,), self.weight_decay, is_training=training,
                                         fine_tune_batch_norm=self.fine_tune_batch_norm)
    return outputs[output][deeplab.MERGED_LOGITS_SCOPE], {}

  def build(self, input_size: Optional[int] = None) -> 'Segmenter':
    """Creates the variables by running once on zeros (default size: `crop_size`, else 33)."""
    if not self._variables:
      crop = self.model_options.crop_size
      size = (input_size, input_size) if input_size else (tuple(crop) if crop else (33, 33))
      self(tf.zeros([1, *size, self.in_channels]), training=False)
    return self

  # Its serving outputs are the logits at the image size and their argmax (`slimnets.deploy.serving`).
  main_output = 'logits'

  @property
  def value_range(self) -> Tuple[float, float]:
    """[0, 255] pixels: DeepLab preprocesses inside the model."""
    return (0.0, 255.0)

  def default_input_size(self) -> Tuple[int, int]:
    """(height, width): the model's crop size, or DeepLab's 513x513."""
    return tuple(self.model_options.crop_size or deeplab.DEFAULT_CROP_SIZE)

  def check_outputs(self, levels: Sequence[str] = (), pooled: bool = False, verb: str = 'gives') -> None:
    """Raises ValueError for feature levels or `pooled`: a segmenter `verb`s its logits and labels."""
    if levels or pooled:
      raise ValueError(f'a Segmenter {verb} its logits and labels, not feature levels; got levels={list(levels)}'
                       f'{", pooled=True" if pooled else ""}')

  def serving_outputs(self, net: tf.Tensor, end_points: Mapping[str, tf.Tensor], images: tf.Tensor,
                      levels: Sequence[str] = (), pooled: bool = False) -> Dict[str, tf.Tensor]:
    """{'logits': the first output's logits bilinearly upsampled to the image size (aligned corners), float32;
    'labels': their argmax, int64}."""
    del end_points, levels, pooled
    logits = deeplab.resize_bilinear(net, tf.shape(images)[1:3])
    return {self.main_output: logits, 'labels': tf.argmax(logits, 3)}
