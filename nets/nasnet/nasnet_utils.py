"""The pieces NASNet-A and PNASNet are built from, with research/slim's API (nets/nasnet/nasnet_utils.py): the
cell classes, factorized reduction, drop-path and its schedule, and the small channel helpers.

A cell takes the previous two cell outputs. Its first two hidden states are the current input (through relu, a
1x1 convolution and batch norm) and the one before it, brought to the input's resolution and width
(`_reduce_prev_layer`). Five combinations follow, each the sum of two operations on earlier hidden states
('separable_KxK_N', 'avg_pool_3x3', 'max_pool_3x3', 'none'); the hidden states no combination used are
concatenated into the cell's output. A cell of stride 2 strides the operations that read its two inputs.

Done differently from research/slim, and why: research/slim decides whether the previous layer needs a factorized
reduction, and which hidden states must be reduced before the concatenation, by comparing static map widths.
That fails (`int(None)`) for images of unknown size, and where a stride-2 layer leaves a 1-pixel map at 1 pixel
it builds another layer (a 1x1 convolution in place of the factorized reduction), so a small image would get
variables the checkpoints do not have. Here each hidden state carries its resolution as the cell builds it, so
any image size, known or not, builds the same variables; at the sizes research/slim can build without that
collapse (all the usual ones) the graphs are the same.

Only channels-last data ('NHWC') is built (as every layer of this project); 'NCHW' is a ValueError.
"""

import copy
from typing import List, Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import layers

DATA_FORMAT_NCHW = 'NCHW'
DATA_FORMAT_NHWC = 'NHWC'
INVALID = 'null'
# research/slim's bound on activations when `use_bounded_activation` (relu6 and clipping in place of relu).
CLIP_BY_VALUE_CAP = 6


class HParams:
  """The configuration of a NASNet or PNASNet build (research/slim's `contrib_training.HParams`, of which this
  keeps what its configs use): the values are attributes; `set_hparam` changes one that exists."""

  def __init__(self, **values):
    self.__dict__.update(values)

  def set_hparam(self, name: str, value) -> None:
    """Sets the existing hyperparameter `name`.

    Raises:
      KeyError: naming the hyperparameters there are, when `name` is not one of them.
    """
    if name not in self.__dict__:
      raise KeyError(f'{name!r} is not a hyperparameter of this configuration; it has {", ".join(self.__dict__)}')
    setattr(self, name, value)

  def values(self) -> dict:
    """The hyperparameters as a dict."""
    return dict(self.__dict__)

  def __repr__(self) -> str:
    return f'HParams({", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())})'


def check_config(hparams: HParams, caller: str, depth_multiplier: float = 1.0) -> HParams:
  """A copy of `hparams` for one build: checked for what this project builds differently (the data format),
  `num_conv_filters` scaled by `depth_multiplier` (at least 8, so that the stem cells' quarter keeps 2 filters
  for the factorized reduction's two paths), and `stem_filters`, conv0's (32 * stem_multiplier, scaled alike)."""
  checks.check_depth_multiplier(depth_multiplier, caller)
  hparams = copy.deepcopy(hparams)
  data_format = getattr(hparams, 'data_format', DATA_FORMAT_NHWC)
  if data_format != DATA_FORMAT_NHWC:
    raise ValueError(f"{caller}: config.data_format must be 'NHWC', got {data_format!r}: the layers of this project "
                     "are built for channels-last tensors (transpose NCHW data to NHWC before the network)")
  hparams.stem_filters = int(32 * hparams.stem_multiplier)
  if depth_multiplier != 1.0:
    hparams.num_conv_filters = max(8, int(hparams.num_conv_filters * depth_multiplier))
    hparams.stem_filters = max(8, int(hparams.stem_filters * depth_multiplier))
  return hparams


def calc_reduction_layers(num_cells: int, num_reduction_layers: int) -> List[int]:
  """The cell indices before which a reduction (stride 2) happens: evenly spaced, `int(k / (n + 1) * num_cells)`."""
  return [int(float(k) / (num_reduction_layers + 1) * num_cells) for k in range(1, num_reduction_layers + 1)]


def _check_nhwc(data_format: str) -> None:
  if data_format not in (DATA_FORMAT_NHWC, INVALID):
    raise ValueError(f"data_format must be 'NHWC', got {data_format!r}: the layers of this project are built for "
                     'channels-last tensors')


@slim.add_arg_scope
def get_channel_index(data_format: str = INVALID) -> int:
  """The channel axis: 3 (NHWC)."""
  _check_nhwc(data_format)
  return 3


@slim.add_arg_scope
def get_channel_dim(shape, data_format: str = INVALID) -> int:
  """The channel count of a 4-D `shape` (NHWC)."""
  _check_nhwc(data_format)
  if len(shape) != 4:
    raise ValueError(f'get_channel_dim: expected a 4-D shape, got {shape}')
  return int(shape[3])


@slim.add_arg_scope
def global_avg_pool(x: tf.Tensor, data_format: str = INVALID) -> tf.Tensor:
  """The mean over height and width: [batch, channels]."""
  _check_nhwc(data_format)
  return tf.reduce_mean(x, [1, 2])


@slim.add_arg_scope
def factorized_reduction(net: tf.Tensor, output_filters: int, stride: int, data_format: str = INVALID) -> tf.Tensor:
  """Halves the resolution (stride 2) without dropping the odd pixels: two 1x1 convolutions of half the filters,
  one on the even pixels and one on the odd pixels (the map shifted by one), concatenated and batch normalized.
  Stride 1 is a 1x1 convolution and batch norm ('path_conv', 'path_bn')."""
  _check_nhwc(data_format)
  if stride == 1:
    net = layers.conv2d(net, output_filters, 1, scope='path_conv')
    return layers.batch_norm(net, scope='path_bn')
  strides = [1, stride, stride, 1]
  even = tf.nn.avg_pool2d(net, [1, 1, 1, 1], strides, 'VALID')
  even = layers.conv2d(even, output_filters // 2, 1, scope='path1_conv')
  shifted = tf.pad(net, [[0, 0], [0, 1], [0, 1], [0, 0]])[:, 1:, 1:, :]
  odd = tf.nn.avg_pool2d(shifted, [1, 1, 1, 1], strides, 'VALID')
  odd = layers.conv2d(odd, output_filters // 2 + output_filters % 2, 1, scope='path2_conv')
  return layers.batch_norm(tf.concat([even, odd], axis=3), scope='final_path_bn')


@slim.add_arg_scope
def drop_path(net: tf.Tensor, keep_prob, is_training: bool = True) -> tf.Tensor:
  """Zeroes whole examples of `net` with probability `1 - keep_prob` and scales the others by `1 / keep_prob`
  (training only)."""
  if not is_training:
    return net
  noise = tf.random.uniform([tf.shape(net)[0], 1, 1, 1], dtype=tf.float32)
  kept = tf.cast(tf.floor(keep_prob + noise), net.dtype)
  return net * tf.cast(1.0 / keep_prob, net.dtype) * kept


def _parse_separable(operation: str):
  """'separable_5x5_2' -> (kernel 5, 2 layers)."""
  parts = operation.split('_')
  height, _, width = parts[1].partition('x')
  if height != width:
    raise ValueError(f'{operation}: only square kernels are built')
  return int(height), int(parts[2]) if len(parts) > 2 else 1


def _parse_pool(operation: str):
  """'avg_pool_3x3' -> ('avg', 3)."""
  kind, shape = operation.split('_')[0], operation.split('_')[-1]
  height, _, width = shape.partition('x')
  if height != width:
    raise ValueError(f'{operation}: only square pools are built')
  return kind, int(height)


def _activation(bounded: bool):
  return tf.nn.relu6 if bounded else tf.nn.relu


def _stacked_separable_conv(net, stride, operation, filter_size, use_bounded_activation):
  """relu, separable convolution and batch norm, N times ('separable_KxK_i', 'bn_sep_KxK_i'); the first strides."""
  kernel, count = _parse_separable(operation)
  for i in range(1, count + 1):
    net = _activation(use_bounded_activation)(net)
    net = layers.separable_conv2d(net, filter_size, kernel, depth_multiplier=1, stride=stride,
                                  scope=f'separable_{kernel}x{kernel}_{i}')
    net = layers.batch_norm(net, scope=f'bn_sep_{kernel}x{kernel}_{i}')
    stride = 1
  return net


def _pooling(net, stride, operation, use_bounded_activation):
  kind, size = _parse_pool(operation)
  if use_bounded_activation:
    net = tf.nn.relu6(net)
  if kind == 'avg':
    return layers.avg_pool2d(net, size, stride=stride, padding='SAME')
  if kind == 'max':
    return layers.max_pool2d(net, size, stride=stride, padding='SAME')
  raise ValueError(f'{operation}: unknown pooling {kind!r} (avg or max)')


class NasNetABaseCell:
  """A NASNet-A / PNASNet cell (see the module docstring), called as `cell(net, scope, filter_scaling, stride,
  prev_layer, cell_num, current_step)` -> its output.

  Args:
    num_conv_filters: the filters of each operation at filter scaling 1.
    operations: the ten operations, two per combination (left, right).
    used_hiddenstates: 1 for each hidden state that a combination reads and so is left out of the output.
    hiddenstate_indices: the two hidden states each combination reads.
    drop_path_keep_prob: the final keep probability of drop-path (1.0: none).
    total_num_cells: the cells of the network (stem cells included), for the per-layer drop-path schedule.
    total_training_steps: the steps over which the drop probability rises to its final value.
    use_bounded_activation: relu6 and clipping to [-6, 6] in place of relu.
  """

  def __init__(self, num_conv_filters: int, operations: Sequence[str], used_hiddenstates: Sequence[int],
               hiddenstate_indices: Sequence[int], drop_path_keep_prob: float, total_num_cells: int,
               total_training_steps: int, use_bounded_activation: bool = False):
    self._num_conv_filters = num_conv_filters
    self._operations = list(operations)
    self._used_hiddenstates = list(used_hiddenstates)
    self._hiddenstate_indices = list(hiddenstate_indices)
    self._drop_path_keep_prob = drop_path_keep_prob
    self._total_num_cells = total_num_cells
    self._total_training_steps = total_training_steps
    self._use_bounded_activation = use_bounded_activation

  def _reduce_prev_layer(self, prev_layer, curr_layer, prev_is_larger: bool):
    """The previous layer at the current layer's resolution (factorized reduction) and width (1x1 convolution)."""
    if prev_layer is None:
      return curr_layer
    activation = _activation(self._use_bounded_activation)
    if prev_is_larger:
      return factorized_reduction(activation(prev_layer), self._filter_size, stride=2)
    if get_channel_dim(prev_layer.shape) != self._filter_size:
      prev_layer = layers.conv2d(activation(prev_layer), self._filter_size, 1, scope='prev_1x1')
      return layers.batch_norm(prev_layer, scope='prev_bn')
    return prev_layer

  def _cell_base(self, net, prev_layer, prev_is_larger):
    prev_layer = self._reduce_prev_layer(prev_layer, net, prev_is_larger)
    net = _activation(self._use_bounded_activation)(net)
    net = layers.conv2d(net, self._filter_size, 1, scope='1x1')
    net = layers.batch_norm(net, scope='beginning_bn')
    return [net, prev_layer]

  def __call__(self, net: tf.Tensor, scope: Optional[str] = None, filter_scaling: float = 1, stride: int = 1,
               prev_layer: Optional[tf.Tensor] = None, cell_num: int = -1, current_step=None,
               prev_is_larger: Optional[bool] = None) -> tf.Tensor:
    """Builds the cell on `net` and `prev_layer` (the output before it, or None).

    `prev_is_larger` says whether `prev_layer` has twice the resolution of `net` (the networks here know it from
    their structure); None decides it from the static map widths, as research/slim does.
    """
    self._cell_num = cell_num
    self._filter_scaling = filter_scaling
    self._filter_size = int(self._num_conv_filters * filter_scaling)
    if prev_is_larger is None:
      prev_is_larger = prev_layer is not None and int(prev_layer.shape[2]) != int(net.shape[2])
    with tf.compat.v1.variable_scope(scope):
      states = self._cell_base(net, prev_layer, prev_is_larger)
      # Each hidden state's resolution relative to the cell's inputs: 1 or `stride` (a strided operation read it).
      scales = [1, 1]
      for i in range(5):
        with tf.compat.v1.variable_scope(f'comb_iter_{i}'):
          summands, summand_scales = [], []
          for side, k in (('left', 2 * i), ('right', 2 * i + 1)):
            index = self._hiddenstate_indices[k]
            original = index < 2
            with tf.compat.v1.variable_scope(side):
              summands.append(self._apply_conv_operation(states[index], self._operations[k], stride, original,
                                                         current_step))
            summand_scales.append(stride if original else scales[index])
          if summand_scales[0] != summand_scales[1]:
            raise ValueError(f'{scope}: combination {i} adds hidden states of different resolutions')
          with tf.compat.v1.variable_scope('combine'):
            combined = summands[0] + summands[1]
            if self._use_bounded_activation:
              combined = tf.nn.relu6(combined)
          states.append(combined)
          scales.append(summand_scales[0])
      with tf.compat.v1.variable_scope('cell_output'):
        return self._combine_unused_states(states, scales)

  def _apply_conv_operation(self, net, operation, stride, is_from_original_input, current_step):
    """One operation; only the cell's two inputs are strided."""
    if stride > 1 and not is_from_original_input:
      stride = 1
    input_filters = get_channel_dim(net.shape)
    filter_size = self._filter_size
    bounded = self._use_bounded_activation
    if 'separable' in operation:
      net = _stacked_separable_conv(net, stride, operation, filter_size, bounded)
      if bounded:
        net = tf.clip_by_value(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)
    elif operation == 'none':
      if bounded:
        net = tf.nn.relu6(net)
      if stride > 1 or input_filters != filter_size:
        if not bounded:
          net = tf.nn.relu(net)
        net = layers.conv2d(net, filter_size, 1, stride=stride, scope='1x1')
        net = layers.batch_norm(net, scope='bn_1')
        if bounded:
          net = tf.clip_by_value(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)
    elif 'pool' in operation:
      net = _pooling(net, stride, operation, bounded)
      if input_filters != filter_size:
        net = layers.conv2d(net, filter_size, 1, stride=1, scope='1x1')
        net = layers.batch_norm(net, scope='bn_1')
      if bounded:
        net = tf.clip_by_value(net, -CLIP_BY_VALUE_CAP, CLIP_BY_VALUE_CAP)
    else:
      raise ValueError(f'Unknown cell operation {operation!r}: separable_KxK_N, avg_pool_KxK, max_pool_KxK or none')
    if operation != 'none':
      net = self._apply_drop_path(net, current_step=current_step)
    return net

  def _combine_unused_states(self, states, scales):
    """The unused hidden states, each brought to the last one's resolution and width, concatenated."""
    final_filters = get_channel_dim(states[-1].shape)
    for index, used in enumerate(self._used_hiddenstates):
      if used:
        continue
      larger = scales[index] != scales[-1]
      if larger or get_channel_dim(states[index].shape) != final_filters:
        with tf.compat.v1.variable_scope(f'reduction_{index}'):
          states[index] = factorized_reduction(states[index], final_filters, 2 if larger else 1)
    return tf.concat([h for h, used in zip(states, self._used_hiddenstates) if not used], axis=3)

  def _apply_drop_path(self, net, current_step=None, use_summaries=False, drop_connect_version='v3'):
    """Drop-path with research/slim's schedule: the drop probability `1 - drop_path_keep_prob` grows with the
    cell's depth ('v2': times `(cell_num + 1) / total_num_cells`) and with training ('v1': times
    `min(1, step / total_training_steps)`); 'v3' (the default) does both. The step is `current_step`, or the
    graph's global step (created, as research/slim does, where none exists yet)."""
    keep_prob = self._drop_path_keep_prob
    if keep_prob >= 1.0:
      return net
    if drop_connect_version not in ('v1', 'v2', 'v3'):
      raise ValueError(f"drop_connect_version must be 'v1', 'v2' or 'v3', got {drop_connect_version!r}")
    if drop_connect_version in ('v2', 'v3'):
      if self._cell_num == -1:
        raise ValueError('drop-path by layer needs the cell_num of the cell')
      layer_ratio = (self._cell_num + 1) / float(self._total_num_cells)
      if use_summaries:
        tf.compat.v1.summary.scalar('layer_ratio', layer_ratio)
      keep_prob = 1 - layer_ratio * (1 - keep_prob)
    if drop_connect_version in ('v1', 'v3'):
      if current_step is None:
        current_step = tf.compat.v1.train.get_or_create_global_step()
      ratio = tf.minimum(1.0, tf.cast(current_step, tf.float32) / self._total_training_steps)
      if use_summaries:
        tf.compat.v1.summary.scalar('current_ratio', ratio)
      keep_prob = 1 - ratio * (1 - keep_prob)
    if use_summaries:
      tf.compat.v1.summary.scalar('drop_path_keep_prob', keep_prob)
    return drop_path(net, keep_prob)


class NasNetANormalCell(NasNetABaseCell):
  """NASNet-A's normal cell (stride 1)."""

  def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells, total_training_steps,
               use_bounded_activation=False):
    operations = ['separable_5x5_2', 'separable_3x3_2', 'separable_5x5_2', 'separable_3x3_2', 'avg_pool_3x3',
                  'none', 'avg_pool_3x3', 'avg_pool_3x3', 'separable_3x3_2', 'none']
    super().__init__(num_conv_filters, operations, [1, 0, 0, 0, 0, 0, 0], [0, 1, 1, 1, 0, 1, 1, 1, 0, 0],
                     drop_path_keep_prob, total_num_cells, total_training_steps, use_bounded_activation)


class NasNetAReductionCell(NasNetABaseCell):
  """NASNet-A's reduction cell (stride 2; also its ImageNet stem cells)."""

  def __init__(self, num_conv_filters, drop_path_keep_prob, total_num_cells, total_training_steps,
               use_bounded_activation=False):
    operations = ['separable_5x5_2', 'separable_7x7_2', 'max_pool_3x3', 'separable_7x7_2', 'avg_pool_3x3',
                  'separable_5x5_2', 'none', 'avg_pool_3x3', 'separable_3x3_2', 'max_pool_3x3']
    super().__init__(num_conv_filters, operations, [1, 1, 1, 0, 0, 0, 0], [0, 1, 0, 1, 0, 1, 3, 2, 2, 0],
                     drop_path_keep_prob, total_num_cells, total_training_steps, use_bounded_activation)
