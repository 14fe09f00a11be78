"""The networks in TF2 code: an eager backbone as a `tf.Module`, with the variable names of the graph networks.

`Backbone` runs the same network function as graph code (`nets.resnet_v1.resnet_v1_50`, ...) under a custom
getter that creates each variable on the first call and hands the same variable back on every later call, in
eager mode or inside `tf.function`. Variable names are those of the graph build (`resnet_v1_50/conv1/weights`),
so TF-Slim checkpoints restore by name (`Backbone.restore`). No tf-keras is involved.

    backbone = Backbone('resnet_v1_50', output_stride=16, global_pool=False)
    net, end_points = backbone(images, training=False)
    levels = backbone.feature_levels(end_points)            # {'C1': ..., 'C5': ...}

Training: `training=True` normalizes with batch statistics and updates the moving averages at once (the update
ops run with the forward pass; there is no UPDATE_OPS collection to run). Weight decay is
`regularization_loss()`, the sum of the arg scope's regularizers over the variables, to add to the loss.

Distribution: under `tf.distribute.Strategy.scope()` the trainable variables are mirrored and the moving
averages are sync-on-read variables averaged across replicas (`VariableAggregation.MEAN`): each replica
normalizes with the statistics of its own part of the batch, as Keras's `BatchNormalization` does by default,
and reading or saving a moving average gives the mean over replicas.
"""

import dataclasses
from typing import Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf

from nets import checks
from nets import nets_factory
from slimnets.analysis import features
from slimnets.models.module import NetworkModule
from slimnets.models.module import check_eager
from slimnets.models.module import new_variable
from slimnets.weights import preprocessing


DROP_PATH_STEP = 'drop_path_step'


@dataclasses.dataclass
class _Network:
  """The registry network a backbone runs, kept outside TensorFlow's object tracking."""
  spec: nets_factory.NetworkSpec
  kwargs: dict  # the further arguments of the network function


class Backbone(NetworkModule):
  """A network of `nets_factory.REGISTRY` as an eager, trainable `tf.Module`.

  Args:
    network: a registry name, e.g. 'resnet_v1_50'.
    num_classes: classes of the logits; None or 0 for features only.
    in_channels: channels the images must have.
    weight_decay: the arg scope's L2 weight decay (default: the network's, e.g. 1e-4 for ResNets).
    synchronized_batch_norm: in training under a `tf.distribute` strategy, normalize with the statistics of the
      global batch (`nets.layers.batch_norm(synchronized=True)`): replicas of a few images each then compute
      what one device would on the whole batch. (It gives each thread of the process its own tf-slim arg scope
      stack, `nets.layers.use_per_thread_arg_scopes`, which replica threads need.)
    name: name of the module (default: the network name); variable names do not depend on it.
    variable_factory: makes each variable on first use, as `new_variable` (its arguments, a `tf.Variable` back);
      `slimnets.keras.Backbone` passes one that creates Keras weights.
    **network_kwargs: further arguments of the network function: `output_stride`, `multi_grid`, `global_pool`,
      `spatial_squeeze`, `depth_multiplier`, `create_aux_logits`, ...

  Raises:
    ValueError: for an unknown network, a non-positive `in_channels`, or an argument the network function
      does not take; the network function itself checks the values at the first call, before any variable is
      created.
    RuntimeError: under `tf.compat.v1.disable_v2_behavior()`, which turns off the eager execution this needs.
  """

  def __init__(self, network: str, num_classes: Optional[int] = None, *, in_channels: int = 3,
               weight_decay: Optional[float] = None, synchronized_batch_norm: bool = False,
               name: Optional[str] = None, variable_factory=new_variable, **network_kwargs):
    check_eager('Backbone')
    spec = nets_factory.get_spec(network)
    checks.check_int('in_channels', in_channels)
    spec.check_arguments(network_kwargs)
    scope_kwargs = {'batch_norm_updates_collections': None}
    if weight_decay is not None:
      scope_kwargs['weight_decay'] = weight_decay
    super().__init__(name or network, in_channels=in_channels, synchronized_batch_norm=synchronized_batch_norm,
                     variable_factory=variable_factory, arg_scope=spec.arg_scope(**scope_kwargs))
    self.network = network
    self.num_classes = num_classes
    self._declared = _Network(spec, dict(network_kwargs))
    self._step: Optional[tf.Variable] = None  # see `_counted_step`

  def __call__(self, images, training=False, *, weights: Optional[Mapping[str, tf.Tensor]] = None,
               dropout_seed: Optional[tf.Tensor] = None, fold_batch_norm: Optional[bool] = None,
               moving_average_decay=None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """Runs the network.

    Args:
      images: `[batch, height, width, in_channels]` float tensor (any batch and any size the network takes),
        preprocessed for the network; float64 (numpy's default) is cast to float32. uint8 images are pixels in
        [0, 255]: the pixel step of the network's preprocessing is applied (`preprocessing.normalize_pixels`:
        ImageNet mean subtraction or scaling to [-1, 1]), no resizing or cropping.
        bfloat16 or float16 images run the network in that precision, with casts of the float32 variables
        (batch norm keeps float32 statistics); the outputs have the images' dtype.
      training: python bool or scalar bool tensor: batch statistics and moving-average updates (and dropout).
      weights: optional float32 tensors by variable name (as `variables_by_name`, all of them) to compute with
        instead of the variables, e.g. constants for a frozen inference graph (`slimnets.deploy.inference.Predictor`).
        Inference only: nothing can be updated. The variables must exist (`build()`).
      dropout_seed: a stateless seed (shape [2] integers) for the dropout masks of training: the masks are then a
        function of it (e.g. of the step), and a resumed run draws the ones it would have drawn; None: TensorFlow's
        stateful random ops.
      fold_batch_norm: in inference, compute each convolution followed by batch norm as one convolution with
        folded weights and a bias (what the exports and `Predictor` run; `nets.layers.batch_norm_folded_for_inference`);
        None: as the surrounding block (`nets.layers.build_options`; not folded by default).
      moving_average_decay: in training, update the moving averages with this decay (a float or scalar tensor)
        instead of the network's (`slimnets.models.update_batch_norm_statistics`); None: as the surrounding
        block (the network's own by default).

    Returns:
      (net, end_points) as the graph network returns them: `net` is the logits (or the features without
      classes); `end_points` maps end point names, e.g. 'resnet_v1_50/block4', to tensors.

    Raises:
      ValueError: for images of another rank, channel count, an empty axis or a dtype other than uint8 and float,
        and for the network's own argument errors; no variable is created then. In a traced function with
        unknown sizes an empty axis is an InvalidArgumentError when run.
    """
    return super().__call__(images, training, weights=weights, dropout_seed=dropout_seed,
                            fold_batch_norm=fold_batch_norm, moving_average_decay=moving_average_decay)

  def from_pixels(self, images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels in [0, 255] as the network's float32 input: its preprocessing's pixel step (no resizing)."""
    return preprocessing.normalize_pixels(images, self.network)

  def _network(self, images: tf.Tensor, training) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """The graph-building call run under the getter and the arg scope."""
    kwargs = dict(self._declared.kwargs)
    if 'current_step' in self._declared.spec.options and 'current_step' not in kwargs:
      kwargs['current_step'] = self._counted_step(training)
    return self._declared.spec.fn(images, self.num_classes, is_training=training, **kwargs)

  def _counted_step(self, training) -> tf.Tensor:
    """The training calls counted so far, and one more counted when `training`: the step of the drop-path
    schedule of NASNet and PNASNet (research/slim reads the graph's global step, which eager code has not; it
    would create one per cell, never incremented, and never drop a path). The counter is the variable
    `DROP_PATH_STEP`, saved with the model's checkpoints but not among `variables_by_name` (TF-Slim checkpoints do
    not hold it: fine-tuning starts its schedule at 0, as research/slim's does)."""
    if self._step is None:  # made at the first call, whatever its mode (Keras makes no weight after its build)
      self._step = self._build.variable_factory(DROP_PATH_STEP, [], tf.int64, 0, False)
    if training is False:  # inference drops no path: the step is not read (nor exported)
      return tf.constant(0, tf.int64)
    value = tf.identity(self._step.read_value())
    self._step.assign_add(tf.cast(training, tf.int64) if tf.is_tensor(training) else int(bool(training)))
    return value

  @property
  def network_kwargs(self) -> dict:
    """The further arguments given to the network function (`output_stride`, ...)."""
    return dict(self._declared.kwargs)

  @property
  def default_image_size(self) -> int:
    return self._declared.spec.default_image_size

  def build(self, input_size: Optional[int] = None) -> 'Backbone':
    """Creates the variables by running the network once on zeros (default size: the network's minimum)."""
    if not self._variables:
      spec = self._declared.spec
      size = input_size or spec.minimum_input_size(bool(self.num_classes))[0]
      self(tf.zeros([1, size, size, self.in_channels]), training=False)
      if spec.training_build_size and self.num_classes:  # the auxiliary head of training: traced, not run
        size = max(size, spec.training_build_size)
        trace = tf.function(lambda images: self(images, training=True)[0])
        trace.get_concrete_function(tf.TensorSpec([1, size, size, self.in_channels], tf.float32))
    return self

  def feature_levels(self, end_points: Mapping[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """{'C1'..'C5': tensor} of the levels present in `end_points` (see `slimnets.analysis.features`)."""
    return features.feature_levels(end_points, self.network)

  @property
  def value_range(self) -> Tuple[float, float]:
    """The range of the float images the network takes: VGG's mean-subtracted pixels or [-1, 1]."""
    return self._declared.spec.value_range

  def default_input_size(self) -> Tuple[int, int]:
    """(height, width): the network's default image size."""
    return (self.default_image_size,) * 2

  def check_outputs(self, levels: Sequence[str] = (), pooled: bool = False, verb: str = 'gives') -> None:
    """Raises ValueError for feature levels the network does not have (any level can be `pooled`)."""
    del pooled, verb
    features.check_levels(self.network, levels)

  def serving_outputs(self, net: tf.Tensor, end_points: Mapping[str, tf.Tensor], images: tf.Tensor,
                      levels: Sequence[str] = (), pooled: bool = False) -> Dict[str, tf.Tensor]:
    """{'output': the network's output, level: each of `levels`, 'pooled': the last level averaged over height and
    width (with `pooled`)}, all float32."""
    del images
    found = self.feature_levels(end_points) if levels or pooled else {}
    outputs = {self.main_output: net, **{level: found[level] for level in levels}}
    if pooled:
      outputs['pooled'] = tf.reduce_mean(found[features.level_end_points(self.network)[-1][0]], axis=[1, 2])
    return {key: tf.cast(value, tf.float32) for key, value in outputs.items()}
