"""`slimnets describe`: a network's end points with shapes, strides and receptive fields, its feature levels,
parameters, FLOPs and the warnings a user should see, all read off one scratch build (no variables allocated).
"""

import itertools
from typing import List, Optional, Sequence, Tuple

from nets import checks
from nets import deeplab
from nets import nets_factory
from slimnets.analysis import features
from slimnets.analysis import geometry
from slimnets.analysis import dry_build
from slimnets import tables


def _input_size(network: str, input_size) -> Tuple[int, int]:
  spec = nets_factory.get_spec(network)
  if input_size is None:
    return spec.default_image_size, spec.default_image_size
  size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
  if len(size) != 2 or not all(checks.is_int(n) for n in size):
    raise ValueError(f'input_size must be a positive int or (height, width), got {input_size!r}')
  return size


def _aligned_sizes_nearby(built: dry_build.ScratchBuild, name: str, size: Tuple[int, int],
                          stride: int) -> Optional[List[int]]:
  """Sizes k * stride + 1 around `size` at which end point `name` is corner-aligned, or None if they are not.

  Traced on the same graph at the other sizes, per axis. A ResNet's kernels do not depend on the input size;
  where a network's do (Inception's heads), a size at which the graph's layers do not fit is no suggestion.
  """
  per_axis = [sorted({(n - 1) // stride * stride + 1, -(-(n - 1) // stride) * stride + 1} - {1}) for n in size]
  if not all(per_axis):
    return None  # the only aligned size is 1 pixel: nothing to suggest
  tensor = {name: built.end_points[name]}
  for height, width in itertools.product(*per_axis):
    try:
      if not geometry.trace(built.images, tensor, (height, width))[name].aligned((height, width)):
        return None
    except geometry.GeometryError:  # e.g. a VALID layer of this graph that does not fit the smaller size
      return None
  return sorted(set(per_axis[0]) | set(per_axis[1]))


def _alignment_warning(built: dry_build.ScratchBuild, size: Tuple[int, int], name: str,
                       geo: geometry.Geometry) -> Optional[str]:
  """A warning when the corner pixels of end point `name` are not centred on the image corners."""
  if geo.aligned(size):
    return None
  first = geo.center((0, 0))
  end = geo.center((geo.size[0] - 1, geo.size[1] - 1))
  where = (f'its pixel centres run from {_fmt_point(first)} to {_fmt_point(end)}, the image corners are (0, 0) '
           f'and ({size[0] - 1}, {size[1] - 1})')
  stride = geo.stride[0]
  nearby = _aligned_sizes_nearby(built, name, size, stride) if geo.stride[1] == stride else None
  if not nearby:
    return None  # no input size nearby aligns them (e.g. VALID layers): nothing to act on
  return (f'input {size[0]}x{size[1]} is not of the form k*{stride}+1, so the corners of {name} (stride '
          f'{stride}) are not aligned with the image corners: {where}; aligned sizes nearby: '
          f'{", ".join(map(str, nearby))}')


def _fmt_point(point) -> str:
  return '({})'.format(', '.join(f'{v:g}' for v in point))


def describe(network: str, input_size=None, output_stride: Optional[int] = None,
             multi_grid: Optional[Sequence[int]] = None, in_channels: int = 3,
             num_classes: Optional[int] = None) -> dict:
  """Describes `network` built at one input size, for humans (`format_text`) and for tools (JSON).

  Args:
    network: a name of `nets_factory.REGISTRY`.
    input_size: an int or (height, width); default: the network's default image size.
    output_stride: for ResNets, the output stride (None: nominal).
    multi_grid: for ResNets, block4's multi-grid rates.
    in_channels: input channels.
    num_classes: None or 0 for features only (ResNets without global pooling); else a head of that many
      classes, with global pooling so that any size gives `[batch, num_classes]`.

  Returns:
    A JSON-ready dict with 'network', 'input_shape' ([1, h, w, c]), 'output_stride' (the stride of the last
    feature level, computed), 'num_classes', 'multi_grid', 'parameters' (trainable), 'flops' (2 x multiply-adds
    of the convolutions, one image), 'minimum_input_size' ({'size', 'reason'}), 'end_points' (list of
    {name, shape, stride, receptive_field, channels}), 'features' (list of {level, end_point, stride, channels})
    and 'warnings' (list of strings).

  Raises:
    ValueError: naming the bad argument, or the network's own error (e.g. an input below its minimum).
  """
  spec = nets_factory.get_spec(network)
  size = _input_size(network, input_size)
  checks.check_int('in_channels', in_channels)
  checks.check_int('num_classes', num_classes, minimum=0, allow_none=True)
  kwargs = nets_factory.get_spec(network).build_options(num_classes, output_stride, multi_grid)
  minimum, reason = spec.minimum_input_size(bool(num_classes))
  built = dry_build.build(network, size, in_channels, num_classes or None, **kwargs)
  with built.graph.as_default():
    geometries = geometry.trace(built.images, built.end_points)
    flops = geometry.conv_flops(built.images)
  rows = [{'name': name, 'shape': tensor.shape.as_list(), 'stride': list(geometries[name].stride),
           'receptive_field': list(geometries[name].receptive_field), 'channels': int(tensor.shape[-1]),
           'geometry': geometries[name]} for name, tensor in built.end_points.items()]
  levels = features.level_table(network, built.end_points, geometries)
  last = next(row for row in rows if row['name'] == levels[-1].end_point)
  warnings = []
  with built.graph.as_default():
    alignment = _alignment_warning(built, size, last['name'], last['geometry'])
  if alignment:
    warnings.append(alignment)
  if min(size) < spec.nominal_stride:
    one_by_one = next(row['name'] for row in rows if row['shape'][1:3] == [1, 1])
    warnings.append(f'input {size[0]}x{size[1]} is smaller than the nominal stride {spec.nominal_stride}: the maps '
                    f'stop shrinking at 1x1 from {one_by_one} on, and their receptive fields reach past the image')
  return {
      'network': network,
      'input_shape': [1, size[0], size[1], in_channels],
      'output_stride': last['stride'][0] if last['stride'][0] == last['stride'][1] else last['stride'],
      'multi_grid': list(multi_grid) if multi_grid is not None else None,
      'num_classes': num_classes or None,
      'parameters': built.parameters(),
      'flops': flops,
      'minimum_input_size': {'size': minimum, 'reason': reason},
      'end_points': [{k: v for k, v in row.items() if k != 'geometry'} for row in rows],
      'features': [{'level': f.name, 'end_point': f.end_point, 'stride': [f.stride, f.stride],
                    'channels': f.channels} for f in levels],
      'warnings': warnings,
  }


def _pair_text(pair: Sequence[int]) -> str:
  return str(pair[0]) if pair[0] == pair[1] else f'{pair[0]}x{pair[1]}'


def format_text(description: dict) -> str:
  """The description as a model-summary style table, then the feature levels, totals and warnings."""
  d = description
  shape = 'x'.join(map(str, d['input_shape'][1:]))
  options = [f'input {shape}', f'output stride {d["output_stride"]}']
  if d['multi_grid']:
    options.append('multi-grid ' + ','.join(map(str, d['multi_grid'])))
  options.append(f'{d["num_classes"]} classes' if d['num_classes'] else 'features only')
  lines = [f'{d["network"]}: {", ".join(options)}', '']
  lines += tables.table(('end point', 'shape', 'stride', 'receptive field', 'channels'),
                  [(row['name'], 'x'.join(str(n) for n in row['shape'][1:]), _pair_text(row['stride']),
                    _pair_text(row['receptive_field']), str(row['channels'])) for row in d['end_points']])
  lines += ['', 'feature levels']
  lines += tables.table(('level', 'end point', 'stride', 'channels'),
                  [(f['level'], f['end_point'], _pair_text(f['stride']), str(f['channels'])) for f in d['features']],
                  text_columns=2)
  minimum = d['minimum_input_size']
  lines += ['', f'trainable parameters: {d["parameters"]:,}',
            f'FLOPs (2 x multiply-adds of the convolutions, one image): {d["flops"]:,}',
            f'minimum input size: {minimum["size"]}x{minimum["size"]} ({minimum["reason"]})']
  lines += [f'warning: {w}' for w in d['warnings']]
  return '\n'.join(lines)


def _number(value):
  """A geometry number for JSON: an int, or a float where a resize made it a fraction of a pixel."""
  return value if isinstance(value, int) else round(float(value), 3)


def _segmenter_input_size(model_options, input_size) -> Tuple[int, int]:
  if input_size is None:
    return tuple(model_options.crop_size or deeplab.DEFAULT_CROP_SIZE)
  size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
  if len(size) != 2 or not all(checks.is_int(n) for n in size):
    raise ValueError(f'input_size must be a positive int or (height, width), got {input_size!r}')
  if model_options.crop_size and tuple(model_options.crop_size) != size:
    raise ValueError(f'input_size {size} is not the model options\' crop_size {tuple(model_options.crop_size)}')
  return size



def describe_segmenter(model_options, input_size=None, in_channels: int = 3) -> dict:
  """Describes a DeepLab model (`nets.deeplab.ModelOptions`) built at one input size, as `describe` does a network.

  The rows are the model's stages: the backbone's output, the decoder's low-level features, the ASPP output,
  the decoder output, the logits of each output and the first output's logits upsampled to the input (as
  `predict_labels` and the export serve them), each with its shape, stride and receptive field. Maps that also
  see DeepLab's image pooling branch are marked `image_level`: each of their pixels depends on the whole image,
  beyond the receptive field given (that of the convolutions).

  Args:
    model_options: the model; its `crop_size`, if set, must be the input size.
    input_size: an int or (height, width); default: `crop_size`, else DeepLab's 513.
    in_channels: input channels.

  Returns:
    A JSON-ready dict: 'model' ('deeplab_v3' or 'deeplab_v3+'), 'model_variant', 'input_shape', 'output_stride',
    'atrous_rates', 'multi_grid', 'decoder_output_stride', 'image_pooling', 'outputs' ({name: classes}),
    'logits_stride' (computed), 'receptive_field' (of the upsampled logits), 'parameters', 'flops',
    'minimum_input_size', 'stages' (list of {stage, end_point, shape, stride, receptive_field, image_level,
    channels}; stride and receptive field None where they are not defined, see 'warnings') and 'warnings'.
  """
  if not isinstance(model_options, deeplab.ModelOptions):
    raise ValueError(f'model_options must be a deeplab.ModelOptions, got {type(model_options).__name__}')
  size = _segmenter_input_size(model_options, input_size)
  checks.check_int('in_channels', in_channels)
  spec = nets_factory.get_spec(model_options.model_variant)
  minimum, reason = spec.minimum_input_size(False)
  if min(size) < minimum:
    raise ValueError(f'{spec.name}: inputs of {size[0]}x{size[1]} are too small: the minimum is '
                     f'{minimum}x{minimum} ({reason})')
  options = model_options._replace(crop_size=size)  # pools as DeepLab does at a known crop size
  built = dry_build.build_segmenter(options, size, in_channels)
  end_points = built.end_points
  backbone = min((name for name, tensor in end_points.items() if tensor is end_points['backbone'] and name != 'backbone'),
                 key=len)  # e.g. 'xception_65/exit_flow/block2' rather than its last layer's alias
  stages = [('backbone', backbone)]
  stages += [(f'decoder feature (stride {stride})',
              deeplab.low_level_feature(end_points, options.model_variant, stride))
             for stride in options.decoder_output_stride or ()]
  stages += [(name, name) for name in (deeplab.ASPP_SCOPE, deeplab.DECODER_SCOPE) if name in end_points]
  outputs = sorted(options.outputs_to_num_classes)
  stages += [('logits', f'{deeplab.LOGITS_SCOPE_NAME}/{output}') for output in outputs]
  tensors = {**{point: end_points[point] for _, point in stages}, _UPSAMPLED: built.net}
  stages.append(('upsampled logits', _UPSAMPLED))
  warnings, geometries = [], {}
  with built.graph.as_default():
    for name, tensor in tensors.items():
      try:
        geometries[name] = geometry.trace(built.images, {name: tensor})[name]
      except geometry.GeometryError as error:
        if not warnings:
          warnings.append(f'{error}: the maps joined there do not line up pixel for pixel, so from there on the '
                          'stride and receptive field are not defined')
    flops = geometry.conv_flops(built.images)
  rows = []
  for stage, name in stages:
    geo, tensor = geometries.get(name), tensors[name]
    rows.append({'stage': stage, 'end_point': name, 'shape': tensor.shape.as_list(),
                 'stride': [_number(v) for v in geo.stride] if geo else None,
                 'receptive_field': [_number(v) for v in geo.receptive_field] if geo else None,
                 'image_level': geo.image_level if geo else None, 'channels': int(tensor.shape[-1])})
  upsampled = geometries.get(_UPSAMPLED)
  if not upsampled or not upsampled.aligned(size):
    warnings.append(_segmenter_alignment_warning(options, size, in_channels))
  logits = geometries.get(f'{deeplab.LOGITS_SCOPE_NAME}/{outputs[0]}')
  return {
      'model': 'deeplab_v3+' if options.decoder_output_stride else 'deeplab_v3',
      'model_variant': options.model_variant,
      'input_shape': [1, size[0], size[1], in_channels],
      'output_stride': options.output_stride,
      'atrous_rates': list(options.atrous_rates) if options.atrous_rates else None,
      'multi_grid': list(options.multi_grid) if options.multi_grid else None,
      'decoder_output_stride': list(options.decoder_output_stride) if options.decoder_output_stride else None,
      'image_pooling': bool(options.aspp_with_batch_norm and options.add_image_level_feature),
      'outputs': dict(options.outputs_to_num_classes),
      'logits_stride': _number(logits.stride[0]) if logits and logits.stride[0] == logits.stride[1] else (
          [_number(v) for v in logits.stride] if logits else None),
      'receptive_field': [_number(v) for v in upsampled.receptive_field] if upsampled else None,
      'parameters': built.parameters(),
      'flops': flops,
      'minimum_input_size': {'size': minimum, 'reason': reason},
      'stages': rows,
      'warnings': warnings,
  }


_UPSAMPLED = 'logits at the input size'


def _segmenter_alignment_warning(options, size: Tuple[int, int], in_channels: int) -> str:
  """Why the logits are not corner-aligned with the image, with the aligned sizes nearby that were checked."""
  stride = options.output_stride
  per_axis = [sorted({(n - 1) // stride * stride + 1, -(-(n - 1) // stride) * stride + 1} - {1}) for n in size]
  nearby = []
  for candidate in itertools.product(*per_axis):
    built = dry_build.build_segmenter(options._replace(crop_size=candidate), candidate, in_channels)
    with built.graph.as_default():
      try:
        if geometry.trace(built.images, {'net': built.net})['net'].aligned(candidate):
          nearby.append(candidate)
      except geometry.GeometryError:
        pass
  text = (f'input {size[0]}x{size[1]} is not of the form k*{stride}+1, so DeepLab\'s aligned-corner resizes do not '
          'map pixel centres onto pixel centres and the logits are not aligned with the image')
  if nearby:
    text += '; aligned sizes nearby: ' + ', '.join(f'{h}x{w}' for h, w in nearby)
  return text


def format_segmenter_text(description: dict) -> str:
  """A segmenter's description as a table of its stages, then totals and warnings."""
  d = description
  shape = 'x'.join(map(str, d['input_shape'][1:]))
  options = [f'input {shape}', f'output stride {d["output_stride"]}']
  if d['atrous_rates']:
    options.append('atrous rates ' + ','.join(map(str, d['atrous_rates'])))
  if d['multi_grid']:
    options.append('multi-grid ' + ','.join(map(str, d['multi_grid'])))
  if d['decoder_output_stride']:
    options.append('decoder stride ' + ','.join(map(str, d['decoder_output_stride'])))
  if not d['image_pooling']:
    options.append('no image pooling')
  options.append(', '.join(f'{classes} classes ({name})' for name, classes in d['outputs'].items()))
  lines = [f'{d["model"]} on {d["model_variant"]}: {", ".join(options)}', '']

  def field(row):
    if row['receptive_field'] is None:
      return '-'
    return _pair_text(row['receptive_field']) + (' + image' if row['image_level'] else '')

  lines += tables.table(('stage', 'end point', 'shape', 'stride', 'receptive field', 'channels'),
                        [(row['stage'], row['end_point'], 'x'.join(str(n) for n in row['shape'][1:]),
                          _pair_text(row['stride']) if row['stride'] else '-', field(row), str(row['channels']))
                         for row in d['stages']], text_columns=2)
  minimum = d['minimum_input_size']
  lines += ['']
  if any(row['image_level'] for row in d['stages']):
    lines.append('+ image: each pixel also sees the image pooling branch, so it depends on the whole image')
  lines += [f'trainable parameters: {d["parameters"]:,}',
            f'FLOPs (2 x multiply-adds of the convolutions, one image): {d["flops"]:,}',
            f'minimum input size: {minimum["size"]}x{minimum["size"]} ({minimum["reason"]})']
  lines += [f'warning: {w}' for w in d['warnings']]
  return '\n'.join(lines)
