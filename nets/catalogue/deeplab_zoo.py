"""DeepLab's model zoo (research/deeplab g3doc/model_zoo.md): its trained segmentation models by name, each with
its archive, dataset, class count and the `ModelOptions` it was trained with, so that `slimnets fetch-weights NAME`
gives a folder that `describe`, `export`, `evaluate`, `visualize`, `extract` and `benchmark` take as `--checkpoint`
without architecture flags (the folder holds the checkpoint and its `model_options.json`, as a training run's).

The options are DeepLab's for each model (model_zoo.md, cityscapes.md, ade20k.md and the flags of its scripts);
`crop_size` is left out (any image size; DeepLab's Cityscapes MobileNet v3 models pool their image-level feature on
769x769 crops of stride (4, 5), which a given `crop_size` applies). No TensorFlow here.
"""

import dataclasses
from typing import Mapping, Tuple

from nets.catalogue.archives import TF_MODELS
from nets.catalogue.archives import archive
from nets.catalogue.spec import Archive

# research/deeplab core/dense_prediction_cell_branch5_top1_cityscapes.json: the dense prediction cell of its
# Cityscapes models (`nets.dense_prediction_cell.CITYSCAPES_BRANCH5_TOP1` is this).
DPC_CITYSCAPES_BRANCH5_TOP1 = (
    {'kernel': 3, 'rate': [1, 6], 'op': 'conv', 'input': -1},
    {'kernel': 3, 'rate': [18, 15], 'op': 'conv', 'input': 0},
    {'kernel': 3, 'rate': [6, 3], 'op': 'conv', 'input': 1},
    {'kernel': 3, 'rate': [1, 1], 'op': 'conv', 'input': 0},
    {'kernel': 3, 'rate': [6, 21], 'op': 'conv', 'input': 0},
)


@dataclasses.dataclass(frozen=True)
class SegmentationModel:
  """A trained DeepLab model of the model zoo.

  Attributes:
    name: model_zoo.md's checkpoint name, e.g. 'xception_coco_voc_trainaug'.
    archive: the published archive (its checkpoint 'model.ckpt' in a folder of the archive's name).
    dataset: 'pascal_voc_seg', 'cityscapes' or 'ade20k' (DeepLab's dataset names; the classes' colours).
    model_options: the `nets.deeplab.ModelOptions` fields it was trained with (outputs_to_num_classes included).
    evaluation: how model_zoo.md evaluates it (output stride, scales, flips) and, where this text has it from
      model_zoo.md itself, the mIoU it reports.
  """
  name: str
  archive: Archive
  dataset: str
  model_options: Mapping[str, object]
  evaluation: str

  @property
  def num_classes(self) -> int:
    return self.model_options['outputs_to_num_classes']['semantic']

  @property
  def model_variant(self) -> str:
    return self.model_options['model_variant']


_XCEPTION_65_V3_PLUS = {'model_variant': 'xception_65', 'atrous_rates': [6, 12, 18], 'output_stride': 16,
                        'decoder_output_stride': [4]}
# MobileNet v2 models have no atrous branches and no decoder (model_zoo.md: "do not employ ASPP and decoder").
_MOBILENET_V2 = {'model_variant': 'mobilenet_v2', 'output_stride': 16}
_MOBILENET_V3_SEG = {'atrous_rates': None, 'output_stride': 32, 'decoder_output_stride': [8],
                     'image_pooling_crop_size': [769, 769], 'image_pooling_stride': [4, 5],
                     'aspp_convs_filters': 128, 'aspp_with_concat_projection': False,
                     'aspp_with_squeeze_and_excitation': True, 'decoder_use_sum_merge': True, 'decoder_filters': 19,
                     'decoder_output_is_logits': True, 'image_se_uses_qsigmoid': True}
_CLASSES = {'pascal_voc_seg': 21, 'cityscapes': 19, 'ade20k': 151}


def _model(name: str, file: str, dataset: str, evaluation: str, **options) -> SegmentationModel:
  options = {'outputs_to_num_classes': {'semantic': _CLASSES[dataset]}, **options}
  # The checkpoint is 'model.ckpt' in the archive's folder (with frozen_inference_graph.pb beside it).
  return SegmentationModel(name, archive(f'{TF_MODELS}{file}', 'model.ckpt', _CLASSES[dataset]), dataset, options,
                           evaluation)


MODELS: Tuple[SegmentationModel, ...] = (
    _model('mobilenetv2_coco_voc_trainaug', 'deeplabv3_mnv2_pascal_train_aug_2018_01_29.tar.gz', 'pascal_voc_seg',
           'output stride 16, scale 1.0: 75.32% mIoU (val)', **_MOBILENET_V2),
    _model('mobilenetv2_coco_voc_trainval', 'deeplabv3_mnv2_pascal_trainval_2018_01_29.tar.gz', 'pascal_voc_seg',
           'output stride 8, scales 0.5:0.25:1.75 and flips: 80.25% mIoU (test)', **_MOBILENET_V2),
    _model('mobilenetv2_dm05_coco_voc_trainaug', 'deeplabv3_mnv2_dm05_pascal_trainaug_2018_10_01.tar.gz',
           'pascal_voc_seg', 'output stride 16, scale 1.0', **_MOBILENET_V2,
           depth_multiplier=0.5),
    _model('mobilenetv2_dm05_coco_voc_trainval', 'deeplabv3_mnv2_dm05_pascal_trainval_2018_10_01.tar.gz',
           'pascal_voc_seg', 'output stride 8, scale 1.0', **_MOBILENET_V2, depth_multiplier=0.5),
    _model('xception_coco_voc_trainaug', 'deeplabv3_pascal_train_aug_2018_01_04.tar.gz', 'pascal_voc_seg',
           'output stride 16, scale 1.0: 82.20% mIoU (val)', **_XCEPTION_65_V3_PLUS),
    _model('xception_coco_voc_trainval', 'deeplabv3_pascal_trainval_2018_01_04.tar.gz', 'pascal_voc_seg',
           'output stride 8, scales 0.5:0.25:1.75 and flips: 87.80% mIoU (test)', **_XCEPTION_65_V3_PLUS),
    _model('mobilenetv2_coco_cityscapes_trainfine', 'deeplabv3_mnv2_cityscapes_train_2018_02_05.tar.gz', 'cityscapes',
           'output stride 16, scale 1.0: 70.71% mIoU (val)', **_MOBILENET_V2),
    _model('mobilenetv3_large_cityscapes_trainfine', 'deeplab_mnv3_large_cityscapes_trainfine_2019_11_15.tar.gz',
           'cityscapes', 'output stride 32, scale 1.0', model_variant='mobilenet_v3_large_seg',
           **_MOBILENET_V3_SEG),
    _model('mobilenetv3_small_cityscapes_trainfine', 'deeplab_mnv3_small_cityscapes_trainfine_2019_11_15.tar.gz',
           'cityscapes', 'output stride 32, scale 1.0', model_variant='mobilenet_v3_small_seg',
           **_MOBILENET_V3_SEG),
    _model('xception65_cityscapes_trainfine', 'deeplabv3_cityscapes_train_2018_02_06.tar.gz', 'cityscapes',
           'output stride 16, scale 1.0: 78.79% mIoU (val)', **_XCEPTION_65_V3_PLUS),
    _model('xception71_dpc_cityscapes_trainfine', 'deeplab_cityscapes_xception71_trainfine_2018_09_08.tar.gz',
           'cityscapes', 'output stride 16, scale 1.0', model_variant='xception_71',
           atrous_rates=[6, 12, 18], output_stride=16, decoder_output_stride=[4],
           dense_prediction_cell_config=[dict(op) for op in DPC_CITYSCAPES_BRANCH5_TOP1]),
    _model('xception71_dpc_cityscapes_trainval', 'deeplab_cityscapes_xception71_trainvalfine_2018_09_08.tar.gz',
           'cityscapes', 'output stride 8, scales 0.75:0.25:2.0 and flips',
           model_variant='xception_71', atrous_rates=[6, 12, 18], output_stride=16, decoder_output_stride=[4],
           dense_prediction_cell_config=[dict(op) for op in DPC_CITYSCAPES_BRANCH5_TOP1]),
    _model('xception65_ade20k_train', 'deeplabv3_xception_ade20k_train_2018_05_29.tar.gz', 'ade20k',
           'output stride 8, scales 0.5:0.25:1.75 and flips: 45.65% mIoU (val)', **_XCEPTION_65_V3_PLUS),
)


def archive_name(model: SegmentationModel) -> str:
  """The name of the model's archive without its date, e.g. 'deeplabv3_pascal_train_aug' (the folder inside it,
  and the name DeepLab's scripts and many users know it by)."""
  file = model.archive.url.rsplit('/', 1)[-1]
  return file[:file.index('_20')]
