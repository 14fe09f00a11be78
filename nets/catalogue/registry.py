"""The registry: network name -> `NetworkSpec`, filled once by `nets.catalogue` (in its order) and read by
everything else through `get_spec`."""

import difflib
import fnmatch
from typing import List, Sequence

REGISTRY = {}  # name -> NetworkSpec; the catalogue's entries, filled by nets/catalogue/__init__.py
# name -> NetworkSpec of the backbones only DeepLab builds (its segmentation variants of MobileNet v3): found by
# `get_spec`, not in `REGISTRY` (research/slim's factory does not have them; DeepLab's manifests check them).
DEEPLAB_BACKBONES = {}
# name -> `deeplab_zoo.SegmentationModel`: DeepLab's trained models (its model zoo), by their model_zoo.md name and
# by their archive's name.
DEEPLAB_MODELS = {}


def get_spec(name: str):
  """Returns the registry entry (`NetworkSpec`) of network `name`.

  Raises:
    ValueError: for an unknown name; the message lists the known names and suggests the closest.
  """
  if name in REGISTRY:
    return REGISTRY[name]
  if name in DEEPLAB_BACKBONES:
    return DEEPLAB_BACKBONES[name]
  scores = {known: difflib.SequenceMatcher(None, str(name), known).ratio() for known in REGISTRY}
  best = max(scores.values())
  close = sorted(known for known, score in scores.items() if score == best and score >= 0.6)  # ties: all
  hint = f" Did you mean {' or '.join(repr(known) for known in close)}?" if close else ''
  raise ValueError(f'Unknown network name {name!r}.{hint} Known networks: {", ".join(REGISTRY)}')


def list_networks(patterns: Sequence[str] = ()) -> List[str]:
  """The registry's network names (in its order) that match any of the shell-style `patterns` (e.g.
  'resnet_v1_*', 'mobilenet_v[23]*'); all of them without patterns.

  Raises:
    ValueError: naming a pattern that matches no network.
  """
  for pattern in patterns:
    if not fnmatch.filter(REGISTRY, pattern):
      raise ValueError(f'no network matches {pattern!r}; the networks are {", ".join(REGISTRY)}')
  return [name for name in REGISTRY if not patterns or any(fnmatch.fnmatchcase(name, p) for p in patterns)]


def published(name: str):
  """The published archive (`Archive`) of network `name` or of DeepLab's model-zoo model `name`.

  Raises:
    ValueError: for a network without one (naming those with one), or a name that is neither (naming the
      closest networks and models, and DeepLab's models).
  """
  if name in DEEPLAB_MODELS:
    return DEEPLAB_MODELS[name].archive
  if name not in REGISTRY and name not in DEEPLAB_BACKBONES:
    close = difflib.get_close_matches(name, [*REGISTRY, *DEEPLAB_MODELS], n=2, cutoff=0.6)
    hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ''
    models = ', '.join(dict.fromkeys(model.name for model in DEEPLAB_MODELS.values()))
    raise ValueError(f"{name!r} is neither a network nor a model of DeepLab's model zoo.{hint} DeepLab's models: "
                     f'{models}')
  return get_spec(name).published()
