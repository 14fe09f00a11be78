"""The network factory, as research/slim's: `get_network_fn(name, num_classes, ...)`, `networks_map` and
`arg_scopes_map`, over the catalogue (`nets.catalogue`), where each network's facts are declared once.

Importing it loads no TensorFlow: the catalogue names functions ('nets.resnet_v1:resnet_v1_50') and imports them
when first used, so the CLI checks its arguments against the declarations before TensorFlow loads. The
catalogue's names are here too (`get_spec`, `REGISTRY`, `NetworkSpec`, ...), where code has always found them.
"""

import collections.abc
import functools
from typing import Callable, Iterator, Optional

from nets.catalogue import DEEPLAB_BACKBONES  # pylint: disable=unused-import
from nets.catalogue import DEEPLAB_MODELS  # pylint: disable=unused-import
from nets.catalogue import DEEPLAB_VARIANTS  # pylint: disable=unused-import
from nets.catalogue import REGISTRY
from nets.catalogue import get_spec
from nets.catalogue.registry import list_networks  # pylint: disable=unused-import
from nets.catalogue.registry import published  # pylint: disable=unused-import
from nets.catalogue.archives import PUBLISHED_FILES  # pylint: disable=unused-import
from nets.catalogue.spec import Archive  # pylint: disable=unused-import
from nets.catalogue.spec import Level  # pylint: disable=unused-import
from nets.catalogue.spec import Minimum  # pylint: disable=unused-import
from nets.catalogue.spec import NetworkSpec  # pylint: disable=unused-import


class _View(collections.abc.Mapping):
  """A read-only name -> object view of the registry, importing each network's module on first access."""

  def __init__(self, attribute: str):
    self._attribute = attribute

  def __getitem__(self, name: str):
    return getattr(REGISTRY[name], self._attribute)

  def __iter__(self) -> Iterator[str]:
    return iter(REGISTRY)

  def __len__(self) -> int:
    return len(REGISTRY)


networks_map = _View('fn')
arg_scopes_map = _View('arg_scope')


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
  from nets import layers  # pylint: disable=import-outside-toplevel
  spec = get_spec(name)

  @functools.wraps(spec.fn)
  def network_fn(images, **kwargs):
    spec.check_arguments(kwargs)
    with layers.building(spec.arg_scope(weight_decay=weight_decay)):
      return spec.fn(images, num_classes, is_training=is_training, **kwargs)

  network_fn.default_image_size = spec.default_image_size
  return network_fn
