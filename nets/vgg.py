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

from nets import classic

VGG_A = classic.Design('vgg_a', classic.vgg_trunk((1, 1, 2, 2, 2)), fc6=(4096, 7), fc7=4096,
                       fc_conv_padding_option=True)
VGG_16 = classic.Design('vgg_16', classic.vgg_trunk((2, 2, 3, 3, 3)), fc6=(4096, 7), fc7=4096,
                        fc_conv_padding_option=True)
VGG_19 = classic.Design('vgg_19', classic.vgg_trunk((2, 2, 4, 4, 4)), fc6=(4096, 7), fc7=4096,
                        fc_conv_padding_option=True)


vgg_arg_scope = classic.arg_scope_function(0.0, 'VGG', 'vgg_arg_scope')

vgg_a = classic.network_function(VGG_A, 224, 'vgg_a: VGG with 8 convolutions before fc6')
vgg_16 = classic.network_function(VGG_16, 224, 'vgg_16: VGG with 13 convolutions before fc6')
vgg_19 = classic.network_function(VGG_19, 224, 'vgg_19: VGG with 16 convolutions before fc6')

# research/slim's aliases
vgg_d = vgg_16
vgg_e = vgg_19
