"""DeepLab v3/v3+ as a Keras 3 model, with DeepLab's loss, mean IoU and learning rate as Keras objects.

    options = deeplab.ModelOptions({'semantic': 21}, atrous_rates=(6, 12, 18), output_stride=16,
                                   decoder_output_stride=(4,), model_variant='mobilenet_v2')
    model = slimnets.keras.Segmenter(options)
    model.restore('deeplabv3_mnv2_pascal_train_aug/model.ckpt-30000')     # DeepLab's names
    model.compile(optimizer=keras.optimizers.SGD(DeepLabLearningRate(0.007, 30000), momentum=0.9),
                  loss=DeepLabLoss(21), metrics=[MeanIoU(21)])
    model.fit(images_and_labels, epochs=...)

The model is `slimnets.models.Segmenter` (DeepLab's network, heads and variable names, its weight decay added to
the model's losses) inside one Keras layer, as `slimnets.keras.Backbone` holds a network: images `[batch, height,
width, in_channels]` in [0, 255] (DeepLab preprocesses inside) -> logits `[batch, height, width, classes]` at the
images' size (DeepLab's bilinear upsampling with aligned corners), float32 under any precision policy.
"""

from typing import Optional

import keras
import tensorflow as tf

from nets import deeplab
from slimnets import models
from slimnets.keras.backbone import ModuleLayer
from slimnets.keras.backbone import ModuleModel
from slimnets.segmentation import losses
from slimnets.segmentation import metrics
from slimnets.segmentation import runs
from slimnets.segmentation.labels import IGNORE_LABEL
from slimnets.segmentation.labels import check_num_classes


def _model_options(model_options) -> deeplab.ModelOptions:
  """A `deeplab.ModelOptions` from itself or its `get_config` form (a dict); one output only."""
  if isinstance(model_options, dict):
    model_options = deeplab.ModelOptions(**model_options)
  if not isinstance(model_options, deeplab.ModelOptions):
    raise ValueError(f'Segmenter: model_options must be a deeplab.ModelOptions, got {type(model_options).__name__}')
  model_options = model_options.checked()
  if len(model_options.outputs_to_num_classes) != 1:
    raise ValueError('Segmenter: a Keras segmenter has one output, model_options.outputs_to_num_classes has '
                     f'{sorted(model_options.outputs_to_num_classes)}; use slimnets.models.Segmenter for several')
  return model_options


@keras.saving.register_keras_serializable(package='slimnets')
class SegmenterLayer(ModuleLayer):
  """DeepLab as one Keras layer: images -> logits at the images' size. Arguments as `Segmenter`'s."""

  def __init__(self, model_options, in_channels: int = 3, weight_decay: float = 0.0001,
               fine_tune_batch_norm: bool = True, synchronized_batch_norm: bool = False, **kwargs):
    self.model_options = _model_options(model_options)
    self.in_channels = in_channels
    self.weight_decay = weight_decay
    self.fine_tune_batch_norm = fine_tune_batch_norm
    self.synchronized_batch_norm = synchronized_batch_norm
    super().__init__(lambda factory: models.Segmenter(
        self.model_options, in_channels=in_channels, weight_decay=weight_decay,
        fine_tune_batch_norm=fine_tune_batch_norm, synchronized_batch_norm=synchronized_batch_norm,
        variable_factory=factory), **kwargs)

  def call(self, images, training=None):
    crop = self.model_options.crop_size
    if crop and None in images.shape[1:3]:  # DeepLab checks known sizes itself; unknown ones are checked here
      check = tf.debugging.assert_equal(tf.shape(images)[1:3], tf.constant(crop, tf.int32), message=(
          f'model_options.crop_size {tuple(crop)} sizes the image pooling and the decoder: the images must be '
          'of that size (a model of crop_size=None takes any size)'))
      with tf.control_dependencies([check]):
        images = tf.identity(images)
    logits, _ = self.run(images, training)
    return deeplab.resize_bilinear(logits, tf.shape(images)[1:3], tf.float32)

  def get_config(self) -> dict:
    return {**super().get_config(), 'model_options': runs.options_as_dict(self.model_options),
            'in_channels': self.in_channels, 'weight_decay': self.weight_decay,
            'fine_tune_batch_norm': self.fine_tune_batch_norm,
            'synchronized_batch_norm': self.synchronized_batch_norm}


@keras.saving.register_keras_serializable(package='slimnets')
class Segmenter(ModuleModel):
  """A DeepLab v3/v3+ model (`nets.deeplab`) as a functional Keras model: images in [0, 255] -> float32 logits at
  the images' size. `restore` / `save_checkpoint` read and write DeepLab checkpoints by DeepLab's names;
  `variables_by_name` maps them to the weights; `predict_labels` is `slimnets.models.Segmenter.predict`.

  Args:
    model_options: a `deeplab.ModelOptions` of one output. Its `crop_size`, when set, is the one image size the
      model takes (DeepLab sizes the image pooling and the decoder by it; another size is an error); None: any
      size, the pooling over the whole image.
    in_channels: channels the images must have.
    weight_decay: L2 weight of the convolution kernels, added to the model's losses (DeepLab's 1e-4).
    fine_tune_batch_norm: in `fit`, normalize with batch statistics and update the moving averages (DeepLab's
      switch: off for small batches, unless `synchronized_batch_norm`).
    synchronized_batch_norm: under a `tf.distribute` strategy, batch statistics of the global batch.
    name: the model's name (default 'deeplab').

  Raises:
    ValueError: for bad options, at construction.
  """

  def __init__(self, model_options, *, in_channels: int = 3, weight_decay: float = 0.0001,
               fine_tune_batch_norm: bool = True, synchronized_batch_norm: bool = False,
               name: Optional[str] = None):
    layer = SegmenterLayer(model_options, in_channels, weight_decay, fine_tune_batch_norm, synchronized_batch_norm,
                           name='segmenter')
    size = tuple(layer.model_options.crop_size or (None, None))
    images = keras.Input((*size, in_channels), name='images')
    super().__init__(inputs=images, outputs=layer(images), name=name or 'deeplab')
    self.network_layer = layer

  @property
  def model_options(self) -> deeplab.ModelOptions:
    return self.network_layer.model_options

  def predict_labels(self, images, eval_scales=(1.0,), add_flipped_images: bool = False,
                     crop_size=None) -> tf.Tensor:
    """Labels `[batch, height, width]` at the images' size (`slimnets.models.Segmenter.predict`: multi-scale and
    flipped inputs, and the eval crop size, as DeepLab's eval.py)."""
    return self.network_layer.module.predict(images, eval_scales, add_flipped_images, crop_size=crop_size)

  def get_config(self) -> dict:
    layer = self.network_layer
    return {'model_options': runs.options_as_dict(layer.model_options), 'in_channels': layer.in_channels,
            'weight_decay': layer.weight_decay, 'fine_tune_batch_norm': layer.fine_tune_batch_norm,
            'synchronized_batch_norm': layer.synchronized_batch_norm, 'name': self.name}


@keras.saving.register_keras_serializable(package='slimnets')
class DeepLabLoss(keras.losses.Loss):
  """DeepLab's softmax cross-entropy (`slimnets.segmentation.softmax_cross_entropy`) as a Keras loss: the mean
  over the batch's pixels that have a label, `ignore_label` pixels counting for nothing, optionally over the
  `top_k_percent_pixels` hardest. `y_true`: integer labels `[batch, height, width(, 1)]`; `y_pred`: logits (at the
  labels' size, or resized to it). A label outside [0, num_classes) other than `ignore_label` is an error.
  Under a `tf.distribute` strategy each replica's loss is the mean over its own pixels (as DeepLab's clones).
  With synchronized batch norm and equal ignored-pixel counts per replica, `fit` on N replicas then trains what
  one device trains on the whole batch (tested).

  Args:
    num_classes: classes of the logits.
    ignore_label: the label of pixels without ground truth (255).
    top_k_percent_pixels: in (0, 1]; DeepLab's hard example mining without its ramp (use
      `slimnets.segmentation.training` for the ramp).
    name: the loss's name.
  """

  def __init__(self, num_classes: int, ignore_label: int = IGNORE_LABEL, top_k_percent_pixels: float = 1.0,
               name: str = 'deeplab_loss', **kwargs):
    kwargs.setdefault('reduction', 'sum_over_batch_size')
    super().__init__(name=name, **kwargs)
    self.num_classes = check_num_classes(num_classes, 'DeepLabLoss')
    self.ignore_label = ignore_label
    self.top_k_percent_pixels = top_k_percent_pixels
    if not (isinstance(top_k_percent_pixels, (int, float)) and 0 < top_k_percent_pixels <= 1):
      raise ValueError(f'DeepLabLoss: top_k_percent_pixels must be in (0, 1], got {top_k_percent_pixels!r}')

  def call(self, y_true, y_pred):
    loss = losses.softmax_cross_entropy(y_pred, y_true, self.num_classes, self.ignore_label,
                                        top_k_percent_pixels=self.top_k_percent_pixels)
    # A scalar is not reduced by Keras, and so not divided by the replicas as its own losses are before their
    # gradients are summed across replicas: done here (under one replica, nothing changes). `fit` reports the
    # loss multiplied back.
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    return loss / replicas if replicas > 1 else loss

  def get_config(self) -> dict:
    return {**super().get_config(), 'num_classes': self.num_classes, 'ignore_label': self.ignore_label,
            'top_k_percent_pixels': self.top_k_percent_pixels}


@keras.saving.register_keras_serializable(package='slimnets')
class MeanIoU(keras.metrics.Metric):
  """Mean intersection over union of the argmax of the logits against the labels, `ignore_label` pixels left
  out, accumulated in a confusion matrix as `slimnets.segmentation.MeanIoU` (the same numbers): the mean over
  the classes present in the labels or the predictions. `y_true`: labels `[batch, height, width(, 1)]`;
  `y_pred`: logits `[batch, height, width, num_classes]` of the same size.
  """

  def __init__(self, num_classes: int, ignore_label: int = IGNORE_LABEL, name: str = 'mean_iou', **kwargs):
    super().__init__(name=name, **kwargs)
    self.num_classes = check_num_classes(num_classes, 'MeanIoU')
    self.ignore_label = ignore_label
    self.confusion = self.add_variable(shape=(num_classes, num_classes), initializer='zeros', dtype='float64',
                                       name='confusion_matrix')

  def update_state(self, y_true, y_pred, sample_weight=None):
    if sample_weight is not None:
      raise ValueError('MeanIoU: sample_weight is not supported (give pixels without ground truth the ignore label)')
    self.confusion.assign_add(metrics.confusion_matrix(y_true, tf.argmax(y_pred, -1), self.num_classes,
                                                       self.ignore_label))

  def result(self):
    return metrics.mean_iou_from_confusion(self.confusion)[0]

  def reset_state(self):
    self.confusion.assign(tf.zeros_like(self.confusion))

  def get_config(self) -> dict:
    return {**super().get_config(), 'num_classes': self.num_classes, 'ignore_label': self.ignore_label}


@keras.saving.register_keras_serializable(package='slimnets')
class DeepLabLearningRate(keras.optimizers.schedules.LearningRateSchedule):
  """DeepLab's learning rate (`slimnets.segmentation.learning_rate`: 'poly' or 'step' decay, slow start) as a
  Keras schedule of the optimizer's iterations; the arguments and defaults are train.py's flags."""

  def __init__(self, base_learning_rate: float, training_number_of_steps: int, learning_policy: str = 'poly',
               learning_power: float = 0.9, end_learning_rate: float = 0.0, learning_rate_decay_step: int = 2000,
               learning_rate_decay_factor: float = 0.1, slow_start_step: int = 0,
               slow_start_learning_rate: float = 0.0001):
    self.arguments = dict(
        base_learning_rate=base_learning_rate, training_number_of_steps=training_number_of_steps,
        learning_policy=learning_policy, learning_power=learning_power, end_learning_rate=end_learning_rate,
        learning_rate_decay_step=learning_rate_decay_step, learning_rate_decay_factor=learning_rate_decay_factor,
        slow_start_step=slow_start_step, slow_start_learning_rate=slow_start_learning_rate)
    losses.learning_rate(0, **self.arguments)  # checks the arguments now

  def __call__(self, step):
    return losses.learning_rate(step, **self.arguments)

  def get_config(self) -> dict:
    return dict(self.arguments)
