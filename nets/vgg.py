"""VGG (Simonyan and Zisserman, "Very Deep Convolutional Networks", arXiv:1409.1556) with research/slim's API.

`vgg_a` (11 layers, configuration A), `vgg_16` (D) and `vgg_19` (E): groups of 3x3 convolutions
('vgg_16/conv3/conv3_2'), each group followed by a 2x2/2 max pool, then the fully connected layers as
convolutions: fc6 7x7, fc7 and the logits fc8 1x1. The published checkpoints have 1000 classes (no
background class) and expect VGG preprocessing (the ImageNet channel means subtracted from [0, 255] RGB).

    with slim.arg_scope(vgg.vgg_arg_scope()):
      logits, end_points = vgg.vgg_16(images, num_classes=1000, is_training=False)  # 224x224: [batch, 1000]

    # FCN (in another graph, or under reuse): the same variables give (H // 32 - 6) x (W // 32 - 6) logits
    with slim.arg_scope(vgg.vgg_arg_scope()):
      scores, end_points = vgg.vgg_16(images_321, num_classes=21, spatial_squeeze=False)  # [batch, 4, 4, 21]

Sizes: the five max pools are VALID, so pool5 is floor(H / 32) x floor(W / 32) and fc6, a 7x7 VALID
convolution, needs it at least 7x7: inputs of at least 224x224. `fc_conv_padding='SAME'` makes fc6 'SAME'
(a prediction map at stride 32 from 32x32 up; not how the checkpoints were trained), `global_pool=True`
averages fc7 for one prediction per image at any size from the minimum up. `depth_multiplier` (keyword only,
not in research/slim) scales every layer's channels, for thin networks in tests and experiments.
"""

from typing import Optional

import tensorflow as tf

from nets import classic

VGG_A = classic.Design('vgg_a', classic.vgg_trunk((1, 1, 2, 2, 2)), fc6=(4096, 7), fc7=4096,
                       fc_conv_padding_option=True)
VGG_16 = classic.Design('vgg_16', classic.vgg_trunk((2, 2, 3, 3, 3)), fc6=(4096, 7), fc7=4096,
                        fc_conv_padding_option=True)
VGG_19 = classic.Design('vgg_19', classic.vgg_trunk((2, 2, 4, 4, 4)), fc6=(4096, 7), fc7=4096,
                        fc_conv_padding_option=True)


def vgg_arg_scope(weight_decay: float = 0.0005, *, batch_norm_updates_collections=None) -> dict:
  """The arg scope of VGG: ReLU, L2 weight decay `weight_decay`, zero biases, 'SAME' convolutions.

  `batch_norm_updates_collections` is taken as every arg scope of the factory takes it; VGG has no batch norm.
  """
  del batch_norm_updates_collections
  return classic.arg_scope(weight_decay, biases=0.0)


def _vgg(design: classic.Design):
  """The research/slim function of one VGG configuration."""

  def network(inputs: tf.Tensor, num_classes: Optional[int] = 1000, is_training=True, dropout_keep_prob=0.5,
              spatial_squeeze: bool = True, scope: str = design.name, fc_conv_padding: str = 'VALID',
              global_pool: bool = False, *, depth_multiplier: float = 1.0):
    return classic.build(design, inputs, num_classes, is_training, dropout_keep_prob, spatial_squeeze, scope,
                         fc_conv_padding, global_pool, depth_multiplier)

  network.__name__ = network.__qualname__ = design.name
  network.__doc__ = f"""{design.name}: VGG with {sum(isinstance(l, classic.Conv) for l in design.trunk)} \
convolutions before fc6 (see the module docstring).

  Args:
    inputs: `[batch, height, width, channels]` float tensor, at least 224x224 (32x32 with
      fc_conv_padding='SAME'); height and width may be unknown.
    num_classes: classes of the logits fc8; None or 0 returns fc7 (globally pooled with `global_pool`).
    is_training: dropout mode (a python bool or a scalar bool tensor).
    dropout_keep_prob: keep probability of the dropout before fc7 and fc8 (a number or a scalar tensor).
    spatial_squeeze: squeeze the 1x1 logits to `[batch, num_classes]`.
    scope: variable scope.
    fc_conv_padding: 'VALID' (fc6 as the fully connected layer it was trained as) or 'SAME'.
    global_pool: average fc7 over all positions before the logits.
    depth_multiplier: scales the channels of every layer but the logits (at least 8).

  Returns:
    (net, end_points): the logits (`[batch, num_classes]` when squeezed) or fc7, and an ordered dict of the
    end points '{design.name}/conv1/conv1_1', ..., '{design.name}/pool5', '{design.name}/fc6',
    '{design.name}/fc7' (and 'global_pool', '{design.name}/fc8').

  Raises:
    ValueError: for a known input size below the minimum, logits that `spatial_squeeze` cannot squeeze at
      it, or a bad argument; nothing is created then.
  """
  network.default_image_size = 224
  return network


vgg_a = _vgg(VGG_A)
vgg_16 = _vgg(VGG_16)
vgg_19 = _vgg(VGG_19)

# research/slim's aliases
vgg_d = vgg_16
vgg_e = vgg_19
