"""The registry: network name -> `NetworkSpec`, filled once by `nets.catalogue` (in its order) and read by
everything else through `get_spec`."""

import difflib

REGISTRY = {}  # name -> NetworkSpec; the catalogue's entries, filled by nets/catalogue/__init__.py
# name -> NetworkSpec of the backbones only DeepLab builds (its segmentation variants of MobileNet v3): found by
# `get_spec`, not in `REGISTRY` (research/slim's factory does not have them; DeepLab's manifests check them).
DEEPLAB_BACKBONES = {}


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
