"""The catalogue: everything known about each network, declared once, per family.

A network's `NetworkSpec` holds its function and arg scope, sizes and strides, preprocessing, feature levels,
the variables that follow the input channels and the classes, and its published checkpoint. The CLI, features,
checkpoint adaptation, fetching and export read these; tests/test_registry.py checks each declaration against
the built network. Nothing here imports TensorFlow, so the CLI checks its arguments against the declarations
before TensorFlow loads. `nets.nets_factory` (research/slim's factory) is the usual door to it.

Adding a network: its `NetworkSpec` in the family's module here (`resnet`, `mobilenet`, `xception`, `inception`,
`classic`, `nasnet`, or a new one listed below).
"""

from nets.catalogue import classic
from nets.catalogue import deeplab_zoo
from nets.catalogue import inception
from nets.catalogue import mobilenet
from nets.catalogue import nasnet
from nets.catalogue import resnet
from nets.catalogue import xception
from nets.catalogue.registry import DEEPLAB_BACKBONES
from nets.catalogue.registry import DEEPLAB_MODELS
from nets.catalogue.registry import REGISTRY
from nets.catalogue.registry import get_spec  # pylint: disable=unused-import

REGISTRY.update((spec.name, spec) for spec in (*inception.FIRST, *resnet.SPECS, *mobilenet.SPECS, *xception.SPECS,
                                               *classic.SPECS, *inception.SPECS, *nasnet.SPECS))
DEEPLAB_BACKBONES.update((spec.name, spec) for spec in mobilenet.DEEPLAB_SEG)
# research/deeplab's model variants: the backbones DeepLab's heads are put on (those with decoder features).
# DeepLab's model zoo: its trained segmentation models by name (`fetch-weights NAME`), and by the name of their
# archive (its folder: 'deeplabv3_pascal_train_aug' is 'xception_coco_voc_trainaug').
DEEPLAB_MODELS.update((model.name, model) for model in deeplab_zoo.MODELS)
DEEPLAB_MODELS.update((deeplab_zoo.archive_name(model), model) for model in deeplab_zoo.MODELS)
DEEPLAB_VARIANTS = tuple(name for name, spec in {**REGISTRY, **DEEPLAB_BACKBONES}.items() if spec.decoder_end_points)
