"""The network factory: one registry entry per network, and research/slim's `get_network_fn`.

Everything known about a network lives in its `NetworkSpec`: the function, its arg scope, the default image
size, the nominal output stride, and the preprocessing its published checkpoints expect. `networks_map` and
`arg_scopes_map` are views of the registry for code written against research/slim's factory.
"""

import dataclasses
import difflib
import functools
import inspect
from typing import Callable, Mapping, Optional, Tuple

import tf_slim as slim

from nets import inception_v3
from nets import layers
from nets import resnet_v1
from nets import resnet_v2


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """What the project knows about one network.

  Attributes:
    name: the factory name, e.g. 'resnet_v1_50'.
    fn: the network function `fn(images, num_classes, is_training=..., ...) -> (net, end_points)`.
    arg_scope: the function returning its arg scope, taking `weight_decay` and batch norm options.
    default_image_size: the input height and width the network was trained at.
    nominal_stride: the output stride of the last feature map without atrous convolution.
    preprocessing: 'vgg' (mean subtraction, ResNet v1 checkpoints) or 'inception' (scaling to [-1, 1]).
    minimum_input_size: `f(with_classes) -> (size, reason)`: the smallest input height and width the network
      builds at, with or without its classification head, and why.
  """
  name: str
  fn: Callable
  arg_scope: Callable
  default_image_size: int
  nominal_stride: int
  preprocessing: str
  minimum_input_size: Callable[[bool], Tuple[int, str]]

  @property
  def options(self) -> Tuple[str, ...]:
    """The keyword arguments of `fn` beyond images, num_classes, is_training, reuse and scope."""
    return tuple(p for p in inspect.signature(self.fn).parameters
                 if p not in ('inputs', 'num_classes', 'is_training', 'reuse', 'scope'))

  def check_arguments(self, kwargs: Mapping) -> None:
    """Raises ValueError naming the keyword arguments that `fn` does not take (e.g. output_stride)."""
    unknown = sorted(set(kwargs) - set(self.options))
    if unknown:
      raise ValueError(f'{self.name} does not take {", ".join(unknown)}; it takes {", ".join(self.options)}')


def _resnet_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally or is 1x1
  return 1, ('every convolution and pool pads SAME, so a layer of stride s maps n pixels to ceil(n / s) >= 1: '
             'any size builds, and below the nominal stride the last feature maps stay 1x1')


def _inception_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  size = inception_v3.minimum_input_size(aux_logits=with_classes)
  reason = (f'the VALID convolutions and pools of the stem, Mixed_6a and Mixed_7a need '
            f'{inception_v3.minimum_input_size()}x{inception_v3.minimum_input_size()} for a 1x1 Mixed_7c')
  if with_classes:
    reason += (f'; the auxiliary head (create_aux_logits=True) needs {size}x{size} for its 5x5 VALID pool on '
               'Mixed_6e')
  return size, reason


def _resnet(name: str, module) -> NetworkSpec:
  return NetworkSpec(name, getattr(module, name), module.resnet_arg_scope, 224, 32,
                     'vgg' if module is resnet_v1 else 'inception', _resnet_minimum_input_size)


REGISTRY = {spec.name: spec for spec in [
    NetworkSpec('inception_v3', inception_v3.inception_v3, inception_v3.inception_v3_arg_scope, 299, 32,
                'inception', _inception_minimum_input_size),
    *(_resnet(f'resnet_v1_{depth}', resnet_v1) for depth in (50, 101, 152, 200)),
    *(_resnet(f'resnet_v2_{depth}', resnet_v2) for depth in (50, 101, 152, 200)),
]}

networks_map = {name: spec.fn for name, spec in REGISTRY.items()}
arg_scopes_map = {name: spec.arg_scope for name, spec in REGISTRY.items()}


def get_spec(name: str) -> NetworkSpec:
  """Returns the registry entry of network `name`.

  Raises:
    ValueError: for an unknown name; the message lists the known names and suggests the closest.
  """
  if name in REGISTRY:
    return REGISTRY[name]
  scores = {known: difflib.SequenceMatcher(None, str(name), known).ratio() for known in REGISTRY}
  best = max(scores.values())
  close = sorted(known for known, score in scores.items() if score == best and score >= 0.6)  # ties: all
  hint = f" Did you mean {' or '.join(repr(known) for known in close)}?" if close else ''
  raise ValueError(f'Unknown network name {name!r}.{hint} Known networks: {", ".join(REGISTRY)}')


def get_network_fn(name: str, num_classes: Optional[int], weight_decay: float = 0.0,
                   is_training: bool = False) -> Callable:
  """Returns `network_fn(images, **kwargs) -> (net, end_points)`, built under the network's arg scope.

  Args:
    name: a network name of `REGISTRY`.
    num_classes: number of classes of the logits; None or 0 for features only.
    weight_decay: L2 weight decay of the arg scope.
    is_training: batch norm and dropout mode.

  Returns:
    The network function, with a `default_image_size` attribute; further keyword arguments (e.g.
    `output_stride`, `global_pool`, `multi_grid`) go to the network.

  Raises:
    ValueError: for an unknown name; the network function raises it for an argument the network does not
      take (e.g. `output_stride` for inception_v3) and for the network's own argument errors.
  """
  spec = get_spec(name)

  @functools.wraps(spec.fn)
  def network_fn(images, **kwargs):
    spec.check_arguments(kwargs)
    with layers.BUILD_LOCK, slim.arg_scope(spec.arg_scope(weight_decay=weight_decay)):
      return spec.fn(images, num_classes, is_training=is_training, **kwargs)

  network_fn.default_image_size = spec.default_image_size
  return network_fn
