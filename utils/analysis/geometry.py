"""Geometry of a built network, read off its graph: spatial size, stride and receptive field of every tensor.

Nothing here is typed in per network. `trace` walks the ops between the input and the requested tensors in
creation order, and each spatial op maps the geometry of its input to that of its output, per axis:

    convolution / pool with kernel k, stride s, rate d (effective kernel e = d * (k - 1) + 1), begin padding p:
      size        n -> ceil(n / s) for SAME, floor((n - e) / s) + 1 for VALID
      stride      j -> j * s
      receptive   r -> r + (e - 1) * j
      start       a -> a - p * j          (input coordinate of the first pixel seen by output pixel 0)
    explicit padding by p at the beginning: size n -> n + p + q, start a -> a - p * j
    global mean: a pool whose kernel and stride are the whole map

    bilinear resize with aligned corners from n to m pixels (DeepLab's): stride j -> j * (n - 1) / (m - 1);
      where output pixels fall between input pixels, receptive r -> r + j and start a -> a - j / 2 (the field of
      the two pixels interpolated, centred on the interpolated position)
    a 1-pixel map resized to any size (DeepLab's image pooling branch), or broadcast by a pointwise op onto a larger
      map (squeeze-and-excitation's gates), is the same feature at every pixel: joined with other maps, it marks
      them `image_level` (each pixel also sees the whole image)

Pointwise ops keep the geometry; ops joining several spatial inputs (add, concat on channels) take the union of
their receptive fields. Any other op on the path to a requested tensor raises `GeometryError`, so the numbers
are either computed from the ops that are there or not given at all.

The receptive field is the theoretical one (padding included): with SAME padding a feature near the border sees
part of its field outside the image. A feature map's corners are *aligned* with the image corners when the
centre of its first pixel is the image's first pixel and the centre of its last pixel the image's last one;
for networks that pad SAME this holds exactly for inputs of size k * stride + 1. A resize between sizes that are
not of that form gives strides and starts that are fractions of a pixel (`fractions.Fraction`), as they are.
"""

import dataclasses
import fractions
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

Pair = Tuple[int, int]

_POINTWISE = frozenset([
    'Identity', 'Relu', 'Relu6', 'Elu', 'Selu', 'Sigmoid', 'Tanh', 'Softplus', 'LeakyRelu', 'Softmax', 'Cast',
    'BiasAdd', 'FusedBatchNorm', 'FusedBatchNormV2', 'FusedBatchNormV3', 'Add', 'AddV2', 'Sub', 'Mul', 'RealDiv',
    'Maximum', 'Minimum', 'ClipByValue', 'Neg', 'Square', 'Rsqrt', 'StopGradient', 'Squeeze',
])
_WINDOWED = frozenset(['Conv2D', 'DepthwiseConv2dNative', 'MaxPool', 'AvgPool'])
_PADS = frozenset(['Pad', 'PadV2', 'MirrorPad'])
_RESIZE = 'ResizeBilinear'
# Ops whose first input is the map and whose others are computed from its Shape (not spatial inputs).
_SIZED_BY_SHAPE = frozenset(['SpaceToBatchND', 'BatchToSpaceND', _RESIZE])


class GeometryError(ValueError):
  """A requested tensor depends on the input through an op whose geometry is not known."""


@dataclasses.dataclass(frozen=True)
class _Axis:
  """Geometry along one spatial axis; `size` and `start` are None when the input size is unknown."""
  size: Optional[int]
  stride: int
  receptive_field: int
  start: Optional[int]
  image_level: bool = False

  def window(self, kernel: int, stride: int, rate: int, padding: str) -> '_Axis':
    effective = rate * (kernel - 1) + 1
    if padding == 'VALID':
      size = None if self.size is None else (self.size - effective) // stride + 1
      if size is not None and size < 1:
        raise GeometryError(f'a VALID window of {effective} pixels does not fit a map of {self.size}')
      pad_begin = 0
    else:
      size = None if self.size is None else -(-self.size // stride)
      pad_begin = None if size is None else max((size - 1) * stride + effective - self.size, 0) // 2
      if size is None and stride == 1:
        pad_begin = (effective - 1) // 2
    start = None if self.start is None or pad_begin is None else self.start - pad_begin * self.stride
    return _Axis(size, self.stride * stride, self.receptive_field + (effective - 1) * self.stride, start,
                 self.image_level)

  def pad(self, begin: int, end: int) -> '_Axis':
    size = None if self.size is None else self.size + begin + end
    start = None if self.start is None else self.start - begin * self.stride
    return dataclasses.replace(self, size=size, start=start)

  def resized(self, size: int) -> '_Axis':
    """Bilinear resizing with aligned corners to `size` pixels (this map has more than one)."""
    if self.size is None:
      raise GeometryError('resizing needs a known input size')
    if self.size == 1:
      raise GeometryError(f'a resize of 1 pixel to {size} on one axis only is not mapped')
    if size < 2:
      raise GeometryError(f'a resize of {self.size} pixels to {size} keeps no stride')
    stride = _exact(fractions.Fraction(self.size - 1, size - 1) * self.stride)
    if (self.size - 1) % (size - 1) == 0:  # every output pixel is an input pixel
      return dataclasses.replace(self, size=size, stride=stride)
    start = None if self.start is None else _exact(self.start - fractions.Fraction(self.stride, 2))
    return dataclasses.replace(self, size=size, stride=stride, receptive_field=self.receptive_field + self.stride,
                               start=start)

  def union(self, other: '_Axis') -> '_Axis':
    if self.size != other.size or self.stride != other.stride:
      raise GeometryError(f'cannot join maps of size {self.size} and {other.size}, stride '
                          f'{number_text(self.stride)} and {number_text(other.stride)}')
    if self.start is None or other.start is None:
      return _Axis(self.size, self.stride, max(self.receptive_field, other.receptive_field), None,
                   self.image_level or other.image_level)
    start = min(self.start, other.start)
    end = max(self.start + self.receptive_field, other.start + other.receptive_field)
    return _Axis(self.size, self.stride, end - start, start, self.image_level or other.image_level)


def number_text(value) -> str:
  """A stride, size or start for people: '16', '3.848' (a fractional one, to 3 decimals)."""
  value = _exact(value)
  return str(value) if isinstance(value, int) else f'{float(value):.3f}'.rstrip('0')


def _exact(value):
  """A whole `Fraction` as an int (so that geometry without fractional resizes stays in ints)."""
  return int(value) if isinstance(value, fractions.Fraction) and value.denominator == 1 else value


@dataclasses.dataclass(frozen=True)
class Geometry:
  """Where a feature map sits on the input image.

  Attributes:
    size: (height, width) of the map, or None where the input size is unknown.
    stride: (h, w) distance in input pixels between neighbouring map pixels.
    receptive_field: (h, w) extent in input pixels seen by one map pixel, padding included (the largest, where
      bilinear upsampling interpolates between pixels).
    start: (h, w) input coordinate of the first pixel seen by map pixel (0, 0); negative inside the padding.
      None where it depends on an unknown input size.
    image_level: each map pixel also sees an image-level feature (a global pool broadcast back to the map, as
      DeepLab's image pooling), so it depends on the whole image; `receptive_field` is that of the other paths.
  """
  size: Optional[Pair]
  stride: Pair
  receptive_field: Pair
  start: Optional[Pair]
  image_level: bool = False

  def center(self, index: Pair = (0, 0)) -> Optional[Tuple[float, float]]:
    """Input coordinates of the centre of the receptive field of map pixel `index`."""
    if self.start is None:
      return None
    return tuple(a + (r - 1) / 2 + i * j for a, r, i, j in
                 zip(self.start, self.receptive_field, index, self.stride))

  def aligned(self, input_size: Pair) -> bool:
    """Whether the first and last map pixels are centred on the first and last input pixels."""
    if self.size is None or self.start is None:
      return False
    first = self.center((0, 0))
    last = self.center((self.size[0] - 1, self.size[1] - 1))
    return first == (0, 0) and last == (input_size[0] - 1, input_size[1] - 1)


def _from_axes(h: _Axis, w: _Axis) -> Geometry:
  size = None if h.size is None or w.size is None else (h.size, w.size)
  start = None if h.start is None or w.start is None else (h.start, w.start)
  return Geometry(size, (h.stride, w.stride), (h.receptive_field, w.receptive_field), start,
                  h.image_level or w.image_level)


class _Unknown:
  """Stands for a tensor that depends on the input through an op this module cannot map."""

  def __init__(self, op: tf.Operation):
    self.op = op


@dataclasses.dataclass(frozen=True)
class _Phased:
  """A map cut into phases by SpaceToBatchND, as TensorFlow computes a dilated convolution it has no kernel for
  (depthwise ones on CPU): `axes` are those of the padded map in input terms, `block` the rate. A convolution
  on the phases is the dilated convolution of the padded map; BatchToSpaceND joins the phases and crops."""
  axes: tuple
  block: Tuple[int, int]
  op: tf.Operation


@dataclasses.dataclass(frozen=True)
class _Broadcast:
  """A map of `size` holding one feature at every pixel: a 1-pixel map resized (an image-level feature)."""
  size: Pair
  op: tf.Operation


def _static_value(tensor: tf.Tensor, what: str, op: tf.Operation):
  value = tf.get_static_value(tensor)
  if value is None:
    raise GeometryError(f'{op.type} op {op.name!r}: its {what} is not a constant')
  return value


def _with_known_shapes(tensor: tf.Tensor, axes: Mapping, what: str, op: tf.Operation) -> np.ndarray:
  """The value of `tensor`, computed from the traced sizes of the maps whose `Shape` it is made from.

  With an input of unknown size, TensorFlow computes the paddings of a dilated depthwise convolution at run
  time from the map's shape; at a traced size they follow from the sizes found here. Only the arithmetic
  between the `Shape` ops and `tensor` is copied and run, in a graph of its own. An axis of unknown size is
  given size 1: space-to-batch paddings of one axis do not depend on the other's size, and the caller uses
  the paddings of the known axes only.
  """
  value = tf.get_static_value(tensor)
  if value is not None:
    return value
  nodes, shapes, stack = {}, {}, [tensor.op]
  while stack:
    current = stack.pop()
    if current.name in nodes or current.outputs and current.outputs[0].name in shapes:
      continue
    if current.type == 'Shape':
      found, static = axes.get(current.inputs[0]), current.inputs[0].shape.as_list()
      sizes = [a.size or 1 for a in found] if isinstance(found, tuple) else [None, None]
      dims = [static[0] or 1, *sizes, static[3]] if len(static) == 4 else [None]
      if None in dims:
        raise GeometryError(f'{op.type} op {op.name!r}: its {what} depend on a size not known here')
      shapes[current.outputs[0].name] = np.array(dims, current.get_attr('out_type').as_numpy_dtype)
      continue
    if current.type in ('Placeholder', 'VarHandleOp', 'VariableV2'):
      raise GeometryError(f'{op.type} op {op.name!r}: its {what} depend on {current.type} {current.name!r}')
    node = tf.compat.v1.NodeDef()
    node.CopyFrom(current.node_def)
    del node.input[:]
    node.input.extend(name for name in current.node_def.input if not name.startswith('^'))
    nodes[current.name] = node
    stack.extend(t.op for t in current.inputs)
  graph_def = tf.compat.v1.GraphDef()
  graph_def.node.extend(nodes.values())
  with tf.Graph().as_default():
    mapped = {name: tf.constant(value) for name, value in shapes.items()}
    result, = tf.graph_util.import_graph_def(graph_def, input_map=mapped, return_elements=[tensor.name], name='')
    with tf.compat.v1.Session() as session:
      return session.run(result)


def _map_phased(op: tf.Operation, spatial: Sequence, axes: Mapping):
  """The space-to-batch pattern of a dilated convolution: phases in, convolutions on them, phases joined."""
  if op.type == 'SpaceToBatchND':
    block = tuple(int(b) for b in _static_value(op.inputs[1], 'block shape', op).reshape(-1))
    if len(block) != 2 or not isinstance(spatial[0], tuple):
      raise GeometryError(f'SpaceToBatchND op {op.name!r}: only a 2-D block on an image map is mapped')
    paddings = _with_known_shapes(op.inputs[2], axes, 'paddings', op).tolist()
    # On an axis of unknown size only the stride and receptive field are known, which padding does not change.
    return _Phased(tuple(a if a.size is None else a.pad(*pad) for a, pad in zip(spatial[0], paddings)), block, op)
  phased = spatial[0]
  others = spatial[1:] if op.type != 'BatchToSpaceND' else ()  # its crops come from the map's Shape
  if not isinstance(phased, _Phased) or any(s is not None for s in others):
    raise GeometryError(f'{op.type} op {op.name!r} on space-to-batch phases is not mapped')
  if op.type in ('Conv2D', 'DepthwiseConv2dNative'):
    if op.get_attr('padding').decode() != 'VALID' or tuple(op.get_attr('strides')) != (1, 1, 1, 1):
      raise GeometryError(f'{op.type} op {op.name!r} on space-to-batch phases must be VALID and of stride 1')
    (h, w), (rh, rw) = phased.axes, phased.block
    kernel_h, kernel_w = op.inputs[1].shape.as_list()[:2]
    return _Phased((h.window(kernel_h, 1, rh, 'VALID'), w.window(kernel_w, 1, rw, 'VALID')), phased.block, op)
  if op.type == 'BatchToSpaceND':
    crops = _with_known_shapes(op.inputs[2], axes, 'crops', op).tolist()
    return tuple(a if a.size is None else a.pad(-begin, -end) for a, (begin, end) in zip(phased.axes, crops))
  raise GeometryError(f'{op.type} op {op.name!r} on space-to-batch phases is not mapped')


def _resize_target(op: tf.Operation, axes: Mapping) -> Pair:
  if not op.get_attr('align_corners') or op.get_attr('half_pixel_centers'):
    raise GeometryError(f'ResizeBilinear op {op.name!r}: only resizing with aligned corners is mapped')
  height, width = (int(n) for n in _with_known_shapes(op.inputs[1], axes, 'size', op).reshape(-1))
  return height, width


def _map_broadcast(op: tf.Operation, spatial: Sequence, axes: Mapping):
  """Resizes, and ops on image-level maps (`_Broadcast`), which are constant over their pixels."""
  if op.type == _RESIZE:
    source, target = spatial[0], _resize_target(op, axes)
    if not isinstance(source, (tuple, _Broadcast)):
      raise GeometryError(f'ResizeBilinear op {op.name!r}: the resized map is not an image map')
    if isinstance(source, _Broadcast) or source[0].size == source[1].size == 1:
      return _Broadcast(target, op)
    return source[0].resized(target[0]), source[1].resized(target[1])
  broadcasts = [s for s in spatial if isinstance(s, _Broadcast)]
  maps = [s for s in spatial if isinstance(s, tuple)]
  if op.type in ('Conv2D', 'DepthwiseConv2dNative') and not maps:
    if op.inputs[1].shape.as_list()[:2] != [1, 1] or tuple(op.get_attr('strides')) != (1, 1, 1, 1):
      raise GeometryError(f'{op.type} op {op.name!r}: only a 1x1 convolution of stride 1 on an image-level '
                          'map is mapped')
    return broadcasts[0]
  if op.type not in _POINTWISE and op.type != 'ConcatV2':
    raise GeometryError(f'{op.type} op {op.name!r} on an image-level map is not mapped')
  if not maps:
    return broadcasts[0]
  h, w = _joined(op, maps)
  if any(b.size != (h.size, w.size) for b in broadcasts):
    raise GeometryError(f'{op.type} op {op.name!r} joins an image-level map of another size')
  return dataclasses.replace(h, image_level=True), dataclasses.replace(w, image_level=True)


def _joined(op: tf.Operation, maps: Sequence) -> Tuple[_Axis, _Axis]:
  """The union of the maps that `op` (pointwise, or a concatenation on channels) joins."""
  if op.type == 'ConcatV2':
    axis = int(_static_value(op.inputs[-1], 'axis', op)) % 4
    if axis != 3:
      raise GeometryError(f'ConcatV2 op {op.name!r} joins along axis {axis}, not channels')
  else:  # broadcasting: a 1x1 map (a global pool's, as squeeze-and-excitation gates) is the same at every pixel
    full = [m for m in maps if not m[0].size == m[1].size == 1]
    if full and len(full) < len(maps):
      h, w = _joined(op, full)
      return dataclasses.replace(h, image_level=True), dataclasses.replace(w, image_level=True)
  h, w = maps[0]
  for other_h, other_w in maps[1:]:
    h, w = h.union(other_h), w.union(other_w)
  return h, w


def _map_op(op: tf.Operation, spatial: Sequence, axes: Mapping) -> Sequence:
  """The output axes of `op`, given (h, w) axes or None for each of its inputs (`axes`: those found so far)."""
  if op.type == 'SpaceToBatchND' or any(isinstance(s, _Phased) for s in spatial):
    return _map_phased(op, spatial, axes)
  if op.type == _RESIZE or any(isinstance(s, _Broadcast) for s in spatial):
    return _map_broadcast(op, spatial, axes)
  if op.type in _WINDOWED:
    h, w = spatial[0]
    padding = op.get_attr('padding').decode()
    if padding not in ('SAME', 'VALID'):
      raise GeometryError(f'{op.type} op {op.name!r}: padding {padding!r} is not mapped')
    if op.type.endswith('Pool'):
      kernel = op.get_attr('ksize')
      rates = (1, 1, 1, 1)
    else:
      kernel = (1,) + tuple(op.inputs[1].shape.as_list()[:2]) + (1,)
      rates = op.get_attr('dilations')
    strides = op.get_attr('strides')
    return (h.window(kernel[1], strides[1], rates[1], padding), w.window(kernel[2], strides[2], rates[2], padding))
  if op.type in _PADS:
    (h, w), paddings = spatial[0], _static_value(op.inputs[1], 'padding', op)
    return h.pad(*map(int, paddings[1])), w.pad(*map(int, paddings[2]))
  if op.type == 'StridedSlice':
    return _cropped(op, spatial[0])
  if op.type == 'Mean':
    axes = sorted(int(a) % 4 for a in _static_value(op.inputs[1], 'axis', op).reshape(-1))
    if axes != [1, 2]:
      raise GeometryError(f'Mean op {op.name!r} over axes {axes} is not a spatial mean')
    h, w = spatial[0]
    if h.size is None or w.size is None:
      raise GeometryError(f'Mean op {op.name!r}: a global mean needs a known input size')
    return h.window(h.size, h.size, 1, 'VALID'), w.window(w.size, w.size, 1, 'VALID')
  if op.type not in _POINTWISE and op.type != 'ConcatV2':
    return _Unknown(op)
  return _joined(op, [axes for axes in spatial if axes is not None])


def _cropped(op: tf.Operation, spatial) -> Tuple[_Axis, _Axis]:
  """A slice of a map that keeps every pixel of a window along height and width (stride 1), e.g. `x[:, 1:, 1:]`
  (NASNet's factorized reduction shifts its map so)."""
  if op.get_attr('ellipsis_mask') or op.get_attr('new_axis_mask') or op.get_attr('shrink_axis_mask'):
    raise GeometryError(f'StridedSlice op {op.name!r}: only a slice that keeps all four axes is mapped')
  begin, end, strides = (_static_value(op.inputs[k], what, op).tolist()
                         for k, what in ((1, 'begin'), (2, 'end'), (3, 'strides')))
  begin_mask, end_mask = op.get_attr('begin_mask'), op.get_attr('end_mask')
  cropped = []
  for axis, current in zip((1, 2), spatial):
    if strides[axis] != 1:
      raise GeometryError(f'StridedSlice op {op.name!r}: a slice of stride {strides[axis]} is not mapped')
    first = 0 if begin_mask & (1 << axis) else begin[axis]
    last = None if end_mask & (1 << axis) else end[axis]
    if first < 0 or (last is not None and last < 0):
      raise GeometryError(f'StridedSlice op {op.name!r}: a slice from the end of a map is not mapped')
    if last is not None and current.size is None:
      raise GeometryError(f'StridedSlice op {op.name!r}: a slice to a fixed end needs a known input size')
    cut_end = 0 if last is None else current.size - last
    cropped.append(current.pad(-first, -cut_end))
  return tuple(cropped)


def trace_tensors(inputs: tf.Tensor, input_size: Optional[Pair] = None) -> Dict[tf.Tensor, object]:
  """Maps every tensor of `inputs`' graph that depends on `inputs` to its (h, w) axes, or to an `_Unknown`.

  Args:
    inputs: the `[batch, height, width, channels]` image tensor the geometry is measured on.
    input_size: (height, width); default: the static shape of `inputs`, if known.
  """
  if input_size is None:
    input_size = tuple(inputs.shape.as_list()[1:3]) if inputs.shape.rank == 4 else (None, None)
  axes = {inputs: tuple(_Axis(n, 1, 1, None if n is None else 0) for n in input_size)}
  ops = inputs.graph.get_operations()
  first = ops.index(inputs.op) + 1
  for op in ops[first:]:
    spatial = [axes.get(t) for t in op.inputs]
    if all(s is None for s in spatial):
      continue
    if op.type == 'IdentityN':  # e.g. around an op with a custom gradient: output i is input i
      axes.update((output, s) for output, s in zip(op.outputs, spatial) if s is not None)
      continue
    # Space-to-batch ops and resizes take their paddings or sizes from a map's Shape: only the map itself is a
    # spatial input.
    maps = spatial[:1] if op.type in _SIZED_BY_SHAPE else spatial
    unknown = next((s for s in maps if isinstance(s, _Unknown)), None)
    if unknown is not None:
      result = unknown
    else:
      try:
        result = _map_op(op, spatial, axes)
      except GeometryError as error:
        result = _Unknown(op)
        result.error = error
    axes[op.outputs[0]] = result
    for output in op.outputs[1:]:  # e.g. batch statistics: they depend on the input but are not maps
      axes[output] = result if isinstance(result, _Unknown) else _Unknown(op)
  return axes


def _geometry_of(name: str, tensor: tf.Tensor, axes: Mapping) -> Geometry:
  found = axes.get(tensor)
  if found is None:
    raise GeometryError(f'{name!r} does not depend on the input tensor')
  if isinstance(found, _Unknown):
    reason = getattr(found, 'error', None) or 'its geometry is not mapped'
    raise GeometryError(f'{name!r} depends on the input through {found.op.type} op {found.op.name!r}: {reason}')
  if isinstance(found, _Phased):
    raise GeometryError(f'{name!r} is a space-to-batch intermediate of {found.op.type} op {found.op.name!r}, '
                        'not an image map')
  if isinstance(found, _Broadcast):
    raise GeometryError(f'{name!r} is one image-level feature broadcast to a map by {found.op.type} op '
                        f'{found.op.name!r}: it has no stride')
  return _from_axes(*found)


def trace(inputs: tf.Tensor, tensors: Mapping[str, tf.Tensor], input_size: Optional[Pair] = None
          ) -> Dict[str, Geometry]:
  """The geometry of each named tensor (e.g. a network's `end_points`) relative to `inputs`.

  Works in graph mode, on the graph the tensors were built in.

  Args:
    inputs: the image tensor the network was built on.
    tensors: name -> tensor; rank-2 tensors (squeezed logits) keep the geometry of their 1x1 map.
    input_size: (height, width) to measure at; default: the static size of `inputs`. With an unknown size,
      `size` and `start` are None but strides and receptive fields are given.

  Returns:
    name -> `Geometry`, in the order of `tensors`.

  Raises:
    GeometryError: when a tensor does not depend on `inputs`, or does through an op that is not mapped.
  """
  axes = trace_tensors(inputs, input_size)
  return {name: _geometry_of(name, tensor, axes) for name, tensor in tensors.items()}


def conv_flops(inputs: tf.Tensor, input_size: Optional[Pair] = None) -> int:
  """Floating point operations of the convolutions that depend on `inputs`, as 2 x multiply-adds per image.

  Counts every `Conv2D` (and depthwise) op fed by `inputs`, logits included; batch norm, activations, pooling
  and additions are not counted, as is usual for such totals. A convolution whose geometry is not mapped (e.g.
  after maps of different strides were joined) is counted from its static shape, measured at `inputs`' own size.

  Raises:
    GeometryError: for a convolution whose output size is known neither way.
  """
  axes = trace_tensors(inputs, input_size)
  own_size = input_size is None or tuple(input_size) == tuple(inputs.shape.as_list()[1:3])
  total = 0
  for op in inputs.graph.get_operations():
    if op.type not in ('Conv2D', 'DepthwiseConv2dNative'):
      continue
    found = axes.get(op.outputs[0])
    if found is None:
      continue
    kernel_h, kernel_w, in_channels, _ = op.inputs[1].shape.as_list()
    out_channels = op.outputs[0].shape.as_list()[-1]
    per_output = kernel_h * kernel_w * (in_channels if op.type == 'Conv2D' else 1)
    if isinstance(found, _Unknown):
      static = op.outputs[0].shape.as_list()
      batch = inputs.shape.as_list()[0]
      if not own_size or None in static or not batch:
        raise GeometryError(f'counting FLOPs: the output size of {op.type} op {op.name!r} is not known')
      total += 2 * static[0] * static[1] * static[2] // batch * out_channels * per_output
      continue
    if isinstance(found, _Broadcast):
      h, w = (_Axis(n, 1, 1, None) for n in found.size)
    elif isinstance(found, _Phased):  # on space-to-batch phases: the batch holds the phases of each image
      phases = found.block[0] * found.block[1]
      h, w = (dataclasses.replace(a, size=None if a.size is None else a.size // b)
              for a, b in zip(found.axes, found.block))
      h = dataclasses.replace(h, size=None if h.size is None else h.size * phases)
    else:
      h, w = found
    if h.size is None or w.size is None:
      raise GeometryError('counting FLOPs needs a known input size')
    total += 2 * h.size * w.size * out_channels * per_output
  return total


def trunk(inputs: tf.Tensor, output: tf.Tensor, candidates: Mapping[str, tf.Tensor]) -> list:
  """Names of the `candidates` that every path from `inputs` to `output` goes through, in order.

  These are the points where the whole network state is one tensor (a unit's or block's output, not a branch
  inside it). In a topological order of the ops between `inputs` and `output`, a tensor is such a point exactly
  when, right after it is made, it is the only tensor still waiting for a consumer.
  """
  axes = trace_tensors(inputs)
  ancestors, stack = set(), [output.op]
  while stack:
    op = stack.pop()
    if op in ancestors:
      continue
    ancestors.add(op)
    stack.extend(t.op for t in op.inputs if t in axes)
  order = [op for op in inputs.graph.get_operations() if op in ancestors and op is not inputs.op]
  waiting = {}  # tensor -> number of its consumers not yet seen
  for op in order:
    for t in set(op.inputs):
      if t in axes or t is inputs:
        waiting[t] = waiting.get(t, 0) + 1
  waiting[output] = waiting.get(output, 0) + 1  # kept alive to the end
  pending = {inputs} if waiting.get(inputs) else set()
  cut = set()
  for op in order:
    for t in set(op.inputs):
      if t in pending:
        waiting[t] -= 1
        if not waiting[t]:
          pending.discard(t)
    pending.update(t for t in op.outputs if waiting.get(t))
    if len(pending) == 1:
      cut.update(pending)
  return [name for name, tensor in candidates.items() if tensor in cut]

