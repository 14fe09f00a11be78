"""AlexNet v2 (Krizhevsky, "One weird trick for parallelizing convolutional neural networks",
arXiv:1404.5997) with research/slim's API and names: no local response normalization, the fully connected
layers as convolutions (fc6 5x5 VALID, fc7 and the logits fc8 1x1).

    with slim.arg_scope(alexnet.alexnet_v2_arg_scope()):
      logits, end_points = alexnet.alexnet_v2(images, num_classes=1001, is_training=False)  # 224x224

Sizes: conv1 is an 11x11/4 VALID convolution and the three 3x3/2 max pools are VALID, so pool5 is 5x5 at
224x224 and fc6 needs it at least 5x5: inputs of at least 195x195 (`classic.minimum_input_size`). Larger
inputs give a map of logits (`spatial_squeeze=False`) or, with `global_pool=True`, one prediction per image.
`depth_multiplier` (keyword only, not in research/slim) scales every layer's channels.
"""

from typing import Optional

import tensorflow as tf

from nets import classic

ALEXNET_V2 = classic.Design('alexnet_v2', (
    classic.Conv('conv1', 64, 11, stride=4, padding='VALID'), classic.Pool('pool1', 3, 2),
    classic.Conv('conv2', 192, 5), classic.Pool('pool2', 3, 2),
    classic.Conv('conv3', 384, 3), classic.Conv('conv4', 384, 3), classic.Conv('conv5', 256, 3),
    classic.Pool('pool5', 3, 2)), fc6=(4096, 5), fc7=4096, head_initializers=True)


def alexnet_v2_arg_scope(weight_decay: float = 0.0005, *, batch_norm_updates_collections=None) -> dict:
  """The arg scope of AlexNet v2: ReLU, L2 weight decay `weight_decay`, biases of 0.1, 'SAME' convolutions.

  `batch_norm_updates_collections` is taken as every arg scope of the factory takes it; AlexNet v2 has no batch norm.
  """
  del batch_norm_updates_collections
  return classic.arg_scope(weight_decay, biases=0.1)


def alexnet_v2(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training=True, dropout_keep_prob=0.5,
               spatial_squeeze: bool = True, scope: str = 'alexnet_v2', global_pool: bool = False, *,
               depth_multiplier: float = 1.0):
  """AlexNet v2 (see the module docstring).

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least 195x195.
    num_classes: classes of the logits fc8; None or 0 returns fc7 (globally pooled with `global_pool`).
    is_training: dropout mode.
    dropout_keep_prob: keep probability of the dropout before fc7 and fc8.
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    scope: variable scope.
    global_pool: average fc7 over all positions before the logits.
    depth_multiplier: scales the channels of every layer but the logits (at least 8).

  Returns:
    (net, end_points), end points 'alexnet_v2/conv1', ..., 'alexnet_v2/fc8'.

  Raises:
    ValueError: for a known input size below the minimum, logits `spatial_squeeze` cannot squeeze, or a bad
      argument; nothing is created then.
  """
  return classic.build(ALEXNET_V2, inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze, scope,
                       'VALID', global_pool, depth_multiplier)


alexnet_v2.default_image_size = 224
