"""What every eager model is: graph network code run under a custom getter, in eager mode or inside `tf.function`,
with the variables of the graph build (`NetworkModule`, the base of `Backbone` and `Segmenter`).

A model holds its variables by their graph names (`resnet_v1_50/conv1/weights`), made on the first call and handed
back on every later one, so TF-Slim and DeepLab checkpoints restore by name. Each call runs the model's network
function (`_network`) through `_run`: under the getter, the build lock, the model's arg scope and, in eager code,
a sink for the regularizers (weight decay is `regularization_loss()`; there are no collections).

The output contract is the same for every model: `model(images, training)` gives `(net, outputs)`, and the model
says what it serves (`main_output`), which values it takes (`value_range`), its default size and which extra outputs
it can give (`check_outputs`), so that serving, export and the backends never ask which kind of model they hold.
"""

import dataclasses
import functools
from typing import Callable, Dict, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers
from slimnets.weights import checkpoints


@dataclasses.dataclass
class _Build:
  """What a model keeps outside TensorFlow's object tracking (SavedModel saves only the variables)."""
  arg_scope: dict
  regularized: list
  variable_factory: Callable


def new_variable(name: str, shape, dtype: tf.DType, initial_value, trainable: bool) -> tf.Variable:
  """A model's variable: a `tf.Variable` named `name` (a TF-Slim name); the moving averages (not trainable)
  are sync-on-read variables averaged across replicas. `initial_value` is a value or a function giving one."""
  del shape
  sync = {} if trainable else {'synchronization': tf.VariableSynchronization.ON_READ,
                               'aggregation': tf.VariableAggregation.MEAN}
  return tf.Variable(initial_value, name=name, trainable=trainable, dtype=dtype, **sync)


def check_eager(kind: str) -> None:
  """Raises RuntimeError when this program has turned off the eager execution the models need."""
  if not tf.compat.v1.executing_eagerly_outside_functions():
    raise RuntimeError(f'slimnets.models.{kind} needs TF2 behaviour (eager execution), and this program has turned '
                       'it off (tf.compat.v1.disable_v2_behavior() or disable_eager_execution()); in TF1 '
                       'programs build the network in a graph: nets_factory.get_network_fn(...)(images)')


def _getter_of_values(values: Mapping[str, tf.Tensor], getter, name, *args, dtype=tf.float32, **kwargs):
  """A custom getter handing out `values[name]`, cast to the dtype asked for."""
  del getter, args, kwargs
  return tf.cast(values[name], dtype)


class NetworkModule(tf.Module):
  """An eager, trainable `tf.Module` running graph network code with the graph build's variable names.

  Subclasses give the network (`_network(images, training) -> (net, outputs)`), the pixel step (`from_pixels`),
  `build` and the output contract (`main_output`, `value_range`, `default_input_size`, `check_outputs`).

  Args:
    name: the module's name; variable names do not depend on it.
    in_channels: channels the images must have (checked by the subclass).
    synchronized_batch_norm: in training under a `tf.distribute` strategy, normalize with the statistics of the
      global batch (`nets.layers.batch_norm(synchronized=True)`). It gives each thread of the process its own
      tf-slim arg scope stack (`nets.layers.use_per_thread_arg_scopes`), which replica threads need.
    variable_factory: makes each variable on first use, as `new_variable`.
    arg_scope: the arg scope every call runs under.
  """

  # The key of the main output among the serving outputs (`slimnets.deploy.serving.folded_outputs`).
  main_output = 'output'

  def __init__(self, name: str, *, in_channels: int, synchronized_batch_norm: bool, variable_factory,
               arg_scope: dict):
    super().__init__(name=name)
    self.in_channels = in_channels
    self.synchronized_batch_norm = bool(synchronized_batch_norm)
    if self.synchronized_batch_norm:  # replica threads take turns inside the model at the all-reduce
      layers.use_per_thread_arg_scopes()
    self._build = _Build(arg_scope, [], variable_factory)
    # The attribute's name is part of object-based checkpoints' keys (`model/_variables/<name>/...`).
    self._variables: Dict[str, tf.Variable] = {}

  def _getter(self, getter, name, shape=None, dtype=tf.float32, initializer=None, trainable=True, **kwargs):
    """Hands back the variable `name`, creating it on first use.

    The variable is created here with `tf.Variable`, not by `getter`: TensorFlow's variable store is shared
    between the eager context and `tf.function` graphs, so once one model had created its variables in a
    function, the store would refuse the same names to the next model. Requests for bfloat16 or float16
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
               dropout_seed: Optional[tf.Tensor] = None, fold_batch_norm: Optional[bool] = None,
               moving_average_decay=None) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """Runs the model on `images` (see the subclass: `Backbone.__call__`, `Segmenter`). The build options left
    None are those of the surrounding block (`nets.layers.build_options`)."""
    options = {name: value for name, value in (('fold_batch_norm', fold_batch_norm),
                                               ('moving_average_decay', moving_average_decay)) if value is not None}
    return self._run(self.network_input(images), training, weights, self._network, dropout_seed, **options)

  @tf.autograph.experimental.do_not_convert
  def _run(self, images: tf.Tensor, training, weights: Optional[Mapping[str, tf.Tensor]], network,
           dropout_seed: Optional[tf.Tensor] = None, **options) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """`network(images, training)` under the getter (the variables), the build lock, the arg scope and the build
    `options` (`nets.layers.BuildOptions` fields; the regularizers go to the model): what every call of the model
    runs through.

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
      with layers.building(self._build.arg_scope, getter, regularizer_sink=sink, **options), \
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
    """`images` checked and made what the network function takes (see `__call__`): uint8 pixels through
    `from_pixels`, float64 cast to float32; in a traced function with unknown sizes, an assertion that no axis is
    empty.

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
    """uint8 pixels in [0, 255] as the network's float32 input."""
    raise NotImplementedError

  def _network(self, images: tf.Tensor, training) -> Tuple[tf.Tensor, Dict[str, tf.Tensor]]:
    """The graph-building call run under the getter and the arg scope."""
    raise NotImplementedError

  def build(self, input_size: Optional[int] = None) -> 'NetworkModule':
    """Creates the variables by running once on zeros; returns the model."""
    raise NotImplementedError

  @property
  def value_range(self) -> Tuple[float, float]:
    """The range of the float images the model takes (after `from_pixels`)."""
    raise NotImplementedError

  def default_input_size(self) -> Tuple[int, int]:
    """(height, width) the model runs at when no size is given (export, benchmark, extract)."""
    raise NotImplementedError

  def check_outputs(self, levels: Sequence[str] = (), pooled: bool = False, verb: str = 'gives') -> None:
    """Raises ValueError for extra outputs (feature levels, `pooled`) the model cannot give."""
    raise NotImplementedError

  def serving_outputs(self, net: tf.Tensor, end_points: Mapping[str, tf.Tensor], images: tf.Tensor,
                      levels: Sequence[str] = (), pooled: bool = False) -> Dict[str, tf.Tensor]:
    """What a deployment serves of one inference call `(net, end_points) = model(images)`, by output name
    (`main_output` first); `levels` and `pooled` as `check_outputs` allows."""
    raise NotImplementedError

  @property
  def variables_by_name(self) -> Dict[str, tf.Variable]:
    """name (without ':0') -> variable, in creation order; empty before the first call."""
    return dict(self._variables)

  def regularization_loss(self) -> tf.Tensor:
    """The sum of the regularizers (weight decay) over the variables; 0 before the first call."""
    losses = [regularizer(variable) for variable, regularizer in self._build.regularized]
    return tf.add_n(losses) if losses else tf.constant(0.0)

  def save(self, path: str, overwrite: bool = False) -> str:
    """Writes the variables as a name-based checkpoint at prefix `path` (TF-Slim names), all or nothing.

    `restore`, `checkpoints.restore` in graph code and `slimnets export --checkpoint` read it. (They also
    read `tf.train.Checkpoint(model=model).save(...)`, by the same names.)

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
