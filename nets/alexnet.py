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

from nets import classic

ALEXNET_V2 = classic.Design('alexnet_v2', (
    classic.Conv('conv1', 64, 11, stride=4, padding='VALID'), classic.Pool('pool1', 3, 2),
    classic.Conv('conv2', 192, 5), classic.Pool('pool2', 3, 2),
    classic.Conv('conv3', 384, 3), classic.Conv('conv4', 384, 3), classic.Conv('conv5', 256, 3),
    classic.Pool('pool5', 3, 2)), fc6=(4096, 5), fc7=4096, head_initializers=True)


alexnet_v2_arg_scope = classic.arg_scope_function(0.1, 'AlexNet v2', 'alexnet_v2_arg_scope')

alexnet_v2 = classic.network_function(ALEXNET_V2, 224, 'alexnet_v2: AlexNet v2')
