"""A registry network as a Keras 3 model: `fit`, `evaluate`, `predict`, the functional API, `.keras` files, and
the feature contracts of keras-hub (`pyramid_outputs`) and timm (`feature_info`).

    backbone = slimnets.keras.Backbone('resnet_v1_50', output_stride=16, global_pool=False)
    backbone.restore('resnet_v1_50.ckpt')                        # TF-Slim names; the report comes back
    features = keras.Model(backbone.inputs, backbone.pyramid_outputs)   # {'P1', 'P2', 'P3', 'P4'}: block4 is P4
    levels = keras.Model(backbone.inputs, backbone.level_outputs)        # {'C1'..'C5'}: C4 and C5 at stride 16

The network is built by `slimnets.models.Backbone` (the same function, arguments, checks and variable names as
graph code) inside one Keras layer, each of its variables made as a weight of that layer: Keras sees every weight
(`trainable_weights`: kernels, biases, batch norm scales and offsets; `non_trainable_weights`: the moving
averages), `fit` trains them all and updates the moving averages, `save` / `keras.models.load_model` round-trip
them, and `trainable = False` freezes the model, batch norm included (it then normalizes with its moving averages
in `fit` too, as Keras's own `BatchNormalization` does). The weight decay of the network's arg scope is added to
the model's losses. `variables_by_name` maps the TF-Slim names to the weights; `restore` and `save_checkpoint`
read and write TF-Slim checkpoints by those names.
"""

from typing import Callable, Dict, List, Optional, Sequence

import keras
import tensorflow as tf

from nets.catalogue.spec import Level
from slimnets import models
from slimnets.analysis import features
from slimnets.weights import checkpoints

OUTPUT = 'output'


class ModuleLayer(keras.layers.Layer):
  """A slimnets model (a `slimnets.models.NetworkModule`: `Backbone` or `Segmenter`, made by
  `make_module(variable_factory)`) as one Keras layer: each of its variables is made as a weight of this layer
  (TF-Slim name in `variables_by_name`), and its weight decay is added to the layer's losses at each call."""

  def __init__(self, make_module: Callable, **kwargs):
    super().__init__(**kwargs)
    self._weights_by_name: Dict[str, keras.Variable] = {}
    self.module = make_module(self._new_weight)

  def _new_weight(self, name: str, shape, dtype, initial_value, trainable: bool) -> tf.Variable:
    """A Keras weight for the variable `name`; the module computes with its `tf.Variable`."""
    value = initial_value if callable(initial_value) else (lambda: initial_value)
    weight = self.add_weight(name=name.replace('/', '.'), shape=tuple(shape), dtype=dtype,
                             initializer=lambda shape, dtype=None: value(), trainable=trainable, autocast=False)
    self._weights_by_name[name] = weight
    return weight.value

  def build(self, input_shape=None):
    if not self._weights_by_name:
      self.module.build()  # at the model's smallest (or crop) size: the weights do not depend on it
    self.built = True

  def run(self, images, training):
    """The module on `images`, `training` honoured only while the layer is trainable (a frozen layer normalizes
    with its moving averages, as Keras's own `BatchNormalization`); its weight decay joins the losses."""
    outputs = self.module(images, training=bool(training) and self.trainable)
    self.add_loss(self.module.regularization_loss())
    return outputs

  @property
  def variables_by_name(self) -> Dict[str, keras.Variable]:
    return dict(self._weights_by_name)


class ModuleModel(keras.Model):
  """A functional Keras model over a `ModuleLayer` (`network_layer`), with TF-Slim checkpoints by name."""

  @property
  def variables_by_name(self) -> Dict[str, keras.Variable]:
    """TF-Slim name -> Keras weight, in creation order."""
    return self.network_layer.variables_by_name

  def restore(self, checkpoint: str, exclude: Sequence[str] = (), allow_missing: bool = True,
              allow_mismatch: bool = False, allow_unused: bool = False) -> checkpoints.RestoreReport:
    """Assigns the weights from a TF-Slim checkpoint by name (research/slim's, DeepLab's, ours); arguments, errors
    and report as `slimnets.models.Backbone.restore`."""
    return self.network_layer.module.restore(checkpoint, exclude=exclude, allow_missing=allow_missing,
                                             allow_mismatch=allow_mismatch, allow_unused=allow_unused)

  def save_checkpoint(self, path: str, overwrite: bool = False) -> str:
    """Writes the weights as a TF-Slim checkpoint at prefix `path` (TF-Slim names), which graph code restores."""
    return self.network_layer.module.save(path, overwrite=overwrite)

  @classmethod
  def from_config(cls, config: dict, custom_objects=None) -> 'ModuleModel':
    del custom_objects
    return cls(**config)


@keras.saving.register_keras_serializable(package='slimnets')
class Network(ModuleLayer):
  """The network as one Keras layer: `{'output': net, 'C1'..'C5': levels}` for images; its weights are the
  network's variables (TF-Slim names in `variables_by_name`). Arguments as `Backbone`'s."""

  def __init__(self, network: str, num_classes: Optional[int] = None, in_channels: int = 3,
               weight_decay: Optional[float] = None, network_kwargs: Optional[dict] = None, **kwargs):
    self.network = network
    self.num_classes = num_classes
    self.in_channels = in_channels
    self.weight_decay = weight_decay
    self.network_kwargs = dict(network_kwargs or {})
    super().__init__(lambda factory: models.Backbone(network, num_classes, in_channels=in_channels,
                                                     weight_decay=weight_decay, variable_factory=factory,
                                                     **self.network_kwargs), **kwargs)

  def call(self, images, training=None):
    net, end_points = self.run(images, training)
    return {OUTPUT: net, **self.module.feature_levels(end_points)}

  def get_config(self) -> dict:
    return {**super().get_config(), 'network': self.network, 'num_classes': self.num_classes,
            'in_channels': self.in_channels, 'weight_decay': self.weight_decay,
            'network_kwargs': dict(self.network_kwargs)}


class FeatureInfo:
  """timm's `feature_info` of a backbone: its levels' end points, channels and reductions (strides) as built,
  the dilated ones at the output stride (resnet_v1_50 at output_stride 16: C4 and C5 both at 16)."""

  def __init__(self, levels: Sequence[Level]):
    self.levels = list(levels)

  def channels(self) -> List[int]:
    return [level.channels for level in self.levels]

  def reduction(self) -> List[int]:
    return [level.stride for level in self.levels]

  def module_name(self) -> List[str]:
    return [level.end_point for level in self.levels]

  def __getitem__(self, index: int) -> dict:
    level = self.levels[index]
    return {'level': level.name, 'module': level.end_point, 'num_chs': level.channels,
            'reduction': level.stride}

  def __len__(self) -> int:
    return len(self.levels)


@keras.saving.register_keras_serializable(package='slimnets')
class Backbone(ModuleModel):
  """A network of `nets_factory.REGISTRY` as a functional Keras model: images `[batch, height, width,
  in_channels]` (preprocessed float, or uint8 pixels, as `slimnets.models.Backbone` takes them) -> the network's
  output (the logits with `num_classes`, else its last features).

  Attributes:
    level_outputs: {'C1'..'C5': the symbolic feature levels (the registry's levels)}, usable as the outputs of a
      functional model on `inputs`; dilated levels keep their names (resnet_v1_50 at output_stride 16: C4 and C5
      at stride 16).
    feature_info: timm's contract (`FeatureInfo`): end points, channels and real strides of the levels.
    pyramid_outputs: keras-hub's contract (`FeaturePyramidBackbone`): 'Pn' is a feature map 2**n times smaller
      than the images, the deepest level at that stride. At the nominal stride Pk is Ck; dilated, the levels past
      the output stride share one key: resnet_v1_50 at output_stride 16 has P1..P4, P4 being C5 (block4), so a
      keras-hub model that sizes its upsampling from the key (`DeepLabV3Backbone`) gets the right sizes.

  Args:
    network: a registry name, e.g. 'resnet_v1_50'.
    num_classes: classes of the logits; None for features only.
    in_channels: channels the images must have.
    weight_decay: the arg scope's L2 weight decay (default: the network's).
    name: the model's name (default: the network's).
    **network_kwargs: further arguments of the network function (`output_stride`, `global_pool`, ...).

  Raises:
    ValueError: as `slimnets.models.Backbone`, at construction.
  """

  def __init__(self, network: str, num_classes: Optional[int] = None, *, in_channels: int = 3,
               weight_decay: Optional[float] = None, name: Optional[str] = None, **network_kwargs):
    layer = Network(network, num_classes, in_channels, weight_decay, network_kwargs, name='network')
    images = keras.Input((None, None, in_channels), name='images')
    outputs = layer(images)
    super().__init__(inputs=images, outputs=outputs[OUTPUT], name=name or network)
    self.network_layer = layer
    self.level_outputs = {level: tensor for level, tensor in sorted(outputs.items()) if level != OUTPUT}
    self.feature_info = FeatureInfo(features.levels_at(network, network_kwargs.get('output_stride'), {
        level: int(tensor.shape[-1]) for level, tensor in self.level_outputs.items()}))
    self.pyramid_outputs = {}
    for level in self.feature_info.levels:  # shallow to deep: the deepest at each stride stays
      self.pyramid_outputs[f'P{level.stride.bit_length() - 1}'] = self.level_outputs[level.name]

  def get_config(self) -> dict:
    layer = self.network_layer
    return {'network': layer.network, 'num_classes': layer.num_classes, 'in_channels': layer.in_channels,
            'weight_decay': layer.weight_decay, 'name': self.name, **layer.network_kwargs}
