"""Feature pyramid levels C1..C5 of every network: declared in the registry, found in built end points.

Level Ck is the end point carrying the network's last activation at stride 2**k of the nominal network
(output_stride None): among the end points that every path from the image to the output goes through (unit and
block outputs, not branches inside a unit; see `geometry.trunk`), the last one at that stride. Tensors a block
names inside itself ('<end point>/<name>', e.g. MobileNet v2's 'layer_4/depthwise_output') are not levels. For resnet_v1_50
that gives conv1, block1/unit_2, block2/unit_3, block3/unit_5 and block4, because research/slim strides the
*last* unit of each block: `block1` itself is at stride 8.

A network of cells with two inputs (NASNet, PNASNet: each cell reads the two cells before it) has no end point
on the trunk between its stem and its last cell; its level at such a stride is its last end point there (the last
cell before a reduction, as timm's feature_info has them).

An end point computed by an average pool or a mean is a head's pooling, not a feature, and never a level
(Inception v1's head, a 7x7 VALID average pool of stride 1, would otherwise be the last end point at stride 32).

The end points stay the same under `output_stride`; what changes is their stride: levels above the output
stride share it (resnet_v1_50 at output_stride 16: C4 and C5 are both at stride 16).
"""

import collections
from typing import Dict, List, Mapping, Sequence, Tuple

from nets import nets_factory
from nets.catalogue.spec import Level
from slimnets.analysis import geometry
from slimnets.analysis import dry_build

LEVELS = ('C1', 'C2', 'C3', 'C4', 'C5')
_POOLING_HEADS = ('AvgPool', 'Mean')  # op types of a head's pooling, which is not a level


def _built_level(name: str, end_point: str, stride: Tuple[int, int], channels: int) -> Level:
  """A level of one build (the registry's `Level` type: name, end point, stride, channels as built).

  Raises:
    GeometryError: for a level of unequal strides along height and width, which no network here has.
  """
  if stride[0] != stride[1]:
    raise geometry.GeometryError(f'level {name} ({end_point}) has strides {stride[0]} and {stride[1]} along height '
                                 'and width; a level has one stride')
  return Level(name, end_point, stride[0], channels)


def level_end_points(network: str) -> Tuple[Tuple[str, str], ...]:
  """((level, end point name), ...) of `network` under its default scope, as its registry entry declares them."""
  return tuple((level.name, level.end_point) for level in nets_factory.get_spec(network).levels)


def check_levels(network: str, levels: Sequence[str]) -> None:
  """Raises ValueError naming the levels `network` does not have (from its declaration, nothing is built)."""
  spec = nets_factory.get_spec(network)
  known = [level.name for level in spec.levels]
  unknown = [level for level in levels if level not in known]
  if unknown:
    raise ValueError(f'{network} has no feature level {", ".join(unknown)}; it has {", ".join(known)}')


def levels_at(network: str, output_stride, channels: Mapping[str, int]) -> List[Level]:
  """The declared levels of `network` at a valid `output_stride` (None: nominal) with `channels` {level:
  channels} of a build (the levels it built: one stopped early has fewer): a level deeper than the output stride
  is dilated, so it stays at the output stride. (That the built network's levels are these at every declared
  output stride is tested against `trace_levels`.)"""
  spec = nets_factory.get_spec(network)
  ceiling = output_stride or spec.nominal_stride
  return [Level(level.name, level.end_point, min(level.stride, ceiling), channels[level.name])
          for level in spec.levels if level.name in channels]


def trace_levels(network: str, **network_kwargs) -> List[Level]:
  """The levels of `network` found from a scratch build's graph (the definition above), with their strides.

  This is what the declared levels are checked against (tests/test_registry.py), and it works for any options
  of the network (e.g. `output_stride`, `depth_multiplier`).
  """
  built = dry_build.build(network, **{'global_pool': False, **network_kwargs})
  with built.graph.as_default():
    strides = geometry.trace(built.images, {name: t for name, t in _block_outputs(built.end_points).items()
                                            if t.shape.rank == 4})
  nominal = dry_build.build(network, global_pool=False) if network_kwargs else built
  with nominal.graph.as_default():
    maps = {name: t for name, t in _block_outputs(nominal.end_points).items() if t.shape.rank == 4}
    nominal_trunk = geometry.trunk(nominal.images, nominal.net, maps)
    nominal_strides = geometry.trace(nominal.images, maps)
  found = []
  for k, level in enumerate(LEVELS, start=1):
    features = lambda names: [name for name in names if nominal_strides[name].stride == (2 ** k, 2 ** k)
                              and nominal.end_points[name].op.type not in _POOLING_HEADS]
    # Cells of two inputs (NASNet, PNASNet) leave no end point on the trunk between the stem and the last cell.
    at_stride = features(nominal_trunk) or features(maps)
    if at_stride and at_stride[-1] in strides:
      name = at_stride[-1]
      found.append(_built_level(level, name, strides[name].stride, int(built.end_points[name].shape[-1])))
  return found


def _block_outputs(end_points: Mapping) -> Dict[str, object]:
  """`end_points` without the tensors named inside another end point ('layer_4/depthwise_output')."""
  return {name: tensor for name, tensor in end_points.items() if name.rpartition('/')[0] not in end_points}


def _default_scope(network: str) -> str:
  """The scope prefix of the end point names of a network built with its default scope ('' if none)."""
  names = [name for _, name in level_end_points(network)]
  prefix = names[0].split('/')[0] + '/'
  return prefix if all(name.startswith(prefix) for name in names) else ''


def _located(end_points: Mapping, network: str) -> List[Tuple[str, str]]:
  """[(level, key of end_points)] for the levels of `network` present in `end_points`, under any scope.

  The scope is found from the deepest level whose name, without the default scope, ends exactly one key.
  """
  default = _default_scope(network)
  levels = level_end_points(network)
  prefix = None
  for _, name in reversed(levels):
    if name in end_points:
      prefix = default
      break
    rest = '/' + name[len(default):]
    scopes = [key[:-len(rest) + 1] for key in end_points if key.endswith(rest)]
    if len(scopes) == 1:
      prefix = scopes[0]
      break
  if prefix is None:
    return []
  return [(level, prefix + name[len(default):]) for level, name in levels
          if prefix + name[len(default):] in end_points]


def feature_levels(end_points: Mapping, network: str) -> Dict[str, object]:
  """The pyramid levels of a built network: {'C1': tensor, ..., 'C5': tensor}.

  Works for graph and eager tensors, with the default scope or another one, at any output_stride.

  Args:
    end_points: the end points returned by the network function.
    network: the network's name in `nets_factory.REGISTRY`, e.g. 'resnet_v1_50'.

  Returns:
    An ordered dict from level name to tensor, for the levels the network built (an Inception v3 base built
    up to 'Mixed_6e' has no C5).

  Raises:
    ValueError: for an unknown network, or end points that hold none of its levels.
  """
  nets_factory.get_spec(network)
  found = collections.OrderedDict((level, end_points[key]) for level, key in _located(end_points, network))
  if not found:
    raise ValueError(f'end_points hold none of the feature levels of {network!r} '
                     f'({", ".join(name for _, name in level_end_points(network))}); is network the one built?')
  return found


def level_table(network: str, end_points: Mapping, geometries: Mapping[str, geometry.Geometry]
                ) -> List[Level]:
  """The feature levels of one build of `network` with their strides and channels there.

  Args:
    network: the network's name.
    end_points: the build's end points (static channel counts).
    geometries: the build's end point geometries (`geometry.trace`).
  """
  return [_built_level(level, key, geometries[key].stride, int(end_points[key].shape[-1]))
          for level, key in _located(end_points, network)]
