"""OverFeat (Sermanet et al., "OverFeat: Integrated Recognition, Localization and Detection using
Convolutional Networks", arXiv:1312.6229), the fast model, with research/slim's API and names: the fully
connected layers as convolutions (fc6 6x6 VALID, fc7 and the logits fc8 1x1).

    with slim.arg_scope(overfeat.overfeat_arg_scope()):
      logits, end_points = overfeat.overfeat(images, num_classes=1001, is_training=False)  # 231x231

Sizes: conv1 (11x11/4) and conv2 (5x5) are VALID and so are the three 2x2/2 max pools, so pool5 is 6x6 at
231x231 and fc6 needs it at least 6x6: inputs of at least 231x231 (`classic.minimum_input_size`). Larger
inputs give a map of logits (`spatial_squeeze=False`) or, with `global_pool=True`, one prediction per image.
`depth_multiplier` (keyword only, not in research/slim) scales every layer's channels.
"""

from typing import Optional

import tensorflow as tf

from nets import classic

OVERFEAT = classic.Design('overfeat', (
    classic.Conv('conv1', 64, 11, stride=4, padding='VALID'), classic.Pool('pool1', 2, 2),
    classic.Conv('conv2', 256, 5, padding='VALID'), classic.Pool('pool2', 2, 2),
    classic.Conv('conv3', 512, 3), classic.Conv('conv4', 1024, 3), classic.Conv('conv5', 1024, 3),
    classic.Pool('pool5', 2, 2)), fc6=(3072, 6), fc7=4096, head_initializers=True)


def overfeat_arg_scope(weight_decay: float = 0.0005, *, batch_norm_updates_collections=None) -> dict:
  """The arg scope of OverFeat: ReLU, L2 weight decay `weight_decay`, zero biases, 'SAME' convolutions.

  `batch_norm_updates_collections` is taken as every arg scope of the factory takes it; OverFeat has no batch norm.
  """
  del batch_norm_updates_collections
  return classic.arg_scope(weight_decay, biases=0.0)


def overfeat(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training=True, dropout_keep_prob=0.5,
             spatial_squeeze: bool = True, scope: str = 'overfeat', global_pool: bool = False, *,
             depth_multiplier: float = 1.0):
  """OverFeat (see the module docstring).

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least 231x231.
    num_classes: classes of the logits fc8; None or 0 returns fc7 (globally pooled with `global_pool`).
    is_training: dropout mode.
    dropout_keep_prob: keep probability of the dropout before fc7 and fc8.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    scope: variable scope.
    global_pool: average fc7 over all positions before the logits.
    depth_multiplier: scales the channels of every layer but the logits (at least 8).

  Returns:
    (net, end_points), end points 'overfeat/conv1', ..., 'overfeat/fc8'.

  Raises:
    ValueError: for a known input size below the minimum, logits `spatial_squeeze` cannot squeeze, or a bad
      argument; nothing is created then.
  """
  return classic.build(OVERFEAT, inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze, scope,
                       'VALID', global_pool, depth_multiplier)


overfeat.default_image_size = 231
