"""Counting a network's parameters without allocating them (see `slimnets.analysis.dry_build`)."""

from typing import Optional

from slimnets.analysis import dry_build


def variable_shapes(network: str, num_classes: Optional[int] = None, in_channels: int = 3,
                    **network_kwargs) -> dict:
  """Maps each variable name of `network` to (shape, trainable), in creation order.

  Args:
    network: a name of `nets_factory.REGISTRY`.
    num_classes: classes of the logits; None for features only.
    in_channels: channels of the input images.
    **network_kwargs: further arguments of the network function (e.g. `global_pool`).

  Returns:
    {name: (tuple shape, trainable)}.
  """
  return dry_build.build(network, num_classes=num_classes, in_channels=in_channels, **network_kwargs).variables


def count_parameters(network: str, num_classes: Optional[int] = None, in_channels: int = 3,
                     trainable_only: bool = True, **network_kwargs) -> int:
  """Number of (trainable) parameters of `network` with the given head and input channels."""
  built = dry_build.build(network, num_classes=num_classes, in_channels=in_channels, **network_kwargs)
  return built.parameters(trainable_only)
