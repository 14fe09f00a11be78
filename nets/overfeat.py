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

from nets import classic

OVERFEAT = classic.Design('overfeat', (
    classic.Conv('conv1', 64, 11, stride=4, padding='VALID'), classic.Pool('pool1', 2, 2),
    classic.Conv('conv2', 256, 5, padding='VALID'), classic.Pool('pool2', 2, 2),
    classic.Conv('conv3', 512, 3), classic.Conv('conv4', 1024, 3), classic.Conv('conv5', 1024, 3),
    classic.Pool('pool5', 2, 2)), fc6=(3072, 6), fc7=4096, head_initializers=True)


overfeat_arg_scope = classic.arg_scope_function(0.0, 'OverFeat', 'overfeat_arg_scope')

overfeat = classic.network_function(OVERFEAT, 231, 'overfeat: OverFeat')
