"""The dense prediction cell (Chen et al., "Searching for Efficient Multi-Scale Architectures for Dense Image
Prediction", arXiv:1809.04184) with research/deeplab's API (`core/dense_prediction_cell.py`): DeepLab's head in
place of ASPP when `ModelOptions.dense_prediction_cell_config` is set (its best Cityscapes model, on xception_71).

A cell is a list of operations ('branch0', 'branch1', ... under scope 'meta_architecture'), each reading the
backbone's features (`input` -1) or an earlier branch: 'conv' (1x1, or a separable 3x3 of atrous `rate` [height,
width] times `conv_rate_multiplier`, DeepLab's `split_separable_conv2d`) or 'pyramid_pooling' (an average pool on
a `grid_size` grid of the crop, a 1x1 convolution, bilinear upsampling back). The branches are concatenated,
dropped out (keep 0.9, training only) and projected to 256 channels ('concat_projection'). Every convolution has
batch norm (decay 0.9997, epsilon 1e-5) and ReLU. Names are DeepLab's, so its checkpoints restore by name.

    config = dense_prediction_cell.load_config('dense_prediction_cell_branch5_top1_cityscapes.json')
    options = deeplab.ModelOptions({'semantic': 19}, crop_size=(769, 769), atrous_rates=(6, 12, 18),
                                   output_stride=16, model_variant='xception_71', decoder_output_stride=(4,),
                                   dense_prediction_cell_config=config)

`CITYSCAPES_BRANCH5_TOP1` is the cell of DeepLab's published Cityscapes model (its JSON file's content).
"""

import copy
import json
from typing import List, Optional, Sequence

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import deeplab_utils
from nets import layers
from nets.catalogue import deeplab_zoo

META_ARCHITECTURE_SCOPE = 'meta_architecture'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
_CONV, _PYRAMID_POOLING = 'conv', 'pyramid_pooling'

# research/deeplab core/dense_prediction_cell_branch5_top1_cityscapes.json (declared with DeepLab's model zoo).
CITYSCAPES_BRANCH5_TOP1 = [dict(operation) for operation in deeplab_zoo.DPC_CITYSCAPES_BRANCH5_TOP1]


def dense_prediction_cell_hparams() -> dict:
  """DeepLab's defaults: 256 filters per operation ('reduction_size'), dropout (keep 0.9) on the concatenation
  and not on the projection, 256 projected channels, rates times 1 (`conv_rate_multiplier`; DeepLab passes
  16 // output_stride)."""
  return {'reduction_size': 256, 'dropout_on_concat_features': True, 'dropout_on_projection_features': False,
          'dropout_keep_prob': 0.9, 'concat_channels': 256, 'conv_rate_multiplier': 1}


def load_config(path: str) -> List[dict]:
  """A cell's config from a JSON file of DeepLab's format (`--dense_prediction_cell_json`), checked."""
  with tf.io.gfile.GFile(path, 'r') as handle:
    config = json.load(handle)
  check_config(config, needs_crop_size=False)
  return config


def _pair(value, what: str) -> tuple:
  return checks.int_pair(value, f'dense_prediction_cell_config: {what}')


def check_config(config, needs_crop_size: bool = True, crop_size=None) -> None:
  """Raises ValueError naming the operation and what is wrong with it: an unknown op or kernel, an input that is
  not an earlier branch (or -1, the features), a bad rate or grid, or pyramid pooling without a crop size."""
  if not isinstance(config, (list, tuple)) or not config:
    raise ValueError(f'dense_prediction_cell_config must be a non-empty list of operations, got {config!r}')
  for i, operation in enumerate(config):
    if not isinstance(operation, dict) or operation.get('op') not in (_CONV, _PYRAMID_POOLING):
      raise ValueError(f"dense_prediction_cell_config[{i}]: 'op' must be 'conv' or 'pyramid_pooling', got "
                       f'{operation!r}')
    source = operation.get('input')
    if isinstance(source, bool) or not isinstance(source, int) or not -1 <= source < i:
      raise ValueError(f"dense_prediction_cell_config[{i}]: 'input' must be -1 (the features) or an earlier "
                       f'branch (0..{i - 1}), got {source!r}')
    if operation['op'] == _CONV:
      if _pair(operation.get('kernel'), f'[{i}] kernel') not in ((1, 1), (3, 3)):
        raise ValueError(f"dense_prediction_cell_config[{i}]: 'kernel' must be 1 or 3, got {operation['kernel']!r}")
      if _pair(operation.get('kernel'), f'[{i}] kernel') == (3, 3):
        _pair(operation.get('rate'), f'[{i}] rate')
    else:
      _pair(operation.get('grid_size'), f'[{i}] grid_size')
      if needs_crop_size and crop_size is None:
        raise ValueError(f'dense_prediction_cell_config[{i}]: pyramid pooling needs ModelOptions.crop_size (its '
                         'pool and upsampling are sized from it)')


class DensePredictionCell:
  """DeepLab's dense prediction cell: `DensePredictionCell(config, hparams).build_cell(features, ...)`.

  Args:
    config: the operations (see the module's text), e.g. `CITYSCAPES_BRANCH5_TOP1`.
    hparams: changes to `dense_prediction_cell_hparams()`.

  Raises:
    ValueError: for a `conv_rate_multiplier` below 1 or an unknown hyperparameter.
  """

  def __init__(self, config: Sequence[dict], hparams: Optional[dict] = None):
    self.hparams = dense_prediction_cell_hparams()
    unknown = sorted(set(hparams or {}) - set(self.hparams))
    if unknown:
      raise ValueError(f'DensePredictionCell: unknown hparams {", ".join(unknown)}; it has {", ".join(self.hparams)}')
    self.hparams.update(hparams or {})
    if self.hparams['conv_rate_multiplier'] < 1:
      raise ValueError(f'conv_rate_multiplier cannot have value < 1, got {self.hparams["conv_rate_multiplier"]}')
    self.config = copy.deepcopy(list(config))

  def build_cell(self, features: tf.Tensor, output_stride: int = 16, crop_size=None, image_pooling_crop_size=None,
                 weight_decay: float = 0.00004, reuse=None, is_training: bool = False,
                 fine_tune_batch_norm: bool = False, scope: Optional[str] = None) -> tf.Tensor:
    """The cell on `features` (of the backbone at `output_stride`); `crop_size` sizes pyramid pooling.

    Returns:
      `[batch, height, width, concat_channels]`.

    Raises:
      ValueError: for a bad config (`check_config`), before anything is built.
    """
    check_config(self.config, crop_size=crop_size)
    hparams = self.hparams
    depth = hparams['reduction_size']
    bn_training = is_training if fine_tune_batch_norm else False
    with slim.arg_scope([layers.conv2d, layers.separable_conv2d], weights_regularizer=slim.l2_regularizer(weight_decay),
                        activation_fn=tf.nn.relu, normalizer_fn=layers.batch_norm, padding='SAME', stride=1,
                        reuse=reuse), \
        slim.arg_scope([layers.batch_norm], is_training=bn_training, decay=0.9997, epsilon=1e-5, scale=True), \
        tf.compat.v1.variable_scope(scope, META_ARCHITECTURE_SCOPE, [features]):
      branches = []
      for i, operation in enumerate(self.config):
        name = f'branch{i}'
        source = features if operation['input'] < 0 else branches[operation['input']]
        if operation['op'] == _CONV and _pair(operation['kernel'], 'kernel') == (1, 1):
          branches.append(layers.conv2d(source, depth, 1, scope=name))
        elif operation['op'] == _CONV:
          rate = [r * hparams['conv_rate_multiplier'] for r in _pair(operation['rate'], 'rate')]
          branches.append(deeplab_utils.split_separable_conv2d(source, depth, kernel_size=operation['kernel'], rate=rate,
                                                         weight_decay=weight_decay, scope=name))
        else:
          grid = _pair(operation['grid_size'], 'grid_size')
          pool_crop = image_pooling_crop_size or crop_size
          target = [deeplab_utils.scale_dimension(n, 1.0 / output_stride) for n in crop_size]
          kernel = [deeplab_utils.scale_dimension(n, 1.0 / (output_stride * g)) for n, g in zip(pool_crop, grid)]
          pooled = layers.avg_pool2d(source, kernel, stride=[1, 1], padding='VALID')
          pooled = deeplab_utils.resize_bilinear(layers.conv2d(pooled, depth, 1, scope=name), target, pooled.dtype)
          pooled.set_shape([None, *target, depth])
          branches.append(pooled)
      net = tf.concat(branches, 3)
      if hparams['dropout_on_concat_features']:
        net = layers.dropout(net, keep_prob=hparams['dropout_keep_prob'], is_training=is_training,
                             scope=CONCAT_PROJECTION_SCOPE + '_dropout')
      net = layers.conv2d(net, hparams['concat_channels'], 1, scope=CONCAT_PROJECTION_SCOPE)
      if hparams['dropout_on_projection_features']:
        net = layers.dropout(net, keep_prob=hparams['dropout_keep_prob'], is_training=is_training,
                             scope=CONCAT_PROJECTION_SCOPE + '_dropout')
      return net
