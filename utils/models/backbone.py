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
import functools
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers
from nets import nets_factory
from slimnets.analysis import features
from slimnets.weights import checkpoints
from slimnets.weights import preprocessing


DROP_PATH_STEP = 'drop_path_step'


@dataclasses.dataclass
class _Build:
  """What a backbone keeps outside TensorFlow's object tracking (SavedModel saves only the variables)."""
  spec: nets_factory.NetworkSpec
  arg_scope: dict
  network_kwargs: dict
  regularized: list
  variable_factory: Callable


def new_variable(name: str, shape, dtype: tf.DType, initial_value, trainable: bool) -> tf.Variable:
  """A backbone's variable: a `tf.Variable` named `name` (a TF-Slim name); the moving averages (not trainable)
  are sync-on-read variables averaged across replicas. `initial_value` is a value or a function giving one."""
  del shape
  sync = {} if trainable else {'synchronization': tf.VariableSynchronization.ON_READ,
                               'aggregation': tf.VariableAggregation.MEAN}
  return tf.Variable(initial_value, name=name, trainable=trainable, dtype=dtype, **sync)


def _getter_of_values(values: Mapping[str, tf.Tensor], getter, name, *args, dtype=tf.float32, **kwargs):
  """A custom getter handing out `values[name]`, cast to the dtype asked for."""
  del getter, args, kwargs
  return tf.cast(values[name], dtype)


class Backbone(tf.Module):
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
    if not tf.compat.v1.executing_eagerly_outside_functions():
      raise RuntimeError('slimnets.models.Backbone needs TF2 behaviour (eager execution), and this program has turned '
                         'it off (tf.compat.v1.disable_v2_behavior() or disable_eager_execution()); in TF1 '
                         'programs build the network in a graph: nets_factory.get_network_fn(...)(images)')
    spec = nets_factory.get_spec(network)
    checks.check_int('in_channels', in_channels)
    spec.check_arguments(network_kwargs)
    super().__init__(name=name or network)
    self.network = network
    self.num_classes = num_classes
    self.in_channels = in_channels
    self.synchronized_batch_norm = bool(synchronized_batch_norm)
    if self.synchronized_batch_norm:  # replica threads take turns inside the model at the all-reduce
      layers.use_per_thread_arg_scopes()
    scope_kwargs = {'batch_norm_updates_collections': None}
    if weight_decay is not None:
      scope_kwargs['weight_decay'] = weight_decay
    self._build = _Build(spec, spec.arg_scope(**scope_kwargs), dict(network_kwargs), [], variable_factory)
    self._variables: Dict[str, tf.Variable] = {}
    self._step: Optional[tf.Variable] = None  # see `_counted_step`

  def _getter(self, getter, name, shape=None, dtype=tf.float32, initializer=None, trainable=True, **kwargs):
    """Hands back the variable `name`, creating it on first use.

    The variable is created here with `tf.Variable`, not by `getter`: TensorFlow's variable store is shared
    between the eager context and `tf.function` graphs, so once one backbone had created its variables in a
    function, the store would refuse the same names to the next backbone. Requests for bfloat16 or float16
    get a cast of the float32 variable.
    """
    requested = tf.as_dtype(dtype)
    if requested in (tf.bfloat16, tf.float16):
      return tf.cast(self._getter(getter, name, shape, tf.float32, initializer, trainable, **kwargs), requested)
    del getter
    if name in self._variables:
      return self._variables[name]
    dtype = tf.as_dtype(dtype)
    if initializer is None:
      initializer = tf.compat.v1.glorot_uniform_initializer() if dtype.is_floating else tf.compat.v1.zeros_initializer()
    initial_value = functools.partial(initializer, shape, dtype=dtype) if callable(initializer) else initializer
    variable = self._build.variable_factory(name, shape, dtype, initial_value, trainable)
    self._variables[name] = variable
    return variable

  def __call__(self, images, training=False, *, weights: Optional[Mapping[str, tf.Tensor]] = None,
               dropout_seed: Optional[tf.Tensor] = None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
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

    Returns:
      (net, end_points) as the graph network returns them: `net` is the logits (or the features without
      classes); `end_points` maps end point names, e.g. 'resnet_v1_50/block4', to tensors.

    Raises:
      ValueError: for images of another rank, channel count, an empty axis or a dtype other than uint8 and float,
        and for the network's own argument errors; no variable is created then. In a traced function with
        unknown sizes an empty axis is an InvalidArgumentError when run.
    """
    return self._run(self.network_input(images), training, weights, self._network, dropout_seed)

  @tf.autograph.experimental.do_not_convert
  def _run(self, images: tf.Tensor, training, weights: Optional[Mapping[str, tf.Tensor]], network,
           dropout_seed: Optional[tf.Tensor] = None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """`network(images, training)` under the getter (the variables), the build lock and the arg scope: what
    every call of the model runs through.

    Not converted by AutoGraph: inside a `tf.function` (a training step, Keras's `fit`, a serving function) the
    network code runs as it does in a graph, as written (its conditions on tensors are `tf.cond`s of its own).
    AutoGraph would otherwise rewrite every function of the network, about half the time of tracing a step.
    """
    getter = self._getter
    if weights is not None:
      missing = sorted(set(self._variables) - set(weights))
      if not self._variables or missing or training is not False:
        raise ValueError(f'weights= needs a built backbone, training=False and a tensor for every variable; '
                         f'got training={training!r}, {len(missing) if self._variables else "no"} variables missing'
                         f'{": " + ", ".join(missing[:3]) if missing else ""}')
      getter = functools.partial(_getter_of_values, weights)
    sink = []
    existing = set(self._variables)
    seeded = {} if dropout_seed is None else {'seed': tf.cast(dropout_seed, tf.int64)}
    try:
      with layers.BUILD_LOCK, layers.regularizers_collected_into(sink), \
          tf.compat.v1.variable_scope(tf.compat.v1.VariableScope(False), custom_getter=getter), \
          slim.arg_scope(self._build.arg_scope), \
          slim.arg_scope([layers.batch_norm], synchronized=self.synchronized_batch_norm), \
          slim.arg_scope([layers.dropout], **seeded):
        net, end_points = network(images, training)
    except BaseException:
      for name in set(self._variables) - existing:  # a failed first call leaves no variables behind
        del self._variables[name]
      raise
    if weights is None:
      self._build.regularized.extend(sink)
    return net, dict(end_points)

  def network_input(self, images) -> tf.Tensor:
    """`images` checked and made what the network function takes (see `__call__`): uint8 pixels normalized,
    float64 cast to float32; in a traced function with unknown sizes, an assertion that no axis is empty.

    Raises:
      ValueError: for another rank or channel count, a dtype other than uint8 or float, or an empty axis.
    """
    images = tf.convert_to_tensor(images)
    if images.shape.rank != 4 or images.shape[-1] != self.in_channels:
      raise ValueError(f'images must be [batch, height, width, {self.in_channels}], got shape {images.shape}')
    checks.check_not_empty(images, self.name)
    if images.dtype == tf.uint8:
      images = self.from_pixels(images)
    elif not images.dtype.is_floating:
      raise ValueError(f'images must be uint8 pixels or a float tensor, got dtype {images.dtype.name}')
    if images.dtype == tf.float64:  # numpy's default; the variables and kernels are float32
      images = tf.cast(images, tf.float32)
    if None in checks.static_shape(images)[:3]:
      assertion = tf.debugging.Assert(tf.reduce_all(tf.shape(images)[:3] > 0), [
          f'{self.name}: images must hold at least one image of at least 1x1 pixels, got shape', tf.shape(images)],
                                      summarize=4)
      with tf.control_dependencies([assertion]):
        images = tf.identity(images)
    return images

  def from_pixels(self, images: tf.Tensor) -> tf.Tensor:
    """uint8 pixels in [0, 255] as the network's float32 input: its preprocessing's pixel step (no resizing)."""
    return preprocessing.normalize_pixels(images, self.network)

  def _network(self, images: tf.Tensor, training) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """The graph-building call run under the getter and the arg scope."""
    kwargs = dict(self._build.network_kwargs)
    if 'current_step' in self._build.spec.options and 'current_step' not in kwargs:
      kwargs['current_step'] = self._counted_step(training)
    return self._build.spec.fn(images, self.num_classes, is_training=training, **kwargs)

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
    return dict(self._build.network_kwargs)

  @property
  def default_image_size(self) -> int:
    return self._build.spec.default_image_size

  @property
  def variables_by_name(self) -> Dict[str, tf.Variable]:
    """name (without ':0') -> variable, in creation order; empty before the first call."""
    return dict(self._variables)

  def build(self, input_size: Optional[int] = None) -> 'Backbone':
    """Creates the variables by running the network once on zeros (default size: the network's minimum)."""
    if not self._variables:
      spec = self._build.spec
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

  def regularization_loss(self) -> tf.Tensor:
    """The sum of the arg scope's regularizers (weight decay) over the variables; 0 before the first call."""
    losses = [regularizer(variable) for variable, regularizer in self._build.regularized]
    return tf.add_n(losses) if losses else tf.constant(0.0)

  def save(self, path: str, overwrite: bool = False) -> str:
    """Writes the variables as a name-based checkpoint at prefix `path` (TF-Slim names), all or nothing.

    `restore`, `checkpoints.restore` in graph code and `slimnets export --checkpoint` read it. (They also
    read `tf.train.Checkpoint(model=backbone).save(...)`, by the same names.)

    Raises:
      FileExistsError: when a checkpoint exists at `path` and `overwrite` is False.
    """
    self.build()
    values = {name: variable.numpy() for name, variable in self._variables.items()}
    return checkpoints.write(values, path, overwrite=overwrite)

  def restore(self, checkpoint: str, exclude: Sequence[str] = (), allow_missing: bool = True,
              allow_mismatch: bool = False, allow_unused: bool = False) -> checkpoints.RestoreReport:
    """Assigns the variables from a TF-Slim checkpoint by name (building them first if needed).

    Arguments and errors as `checkpoints.restore`: checkpoint variables under the model's scopes that it
    does not build are an error unless `allow_unused` (a classification head of a backbone built without classes
    is left out, in the report's `head`).
    """
    self.build()
    return checkpoints.restore(checkpoint, dict(self._variables), exclude=exclude,
                               allow_missing=allow_missing, allow_mismatch=allow_mismatch, allow_unused=allow_unused)
