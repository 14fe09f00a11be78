"""Inception v1-v4 and Inception-ResNet v2 (research/slim): their declared facts."""


from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Level
from nets.catalogue.spec import Minimum
from nets.catalogue.spec import NetworkSpec
from nets.catalogue.spec import UNIT_RANGE


# The Inception networks' VALID stems and reductions (inception_v3.minimum_input_size() and the like compute these
# from the layer specs; the registry states them without importing TensorFlow).
_VALID_INCEPTION = 'the VALID convolutions and pools of the stem, Mixed_6a and Mixed_7a need 75x75 for a 1x1 '
_AUX_HEAD = 'the auxiliary head (create_aux_logits=True) needs 107x107 for its 5x5/3 VALID pool on '
_MINIMUMS = {
    'inception_v3': Minimum(75, _VALID_INCEPTION + 'Mixed_7c', 107, _AUX_HEAD + 'Mixed_6e'),
    'inception_resnet_v2': Minimum(75, _VALID_INCEPTION + 'Conv2d_7b_1x1', 107, _AUX_HEAD + 'PreAuxLogits'),
    'inception_v4': Minimum(75, _VALID_INCEPTION + 'Mixed_7d', 107, _AUX_HEAD + 'Mixed_6h'),
    'inception_v1': Minimum(193, "the base pads SAME (any size), but the head's 7x7 VALID average pool needs Mixed_5c "
                                 'of at least 7x7, i.e. 193x193; global_pool=True (or inception_v1_base) builds at '
                                 'any size'),
    'inception_v2': Minimum(1, "every convolution and pool pads SAME and the head's 7x7/2 average pool shrinks to "
                               'smaller maps: any size builds'),
}


# Inception v3 comes first in the catalogue (research/slim's first network), the others after the classic ones.
FIRST = (
    NetworkSpec(
        'inception_v3', 'nets.inception_v3:inception_v3', 'nets.inception_v3:inception_v3_arg_scope',
        default_image_size=299,
        nominal_stride=32, output_strides=(), preprocessing='inception', value_range=UNIT_RANGE,
        minimum_input_size=_MINIMUMS['inception_v3'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Conv2d_4a_3x3', 4, 192),
                Level('C3', 'Mixed_5d', 8, 288), Level('C4', 'Mixed_6e', 16, 768), Level('C5', 'Mixed_7c', 32, 2048)),
        input_variables=('InceptionV3/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionV3/AuxLogits/Conv2d_2b_1x1/weights', 'InceptionV3/AuxLogits/Conv2d_2b_1x1/biases',
                         'InceptionV3/Logits/Conv2d_1c_1x1/weights', 'InceptionV3/Logits/Conv2d_1c_1x1/biases'),
        num_classes=1001,
        archive=archive(f'{TF_MODELS}inception_v3_2016_08_28.tar.gz', 'inception_v3.ckpt', 1001)),
)
SPECS = (
    NetworkSpec(
        'inception_v1', 'nets.inception_v1:inception_v1', 'nets.inception_v1:inception_v1_arg_scope',
        default_image_size=224, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v1'],
        levels=(Level('C1', 'Conv2d_1a_7x7', 2, 64), Level('C2', 'Conv2d_2c_3x3', 4, 192),
                Level('C3', 'Mixed_3c', 8, 480), Level('C4', 'Mixed_4f', 16, 832), Level('C5', 'Mixed_5c', 32, 1024)),
        input_variables=('InceptionV1/Conv2d_1a_7x7/weights',),
        class_variables=('InceptionV1/Logits/Conv2d_0c_1x1/weights', 'InceptionV1/Logits/Conv2d_0c_1x1/biases'),
        num_classes=1001,
        archive=archive(f'{TF_MODELS}inception_v1_2016_08_28.tar.gz', 'inception_v1.ckpt', 1001),
        base_function='nets.inception_v1:inception_v1_base'),
    NetworkSpec(
        'inception_v2', 'nets.inception_v2:inception_v2', 'nets.inception_v2:inception_v2_arg_scope',
        default_image_size=224, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v2'],
        levels=(Level('C1', 'Conv2d_1a_7x7', 2, 64), Level('C2', 'Conv2d_2c_3x3', 4, 192),
                Level('C3', 'Mixed_3c', 8, 320), Level('C4', 'Mixed_4e', 16, 576), Level('C5', 'Mixed_5c', 32, 1024)),
        # the separable first layer: its depthwise filters per input channel, and the pointwise mixing of them
        input_variables=('InceptionV2/Conv2d_1a_7x7/depthwise_weights', 'InceptionV2/Conv2d_1a_7x7/pointwise_weights'),
        class_variables=('InceptionV2/Logits/Conv2d_1c_1x1/weights', 'InceptionV2/Logits/Conv2d_1c_1x1/biases'),
        num_classes=1001,
        archive=archive(f'{TF_MODELS}inception_v2_2016_08_28.tar.gz', 'inception_v2.ckpt', 1001),
        base_function='nets.inception_v2:inception_v2_base'),
    NetworkSpec(
        'inception_resnet_v2', 'nets.inception_resnet_v2:inception_resnet_v2',
        'nets.inception_resnet_v2:inception_resnet_v2_arg_scope', default_image_size=299, nominal_stride=32,
        output_strides=(), preprocessing='inception', value_range=UNIT_RANGE,
        minimum_input_size=_MINIMUMS['inception_resnet_v2'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Conv2d_4a_3x3', 4, 192),
                Level('C3', 'Mixed_5b', 8, 320), Level('C4', 'PreAuxLogits', 16, 1088),
                Level('C5', 'Conv2d_7b_1x1', 32, 1536)),
        input_variables=('InceptionResnetV2/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionResnetV2/AuxLogits/Logits/weights', 'InceptionResnetV2/AuxLogits/Logits/biases',
                         'InceptionResnetV2/Logits/Logits/weights', 'InceptionResnetV2/Logits/Logits/biases'),
        num_classes=1001,
        archive=archive(f'{TF_MODELS}inception_resnet_v2_2016_08_30.tar.gz', 'inception_resnet_v2_2016_08_30.ckpt',
                        1001),
        base_function='nets.inception_resnet_v2:inception_resnet_v2_base'),
    NetworkSpec(
        'inception_v4', 'nets.inception_v4:inception_v4', 'nets.inception_v4:inception_v4_arg_scope',
        default_image_size=299, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v4'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Mixed_4a', 4, 192),
                Level('C3', 'Mixed_5e', 8, 384), Level('C4', 'Mixed_6h', 16, 1024), Level('C5', 'Mixed_7d', 32, 1536)),
        input_variables=('InceptionV4/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionV4/AuxLogits/Aux_logits/weights', 'InceptionV4/AuxLogits/Aux_logits/biases',
                         'InceptionV4/Logits/Logits/weights', 'InceptionV4/Logits/Logits/biases'),
        num_classes=1001,
        archive=archive(f'{TF_MODELS}inception_v4_2016_09_09.tar.gz', 'inception_v4.ckpt', 1001),
        base_function='nets.inception_v4:inception_v4_base'),
)
