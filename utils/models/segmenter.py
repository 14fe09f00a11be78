"""A DeepLab v3/v3+ model (`nets.deeplab`) in TF2 code: an eager `tf.Module` with DeepLab's variable names, built
as a `Backbone` is (the same getter, variables and checkpoints), returning the logits of each output."""

from typing import Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from nets import deeplab
from slimnets.models.backbone import Backbone


class Segmenter(Backbone):
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
  """

  def __init__(self, model_options, *, in_channels: int = 3, weight_decay: float = 0.0001,
               fine_tune_batch_norm: bool = True, image_pyramid: Optional[Sequence[float]] = None,
               synchronized_batch_norm: bool = False, name: Optional[str] = None):
    if not isinstance(model_options, deeplab.ModelOptions):
      raise ValueError(f'Segmenter: model_options must be a deeplab.ModelOptions, got {type(model_options).__name__}')
    super().__init__(model_options.model_variant, None, in_channels=in_channels,
                     synchronized_batch_norm=synchronized_batch_norm, name=name or 'deeplab')
    self._build.arg_scope = {}  # DeepLab sets every layer's arguments itself (`nets.deeplab`)
    self.model_options = model_options
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

  def build(self, input_size: Optional[int] = None) -> 'Segmenter':
    """Creates the variables by running once on zeros (default size: `crop_size`, else 33)."""
    if not self._variables:
      crop = self.model_options.crop_size
      size = (input_size, input_size) if input_size else (tuple(crop) if crop else (33, 33))
      self(tf.zeros([1, *size, self.in_channels]), training=False)
    return self

  def feature_levels(self, end_points: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    raise ValueError('a Segmenter has no feature levels: its outputs are the logits of each output')
