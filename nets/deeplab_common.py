"""research/deeplab's `common.py` for DeepLab's own programs: its flags (names, types, defaults), its constants and
`ModelOptions` made from the flags as DeepLab makes it. A program written for DeepLab ports with one import change:

    from deeplab import common, model              # DeepLab
    from nets import deeplab_common as common, deeplab as model   # here

`common.ModelOptions(outputs_to_num_classes, crop_size, atrous_rates, output_stride, preprocessed_images_dtype)`
takes the other fields from the parsed flags (`--model_variant`, `--decoder_output_stride`, ...; a
`--dense_prediction_cell_json` file is read), and is a `nets.deeplab.ModelOptions` (a namedtuple of DeepLab's
fields), so `model.multi_scale_logits(images, options, ...)` and the rest take it. Keywords given to it win over
the flags (this module's addition, for tests and copies).

Importing this module defines the flags in absl's global `FLAGS`, as importing DeepLab's does; a program must
parse them (absl's `app.run`, or `FLAGS(argv)`) before making options. Library code uses
`nets.deeplab.ModelOptions`, which reads no flags.
"""

import tensorflow as tf
from absl import flags

from nets import deeplab
from nets import dense_prediction_cell

# DeepLab's flags: its names, types and defaults (the help texts are this project's).
flags.DEFINE_integer('min_resize_value', None, 'resize images so that their shorter side is at least this')
flags.DEFINE_integer('max_resize_value', None, 'and their longer side at most this')
flags.DEFINE_integer('resize_factor', None, 'resized sides are a multiple of this, plus one')
flags.DEFINE_boolean('keep_aspect_ratio', True, 'keep the aspect ratio when resizing')
flags.DEFINE_integer('logits_kernel_size', 1, 'kernel of the logits convolution (1 with ASPP)')
flags.DEFINE_string('model_variant', 'mobilenet_v2', 'the backbone (nets.deeplab.MODEL_VARIANTS)')
flags.DEFINE_multi_float('image_pyramid', None, 'scales to run the network at (multi_scale_logits)')
flags.DEFINE_boolean('add_image_level_feature', True, 'build the image pooling branch of ASPP')
flags.DEFINE_list('image_pooling_crop_size', None, 'height,width the image pooling averages over (default: '
                  'the crop size)')
flags.DEFINE_list('image_pooling_stride', '1,1', 'height,width stride of the image pooling average')
flags.DEFINE_boolean('aspp_with_batch_norm', True, 'build ASPP (with batch norm)')
flags.DEFINE_boolean('aspp_with_separable_conv', True, 'separable 3x3 ASPP branches')
flags.DEFINE_multi_integer('multi_grid', None, 'unit rates of the last block (ResNet, Xception)')
flags.DEFINE_float('depth_multiplier', 1.0, "MobileNet's channel multiplier")
flags.DEFINE_integer('divisible_by', None, "MobileNet's channel rounding")
flags.DEFINE_list('decoder_output_stride', None, 'strides of the decoder stages, descending (e.g. 4)')
flags.DEFINE_boolean('decoder_use_separable_conv', True, 'separable 3x3 decoder convolutions')
flags.DEFINE_enum('merge_method', 'max', ['max', 'avg'], 'how the scales of the image pyramid are merged')
flags.DEFINE_boolean('prediction_with_upsampled_logits', True, 'labels from the upsampled logits (else: the '
                     "logits' labels upsampled)")
flags.DEFINE_string('dense_prediction_cell_json', '', "a JSON file of a dense prediction cell's operations")
flags.DEFINE_integer('nas_stem_output_num_conv_filters', 20, "filters of a NAS backbone's stem (not built here)")
flags.DEFINE_bool('nas_use_classification_head', False, 'a NAS backbone with its classification head (not built '
                  'here)')
flags.DEFINE_bool('nas_remove_os32_stride', False, "a NAS backbone without its stride-32 reduction (not built "
                  'here)')
flags.DEFINE_bool('use_bounded_activation', False, 'relu6 and clipping in place of relu (not built here)')
flags.DEFINE_boolean('aspp_with_concat_projection', True, 'project the concatenated ASPP branches')
flags.DEFINE_boolean('aspp_with_squeeze_and_excitation', False, 'the image pooling branch gates ASPP')
flags.DEFINE_integer('aspp_convs_filters', 256, 'channels of the ASPP branches')
flags.DEFINE_boolean('decoder_use_sum_merge', False, 'the decoder adds the low-level features')
flags.DEFINE_integer('decoder_filters', 256, 'channels of the decoder')
flags.DEFINE_boolean('decoder_output_is_logits', False, "the decoder's output are the logits")
flags.DEFINE_boolean('image_se_uses_qsigmoid', False, 'gate with relu6(x + 3) / 6')
flags.DEFINE_multi_float('label_weights', None, 'the loss weight of each label (default 1.0 each)')
flags.DEFINE_float('batch_norm_decay', 0.9997, 'batch norm decay')

FLAGS = flags.FLAGS

# DeepLab's constants: the output type and the names of a sample's items.
OUTPUT_TYPE = 'semantic'
LABELS_CLASS = 'labels_class'
IMAGE = 'image'
HEIGHT = 'height'
WIDTH = 'width'
IMAGE_NAME = 'image_name'
LABEL = 'label'
ORIGINAL_IMAGE = 'original_image'
TEST_SET = 'test'


def _ints(values):
  return None if values is None else [int(value) for value in values]


def options_from_flags() -> dict:
  """The `ModelOptions` fields DeepLab's `common.ModelOptions` reads from its flags, from the parsed `FLAGS`.

  Raises:
    ValueError: for decoder output strides not in descending order (DeepLab's check); absl's error when the flags
      have not been parsed.
  """
  decoder_output_stride = _ints(FLAGS.decoder_output_stride)
  if decoder_output_stride and sorted(decoder_output_stride, reverse=True) != decoder_output_stride:
    raise ValueError(f'--decoder_output_stride must be in descending order, got {decoder_output_stride}')
  config = (dense_prediction_cell.load_config(FLAGS.dense_prediction_cell_json) if FLAGS.dense_prediction_cell_json
            else None)
  return {
      'merge_method': FLAGS.merge_method, 'add_image_level_feature': FLAGS.add_image_level_feature,
      'image_pooling_crop_size': _ints(FLAGS.image_pooling_crop_size),
      'image_pooling_stride': _ints(FLAGS.image_pooling_stride) or [1, 1],
      'aspp_with_batch_norm': FLAGS.aspp_with_batch_norm, 'aspp_with_separable_conv': FLAGS.aspp_with_separable_conv,
      'multi_grid': FLAGS.multi_grid, 'decoder_output_stride': decoder_output_stride,
      'decoder_use_separable_conv': FLAGS.decoder_use_separable_conv, 'logits_kernel_size': FLAGS.logits_kernel_size,
      'model_variant': FLAGS.model_variant, 'depth_multiplier': FLAGS.depth_multiplier,
      'divisible_by': FLAGS.divisible_by, 'prediction_with_upsampled_logits': FLAGS.prediction_with_upsampled_logits,
      'dense_prediction_cell_config': config,
      'nas_architecture_options': {'nas_stem_output_num_conv_filters': FLAGS.nas_stem_output_num_conv_filters,
                                   'nas_use_classification_head': FLAGS.nas_use_classification_head,
                                   'nas_remove_os32_stride': FLAGS.nas_remove_os32_stride},
      'use_bounded_activation': FLAGS.use_bounded_activation,
      'aspp_with_concat_projection': FLAGS.aspp_with_concat_projection,
      'aspp_with_squeeze_and_excitation': FLAGS.aspp_with_squeeze_and_excitation,
      'aspp_convs_filters': FLAGS.aspp_convs_filters, 'decoder_use_sum_merge': FLAGS.decoder_use_sum_merge,
      'decoder_filters': FLAGS.decoder_filters, 'decoder_output_is_logits': FLAGS.decoder_output_is_logits,
      'image_se_uses_qsigmoid': FLAGS.image_se_uses_qsigmoid,
      'label_weights': 1.0 if FLAGS.label_weights is None else FLAGS.label_weights,
      'sync_batch_norm_method': 'None', 'batch_norm_decay': FLAGS.batch_norm_decay}


class ModelOptions(deeplab.ModelOptions):
  """DeepLab's `common.ModelOptions`: the five arguments, the other fields from the parsed flags (keywords, this
  project's addition, win over them). A `nets.deeplab.ModelOptions`."""
  __slots__ = ()

  def __new__(cls, outputs_to_num_classes, crop_size=None, atrous_rates=None, output_stride=8,
              preprocessed_images_dtype=tf.float32, **options):
    return super().__new__(cls, outputs_to_num_classes, crop_size, atrous_rates, output_stride,
                           preprocessed_images_dtype, **{**options_from_flags(), **options})
