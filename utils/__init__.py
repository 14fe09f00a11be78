"""slimnets: TF-Slim style networks and DeepLab segmenters for classification and dense prediction.

The public API, by room (each name is imported from its room on first use, so `import slimnets` alone loads no
TensorFlow; the command line checks its arguments before TensorFlow loads):

- networks, research/slim's contract: `from nets import resnet_v1`, `nets.nets_factory` (`get_spec`, the registry);
- models (`slimnets.models`): `Backbone`, `Segmenter`, `update_batch_norm_statistics`, DeepLab's `ModelOptions`;
- Keras 3 models (`slimnets.keras`): `slimnets.keras.Backbone` (`fit`, `.keras` files, `pyramid_outputs`);
- weights (`slimnets.weights`): `fetch_weights`, `restore`, `read_checkpoint`, `adapt_checkpoint`,
  `write_checkpoint`, `get_preprocessing`;
- analysis (`slimnets.analysis`): `describe`, `describe_segmenter`, `feature_levels`;
- deploy (`slimnets.deploy`): `Predictor`, `benchmark`, `export_saved_model`, `export_openvino`, `export_tflite`,
  `OpenVINOPredictor`, `TFLitePredictor`, `extract`;
- segmentation (`slimnets.segmentation`): `softmax_cross_entropy`, `poly_learning_rate`, `MeanIoU`; DeepLab's
  datasets, training, evaluation and pictures: `build_dataset`, `dataset`, `train`, `TrainingOptions`,
  `load_segmenter`, `evaluate`, `visualize`;
- the command line (`slimnets.cli`): `main`.
"""

import importlib

_PUBLIC = {
    'get_spec': 'nets.nets_factory:get_spec',
    'ModelOptions': 'nets.deeplab:ModelOptions',
    'Backbone': 'slimnets.models:Backbone',
    'Segmenter': 'slimnets.models:Segmenter',
    'update_batch_norm_statistics': 'slimnets.models:update_batch_norm_statistics',
    'fetch_weights': 'slimnets.weights.fetch:fetch',
    'restore': 'slimnets.weights.checkpoints:restore',
    'read_checkpoint': 'slimnets.weights.checkpoints:read',
    'adapt_checkpoint': 'slimnets.weights.checkpoints:adapt',
    'write_checkpoint': 'slimnets.weights.checkpoints:write',
    'get_preprocessing': 'slimnets.weights.preprocessing:get_preprocessing',
    'describe': 'slimnets.analysis.describe:describe',
    'describe_segmenter': 'slimnets.analysis.describe:describe_segmenter',
    'feature_levels': 'slimnets.analysis.features:feature_levels',
    'Predictor': 'slimnets.deploy.inference:Predictor',
    'benchmark': 'slimnets.deploy.inference:benchmark',
    'export_saved_model': 'slimnets.deploy.export:export_saved_model',
    'export_openvino': 'slimnets.deploy.export:export_openvino',
    'export_tflite': 'slimnets.deploy.export:export_tflite',
    'OpenVINOPredictor': 'slimnets.deploy.backends:OpenVINOPredictor',
    'TFLitePredictor': 'slimnets.deploy.backends:TFLitePredictor',
    'extract': 'slimnets.deploy.extract:extract',
    'softmax_cross_entropy': 'slimnets.segmentation:softmax_cross_entropy',
    'poly_learning_rate': 'slimnets.segmentation:poly_learning_rate',
    'MeanIoU': 'slimnets.segmentation:MeanIoU',
    'build_dataset': 'slimnets.segmentation.datasets:build_dataset',
    'dataset': 'slimnets.segmentation.datasets:dataset',
    'train': 'slimnets.segmentation.training:train',
    'TrainingOptions': 'slimnets.segmentation.training:TrainingOptions',
    'load_segmenter': 'slimnets.segmentation.evaluation:load_segmenter',
    'evaluate': 'slimnets.segmentation.evaluation:evaluate',
    'visualize': 'slimnets.segmentation.evaluation:visualize',
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
  """The public name `name`, imported from its module on first use (PEP 562)."""
  if name not in _PUBLIC:
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
  module, _, attribute = _PUBLIC[name].partition(':')
  value = getattr(importlib.import_module(module), attribute)
  globals()[name] = value
  return value


def __dir__():
  return sorted(set(globals()) | set(_PUBLIC))
