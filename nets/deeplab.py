"""DeepLab v3 and v3+ heads on the registered backbones, with research/deeplab's `model.py` API and names.

DeepLab v3 (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation", arXiv:1706.05587)
puts atrous spatial pyramid pooling on a dense backbone: an image-level branch 'image_pooling' (global average,
1x1 convolution, bilinear upsampling to the feature size), a 1x1 branch 'aspp0' and 3x3 atrous branches
'aspp1'.. at `atrous_rates` (depthwise separable: 'aspp<i>_depthwise', 'aspp<i>_pointwise'), concatenated and
projected by 'concat_projection'. DeepLab v3+ (Chen et al., "Encoder-Decoder with Atrous Separable Convolution",
arXiv:1802.02611) adds a decoder 'decoder': the backbone's low-level feature at `decoder_output_stride`
(declared by each registry entry, `NetworkSpec.decoder_end_points`) projected to 48 channels
('feature_projection0'), concatenated with the upsampled ASPP output and refined by two separable
convolutions ('decoder_conv0', 'decoder_conv1'). The logits are 'logits/<output name>', e.g. 'logits/semantic'.
Scope and variable names are DeepLab's, so its checkpoints restore by name:

    options = deeplab.ModelOptions({'semantic': 21}, crop_size=(513, 513), atrous_rates=(6, 12, 18),
                                   output_stride=16, model_variant='xception_65', decoder_output_stride=(4,))
    outputs = deeplab.multi_scale_logits(images, options, image_pyramid=None, is_training=False)
    logits = outputs['semantic']['merged_logits']   # [batch, 129, 129, 21]

Images are in [0, 255]: the backbone's DeepLab preprocessing (to [-1, 1], or ImageNet mean subtraction for
resnet_v1_50/101) is applied inside, unless `preprocess_images` is False. `logits_and_end_points` gives one
scale's logits with the stages' tensors ('backbone', 'aspp', 'decoder', 'logits/<output>'), which
`slimnets.analysis.describe.describe_segmenter` reads.
"""

import collections
import copy
import json
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import tensorflow as tf
import tf_slim as slim

from nets import checks
from nets import dense_prediction_cell
from nets import layers
from nets import nets_factory
from nets.deeplab_utils import q_sigmoid
from nets.deeplab_utils import resize_bilinear
from nets.deeplab_utils import scale_dimension
from nets.deeplab_utils import split_separable_conv2d
from nets.mobilenet import mobilenet_v2

LOGITS_SCOPE_NAME = 'logits'
MERGED_LOGITS_SCOPE = 'merged_logits'
IMAGE_POOLING_SCOPE = 'image_pooling'
ASPP_SCOPE = 'aspp'
CONCAT_PROJECTION_SCOPE = 'concat_projection'
DECODER_SCOPE = 'decoder'
# The crop size DeepLab's train, eval, vis and export scripts default to: a model's size where none is given.
DEFAULT_CROP_SIZE = (513, 513)
META_ARCHITECTURE_SCOPE = 'meta_architecture'  # DeepLab's scope of NAS meta architectures (none are built here)
# The top scopes of DeepLab's heads (ASPP's branches are aspp0, aspp1, aspp1_depthwise, ...): with the
# backbone's scope, what a DeepLab model's variables live under (`is_head_scope`).
_HEAD_SCOPES = (LOGITS_SCOPE_NAME, IMAGE_POOLING_SCOPE, CONCAT_PROJECTION_SCOPE, DECODER_SCOPE)
_ASPP_BRANCH = re.compile(ASPP_SCOPE + r'\d+(_depthwise|_pointwise)?')

_MEAN_RGB = (123.15, 115.90, 103.06)  # DeepLab's ImageNet mean for resnet_v1_50/101 (not research/slim's)
_PROJECTED_FILTERS = 48  # the decoder's projection of the low-level feature

# research/deeplab's feature extractor, per backbone family: the arg scope options it sets and the keyword
# arguments of the network (mobilenet_v2 is built by `mobilenet_base` up to 'layer_18').
_RESNET = {'scope': {'batch_norm_decay': 0.95, 'batch_norm_epsilon': 1e-5, 'batch_norm_scale': True}, 'call': {}}
_FAMILIES = {
    'nets.resnet_v1': _RESNET,
    'nets.resnet_v1_beta': _RESNET,
    'nets.xception': {'scope': {'batch_norm_decay': 0.9997, 'batch_norm_epsilon': 1e-3, 'batch_norm_scale': True,
                                'regularize_depthwise': False},
                      'call': {'regularize_depthwise': False}},
}
_MOBILENET_V2_FINAL_ENDPOINT = 'layer_18'
_MOBILENET_V3_SEG = ('mobilenet_v3_large_seg', 'mobilenet_v3_small_seg')  # built to their C5 ('layer_17', 'layer_13')
MODEL_VARIANTS = nets_factory.DEEPLAB_VARIANTS
_MERGE_METHODS = ('max', 'avg')


def _positive_pair(value, name: str) -> Optional[Tuple[int, int]]:
  if value is None:
    return None
  return checks.int_pair(value, f'ModelOptions: {name}')


# DeepLab's `common.ModelOptions` fields, in its order, with the defaults of its flags; then this project's own.
_DEEPLAB_FIELDS = (
    ('outputs_to_num_classes', None), ('crop_size', None), ('atrous_rates', None), ('output_stride', 8),
    ('preprocessed_images_dtype', tf.float32), ('merge_method', 'max'), ('add_image_level_feature', True),
    ('image_pooling_crop_size', None), ('image_pooling_stride', (1, 1)), ('aspp_with_batch_norm', True),
    ('aspp_with_separable_conv', True), ('multi_grid', None), ('decoder_output_stride', None),
    ('decoder_use_separable_conv', True), ('logits_kernel_size', 1), ('model_variant', 'mobilenet_v2'),
    ('depth_multiplier', 1.0), ('divisible_by', None), ('prediction_with_upsampled_logits', True),
    ('dense_prediction_cell_config', None),
    ('nas_architecture_options', {'nas_stem_output_num_conv_filters': 20, 'nas_use_classification_head': False,
                                  'nas_remove_os32_stride': False}),
    ('use_bounded_activation', False), ('aspp_with_concat_projection', True),
    ('aspp_with_squeeze_and_excitation', False), ('aspp_convs_filters', 256), ('decoder_use_sum_merge', False),
    ('decoder_filters', 256), ('decoder_output_is_logits', False), ('image_se_uses_qsigmoid', False),
    ('label_weights', 1.0), ('sync_batch_norm_method', 'None'), ('batch_norm_decay', 0.9997))
_OWN_FIELDS = (('preprocess_images', True),)
_DEFAULTS = dict(_DEEPLAB_FIELDS[1:] + _OWN_FIELDS)
_POSITIONAL = ('outputs_to_num_classes', 'crop_size', 'atrous_rates', 'output_stride', 'preprocessed_images_dtype')
# Options DeepLab has that are not built here yet: the value each must keep (anything else is a ValueError).
_NOT_BUILT = {'use_bounded_activation': False, 'label_weights': 1.0, 'sync_batch_norm_method': 'None',
              'batch_norm_decay': 0.9997}


class ModelOptions(collections.namedtuple('ModelOptions', [name for name, _ in _DEEPLAB_FIELDS + _OWN_FIELDS])):
  """DeepLab's model options (research/deeplab `common.ModelOptions`): a namedtuple of its fields in its order,
  made as DeepLab makes it, `ModelOptions(outputs_to_num_classes, crop_size=None, atrous_rates=None,
  output_stride=8, preprocessed_images_dtype=tf.float32)`, with its flags' defaults for the other fields, which
  are keywords here (DeepLab reads them from its flags). `_replace`, `_asdict`, `_fields`, indexing, unpacking and
  pickling work as on DeepLab's; like DeepLab's, the options are checked when a model is built from them
  (`checked()`), so `ModelOptions({})._replace(model_variant=...)` makes options and the build raises.

  Fields (DeepLab's, then this project's `preprocess_images`):
    outputs_to_num_classes: {output name: classes}, e.g. {'semantic': 21}.
    crop_size: (height, width) of the images, or None (read from the images; dynamic if unknown).
    atrous_rates: rates of the 3x3 ASPP branches, e.g. (6, 12, 18) at output_stride 16; None: no such branch.
    output_stride: the backbone's output stride (one it reaches).
    preprocessed_images_dtype: the dtype the preprocessed images are cast to (float16 and bfloat16 images keep
      theirs: the network then runs in it).
    merge_method: 'max' or 'avg' over the scales of `multi_scale_logits`.
    add_image_level_feature: build the image pooling branch.
    image_pooling_crop_size, image_pooling_stride: the average pool of that branch (default: the whole map).
    aspp_with_batch_norm: build ASPP (DeepLab's switch; without it the features go to the logits directly).
    aspp_with_separable_conv, decoder_use_separable_conv: depthwise separable 3x3 convolutions.
    multi_grid: unit rates of the backbone's last block (ResNet, Xception), or None.
    decoder_output_stride: strides of the decoder stages, e.g. (4,) for DeepLab v3+; None: no decoder.
    logits_kernel_size: kernel of the logits (1 with ASPP).
    model_variant: the backbone, one of `MODEL_VARIANTS`.
    depth_multiplier, divisible_by: MobileNet v2's channel scaling (`divisible_by` None: 8 at multiplier 1, else 1).
    prediction_with_upsampled_logits: `predict_labels` takes the argmax of the logits upsampled to the image
      (bilinear); False: of the logits, the labels then upsampled (nearest neighbour).
    aspp_with_concat_projection: project the concatenated branches to `aspp_convs_filters`.
    aspp_convs_filters, decoder_filters: channels of the ASPP branches and of the decoder.
    nas_architecture_options: options of DeepLab's NAS backbones (none of which is built here; unused).
    aspp_with_squeeze_and_excitation: the image-level branch gates the ASPP output (sigmoid, no batch norm)
      instead of joining the concatenation; `image_se_uses_qsigmoid`: with relu6(x + 3) / 6 for the sigmoid.
    decoder_use_sum_merge: the decoder adds the low-level projection (of `decoder_filters` channels) to one
      convolution of the upsampled features instead of concatenating and refining them.
    decoder_output_is_logits: the decoder's output are the logits (its convolutions linear, 1x1, with biases;
      `decoder_filters` must be the class count): DeepLab's MobileNet v3 Cityscapes models.
    dense_prediction_cell_config: a dense prediction cell in place of ASPP (`nets.dense_prediction_cell`: its
      operations, e.g. `CITYSCAPES_BRANCH5_TOP1`), with `aspp_with_batch_norm`.
    use_bounded_activation, label_weights, sync_batch_norm_method, batch_norm_decay: not built yet; a value other than DeepLab's default is a ValueError at build time (never
      ignored).
    preprocess_images: apply the backbone's DeepLab preprocessing to [0, 255] images.
  """
  __slots__ = ()

  def __new__(cls, outputs_to_num_classes, crop_size=None, atrous_rates=None, output_stride=8,
              preprocessed_images_dtype=tf.float32, **options):
    unknown = sorted(set(options) - set(_DEFAULTS))
    if unknown:
      raise TypeError(f'ModelOptions got unexpected keyword arguments {", ".join(unknown)}; its fields are '
                      f'{", ".join(cls._fields)}')
    values = {**copy.deepcopy(_DEFAULTS), **options, 'crop_size': crop_size, 'atrous_rates': atrous_rates,
              'output_stride': output_stride, 'preprocessed_images_dtype': preprocessed_images_dtype}
    return super().__new__(cls, outputs_to_num_classes, **{name: values[name] for name in cls._fields[1:]})

  def __getnewargs_ex__(self):
    """Copies and pickles are made through `__new__`'s signature."""
    values = self._asdict()
    return tuple(values.pop(name) for name in _POSITIONAL), values

  def checked(self) -> 'ModelOptions':
    """These options checked, their numbers made python ints and tuples: what every build uses.

    Raises:
      ValueError: naming the field, its value and what is valid (an unknown model variant, empty outputs, a
        stride the backbone does not reach, an option not built here, ...).
    """
    fixed = {}
    if self.model_variant not in MODEL_VARIANTS:
      raise ValueError(f'ModelOptions: model_variant must be one of {", ".join(MODEL_VARIANTS)}, '
                       f'got {self.model_variant!r}')
    spec = nets_factory.get_spec(self.model_variant)
    if not isinstance(self.outputs_to_num_classes, Mapping) or not self.outputs_to_num_classes or not all(
        isinstance(k, str) and checks.is_int(checks.as_int(v)) for k, v in self.outputs_to_num_classes.items()):
      raise ValueError('ModelOptions: outputs_to_num_classes must map output names to positive class counts, '
                       f'e.g. {{\'semantic\': 21}}, got {self.outputs_to_num_classes!r}')
    fixed['outputs_to_num_classes'] = {k: checks.as_int(v) for k, v in self.outputs_to_num_classes.items()}
    for name in ('crop_size', 'image_pooling_crop_size', 'image_pooling_stride'):
      fixed[name] = _positive_pair(getattr(self, name), name)
    stride = checks.as_int(self.output_stride)
    if stride not in spec.output_strides:
      raise ValueError(f'ModelOptions: output_stride must be one of {list(spec.output_strides)} for '
                       f'{self.model_variant}, got {self.output_stride!r}')
    fixed['output_stride'] = stride
    try:
      fixed['preprocessed_images_dtype'] = tf.as_dtype(self.preprocessed_images_dtype)
    except TypeError:
      fixed['preprocessed_images_dtype'] = None
    if fixed['preprocessed_images_dtype'] not in (tf.float32, tf.float16, tf.bfloat16):
      raise ValueError('ModelOptions: preprocessed_images_dtype must be tf.float32, tf.float16 or tf.bfloat16, '
                       f'got {self.preprocessed_images_dtype!r}')
    for name in ('atrous_rates', 'multi_grid', 'decoder_output_stride'):
      value = getattr(self, name)
      if value is None:
        continue
      ints = tuple(checks.as_int(v) for v in value) if isinstance(value, (list, tuple)) else ()
      if not ints or not all(checks.is_int(v) for v in ints):
        raise ValueError(f'ModelOptions: {name} must be None or a sequence of positive ints, got {value!r}')
      fixed[name] = ints
    if self.multi_grid is not None and not spec.multi_grid:
      raise ValueError(f'ModelOptions: {self.model_variant} has no multi_grid option')
    for decoder_stride in fixed.get('decoder_output_stride') or ():
      spec.decoder_end_point(decoder_stride)  # a ValueError naming the strides it has
      if decoder_stride >= stride:
        raise ValueError(f'ModelOptions: decoder_output_stride {decoder_stride} must be below output_stride '
                         f'{stride}')
    if self.merge_method not in _MERGE_METHODS:
      raise ValueError(f'ModelOptions: merge_method must be one of {_MERGE_METHODS}, got {self.merge_method!r}')
    for name in ('aspp_convs_filters', 'decoder_filters', 'logits_kernel_size'):
      checks.check_int(f'ModelOptions: {name}', checks.as_int(getattr(self, name)))
      fixed[name] = checks.as_int(getattr(self, name))
    checks.check_depth_multiplier(self.depth_multiplier, 'ModelOptions')
    checks.check_int('ModelOptions: divisible_by', checks.as_int(self.divisible_by), allow_none=True)
    if self.aspp_with_batch_norm and fixed['logits_kernel_size'] != 1:
      raise ValueError(f'ModelOptions: logits_kernel_size must be 1 with ASPP (aspp_with_batch_norm), got '
                       f'{self.logits_kernel_size}')
    if self.decoder_output_is_logits and (not fixed.get('decoder_output_stride') or any(
        classes != fixed['decoder_filters'] for classes in fixed['outputs_to_num_classes'].values())):
      raise ValueError('ModelOptions: decoder_output_is_logits needs a decoder (decoder_output_stride) of '
                       'decoder_filters equal to every output\'s class count, got decoder_filters='
                       f'{self.decoder_filters} for {fixed["outputs_to_num_classes"]} and decoder_output_stride='
                       f'{self.decoder_output_stride!r}')
    if self.dense_prediction_cell_config is not None and self.aspp_with_batch_norm:
      dense_prediction_cell.check_config(self.dense_prediction_cell_config, crop_size=fixed['crop_size'])
      if 16 // stride < 1:
        raise ValueError(f'ModelOptions: the dense prediction cell scales its rates by 16 // output_stride, which '
                         f'output_stride {stride} makes 0; use an output_stride of at most 16')
    for name, default in _NOT_BUILT.items():
      if getattr(self, name) != default:
        raise ValueError(f'ModelOptions: {name}={getattr(self, name)!r} is not built by slimnets yet (only '
                         f'DeepLab\'s default {default!r}); it is never ignored')
    return self._replace(**fixed)

  def as_json(self) -> dict:
    """The fields as JSON values (the dtype by name); `ModelOptions(**options.as_json())` makes them again."""
    values = self._asdict()
    values['preprocessed_images_dtype'] = tf.as_dtype(self.preprocessed_images_dtype).name
    return json.loads(json.dumps(values))


def get_extra_layer_scopes(last_layers_contain_logits_only: bool = False) -> List[str]:
  """The scopes of the layers DeepLab puts on the backbone, as its train.py uses them (gradient multiplier of
  the last layers; left out of the restore when the last layer is not initialized): the logits only, or every
  head scope."""
  if last_layers_contain_logits_only:
    return [LOGITS_SCOPE_NAME]
  return [LOGITS_SCOPE_NAME, IMAGE_POOLING_SCOPE, ASPP_SCOPE, CONCAT_PROJECTION_SCOPE, DECODER_SCOPE,
          META_ARCHITECTURE_SCOPE]


def is_head_scope(scope: str) -> bool:
  """Whether `scope` (a variable name's first part) is one of DeepLab's head scopes, e.g. 'decoder', 'aspp1'."""
  return scope in _HEAD_SCOPES or bool(_ASPP_BRANCH.fullmatch(scope))


def mean_pixel(model_variant: str) -> Tuple[float, float, float]:
  """The RGB pixel that DeepLab's preprocessing maps to zero for `model_variant`: the ImageNet mean for
  resnet_v1_50/101, else 127.5 (inputs scaled to [-1, 1]); training crops are padded with it."""
  return _MEAN_RGB if model_variant in ('resnet_v1_50', 'resnet_v1_101') else (127.5, 127.5, 127.5)


def _preprocess(images: tf.Tensor, model_variant: str, dtype: tf.DType = tf.float32) -> tf.Tensor:
  """DeepLab's preprocessing, computed in float32; float16 and bfloat16 images get their own dtype back (the
  network then runs in it), any other images `dtype` (`ModelOptions.preprocessed_images_dtype`)."""
  dtype = images.dtype if images.dtype in (tf.float16, tf.bfloat16) else dtype
  images = tf.cast(images, tf.float32)
  if model_variant in ('resnet_v1_50', 'resnet_v1_101'):
    channels = int(images.shape[-1])
    mean = list(mean_pixel(model_variant)) + [0.0] * (channels - 3)  # the channels beyond RGB keep their values
    return tf.cast(images - tf.constant(mean[:channels], shape=[1, 1, 1, channels]), dtype)
  return tf.cast((2.0 / 255.0) * images - 1.0, dtype)


def _backbone(images: tf.Tensor, options: ModelOptions, weight_decay: float, reuse, is_training) -> tuple:
  """The backbone's dense features and end points, built as DeepLab's feature extractor builds it."""
  spec = nets_factory.get_spec(options.model_variant)
  if options.preprocess_images:
    images = _preprocess(images, options.model_variant, options.preprocessed_images_dtype)
  if options.model_variant == 'mobilenet_v2':
    whole = options.depth_multiplier == 1.0
    divisible_by = options.divisible_by if options.divisible_by is not None else (8 if whole else 1)
    with slim.arg_scope(mobilenet_v2.training_scope(is_training=is_training, weight_decay=weight_decay)):
      with tf.compat.v1.variable_scope('MobilenetV2', 'MobilenetV2', [images], reuse=reuse) as scope:
        return mobilenet_v2.mobilenet_base(
            images, depth_multiplier=options.depth_multiplier, min_depth=8 if whole else 1,
            divisible_by=divisible_by, final_endpoint=_MOBILENET_V2_FINAL_ENDPOINT,
            output_stride=options.output_stride, scope=scope)
  if options.model_variant in _MOBILENET_V3_SEG:  # DeepLab's `_mobilenet_v3`: MobileNet v2's training scope
    with slim.arg_scope(mobilenet_v2.training_scope(is_training=is_training, weight_decay=weight_decay)):
      with tf.compat.v1.variable_scope('MobilenetV3', 'MobilenetV3', [images], reuse=reuse) as scope:
        return spec.base_fn(images, depth_multiplier=options.depth_multiplier, output_stride=options.output_stride,
                            final_endpoint=spec.levels[-1].end_point, scope=scope)
  family = _FAMILIES[spec.function.partition(':')[0]]
  extra = {'multi_grid': options.multi_grid} if options.multi_grid is not None else {}
  with slim.arg_scope(spec.arg_scope(weight_decay=weight_decay, **family['scope'])):
    return spec.fn(images, None, is_training=is_training, global_pool=False, output_stride=options.output_stride,
                   reuse=reuse, **family['call'], **extra)


def _head_scope(weight_decay: float, reuse, is_training):
  """The arg scope of DeepLab's ASPP and decoder: L2 decay, batch norm (decay 0.9997, epsilon 1e-5) and ReLU."""
  conv = slim.arg_scope([layers.conv2d, layers.separable_conv2d], weights_regularizer=slim.l2_regularizer(weight_decay),
                        activation_fn=tf.nn.relu, normalizer_fn=layers.batch_norm, padding='SAME', stride=1,
                        reuse=reuse)
  norm = slim.arg_scope([layers.batch_norm], decay=0.9997, epsilon=1e-5, scale=True, is_training=is_training)
  return conv, norm


def extract_features(images: tf.Tensor, model_options: ModelOptions, weight_decay: float = 0.0001, reuse=None,
                     is_training: bool = False, fine_tune_batch_norm: bool = False) -> tuple:
  """The backbone's features with ASPP on them (`[batch, h / output_stride, w / output_stride, filters]`).

  Batch norm trains only with `is_training` and `fine_tune_batch_norm` (DeepLab's switch for small batches);
  dropout follows `is_training` (a python bool or a scalar bool tensor).

  Returns:
    (features, the backbone's end points).
  """
  features, _, end_points = _features_and_aspp(images, model_options.checked(), weight_decay, reuse, is_training,
                                                fine_tune_batch_norm)
  return features, end_points


def _features_and_aspp(images, model_options: ModelOptions, weight_decay: float, reuse, is_training,
                       fine_tune_batch_norm: bool) -> tuple:
  """(ASPP output or the backbone's without ASPP, the backbone's output, its end points)."""
  bn_training = is_training if fine_tune_batch_norm else False  # is_training may be a bool tensor
  backbone, end_points = _backbone(images, model_options, weight_decay, reuse, bn_training)
  if not model_options.aspp_with_batch_norm:
    return backbone, backbone, end_points
  if model_options.dense_prediction_cell_config is not None:  # in place of ASPP
    cell = dense_prediction_cell.DensePredictionCell(model_options.dense_prediction_cell_config,
                                                     {'conv_rate_multiplier': 16 // model_options.output_stride})
    net = cell.build_cell(backbone, output_stride=model_options.output_stride, crop_size=model_options.crop_size,
                          image_pooling_crop_size=model_options.image_pooling_crop_size, weight_decay=weight_decay,
                          reuse=reuse, is_training=is_training, fine_tune_batch_norm=fine_tune_batch_norm)
    return net, backbone, end_points
  conv, norm = _head_scope(weight_decay, reuse, bn_training)
  depth = model_options.aspp_convs_filters
  gate = None
  with conv, norm:
    branches = []
    if model_options.add_image_level_feature:
      image_feature = _image_pooling(backbone, model_options, depth)
      if model_options.aspp_with_squeeze_and_excitation:
        gate = image_feature  # multiplies the ASPP output instead of joining it
      else:
        branches.append(image_feature)
    branches.append(layers.conv2d(backbone, depth, 1, scope=ASPP_SCOPE + '0'))
    for i, rate in enumerate(model_options.atrous_rates or (), 1):
      if model_options.aspp_with_separable_conv:
        branches.append(split_separable_conv2d(backbone, depth, rate=rate, weight_decay=weight_decay,
                                               scope=f'{ASPP_SCOPE}{i}'))
      else:
        branches.append(layers.conv2d(backbone, depth, 3, rate=rate, scope=f'{ASPP_SCOPE}{i}'))
    net = tf.concat(branches, 3)
    if model_options.aspp_with_concat_projection:
      net = layers.conv2d(net, depth, 1, scope=CONCAT_PROJECTION_SCOPE)
      net = layers.dropout(net, keep_prob=0.9, is_training=is_training, scope=CONCAT_PROJECTION_SCOPE + '_dropout')
    if gate is not None:
      net *= gate
  return net, backbone, end_points


def _image_pooling(features: tf.Tensor, options: ModelOptions, depth: int) -> tf.Tensor:
  """The image-level branch: average pool, 1x1 convolution, bilinear upsampling to the feature map's size."""
  if options.crop_size:
    pool_crop = options.image_pooling_crop_size or options.crop_size
    pool = [scale_dimension(n, 1.0 / options.output_stride) for n in pool_crop]
    net = layers.avg_pool2d(features, pool, options.image_pooling_stride, padding='VALID')
    size = [scale_dimension(n, 1.0 / options.output_stride) for n in options.crop_size]
  else:
    net = tf.reduce_mean(features, axis=[1, 2], keepdims=True)
    static = checks.static_shape(features)[1:3]
    size = static if None not in static else tf.shape(features)[1:3]
  if options.aspp_with_squeeze_and_excitation:  # a gate: sigmoid, no batch norm (so the convolution has biases)
    gating = q_sigmoid if options.image_se_uses_qsigmoid else tf.nn.sigmoid
    net = layers.conv2d(net, depth, 1, activation_fn=gating, normalizer_fn=None, scope=IMAGE_POOLING_SCOPE)
  else:
    net = layers.conv2d(net, depth, 1, scope=IMAGE_POOLING_SCOPE)
  net = resize_bilinear(net, size, net.dtype)
  net.set_shape([None, None, None, depth] if tf.is_tensor(size) else [None, *[None if tf.is_tensor(n) else n
                                                                               for n in size], depth])
  return net


def refine_by_decoder(features: tf.Tensor, end_points: Mapping[str, tf.Tensor], crop_size=None,
                      decoder_output_stride: Optional[Sequence[int]] = None, decoder_use_separable_conv: bool = False,
                      decoder_use_sum_merge: bool = False, decoder_filters: int = 256,
                      decoder_output_is_logits: bool = False, model_variant: Optional[str] = None,
                      weight_decay: float = 0.0001, reuse=None, is_training: bool = False,
                      fine_tune_batch_norm: bool = False, use_bounded_activation: bool = False,
                      sync_batch_norm_method: str = 'None', *, images: Optional[tf.Tensor] = None) -> tf.Tensor:
  """The DeepLab v3+ decoder, with DeepLab's signature and defaults: at each stride of `decoder_output_stride`,
  the backbone's low-level feature projected to 48 channels, concatenated with the upsampled features and refined
  by two 3x3 convolutions (separable with `decoder_use_separable_conv`).

  A second stage's scopes take the suffix '_1' (one stage keeps DeepLab's original names). The sizes follow
  `crop_size`, or (keyword only, this project's) `images` (static, else dynamic) when it is None.

  With `decoder_use_sum_merge` the projection has `decoder_filters` channels and is added to one convolution of
  the upsampled features ('decoder_split_sep_conv0' separable, else 'decoder_conv0'). With
  `decoder_output_is_logits` every convolution is a linear 1x1 one with biases (not separable): the output are
  logits of `decoder_filters` classes.

  Raises:
    ValueError: without `decoder_output_stride`, `model_variant` or a size, and for the options not built here
      yet (`use_bounded_activation`, a `sync_batch_norm_method` other than 'None').
  """
  for name, value, default in (('use_bounded_activation', use_bounded_activation, False),
                               ('sync_batch_norm_method', sync_batch_norm_method, 'None')):
    if value != default:
      raise ValueError(f'refine_by_decoder: {name}={value!r} is not built by slimnets yet (only {default!r})')
  if not decoder_output_stride or model_variant is None:
    raise ValueError('refine_by_decoder: pass decoder_output_stride (e.g. [4]) and the model_variant whose '
                     f'end points these are, got {decoder_output_stride!r} and {model_variant!r}')
  if crop_size is None:
    if images is None:
      raise ValueError('refine_by_decoder: crop_size must be provided when using decoder (or, this project\'s '
                       'keyword, the images)')
    static = checks.static_shape(images)[1:3]
    crop_size = static if None not in static else tf.unstack(tf.shape(images)[1:3])
  conv, norm = _head_scope(weight_decay, reuse, is_training if fine_tune_batch_norm else False)
  kernel, linear = 3, {}
  if decoder_output_is_logits:  # DeepLab's MobileNet v3 heads: the decoder's linear 1x1 convolutions are the logits
    kernel, linear, decoder_use_separable_conv = 1, {'activation_fn': None, 'normalizer_fn': None}, False
  projected_filters = decoder_filters if decoder_use_sum_merge else _PROJECTED_FILTERS
  with conv, norm, slim.arg_scope([layers.conv2d, layers.separable_conv2d], **linear), \
      tf.compat.v1.variable_scope(DECODER_SCOPE, DECODER_SCOPE, [features]):
    net = features
    for stage, stride in enumerate(decoder_output_stride):
      suffix = f'_{stage}' if stage else ''
      low = end_points[low_level_feature(end_points, model_variant, stride)]
      projected = layers.conv2d(low, projected_filters, 1, scope=f'feature_projection0{suffix}')
      size = [scale_dimension(n, 1.0 / stride) for n in crop_size]
      static = [None if tf.is_tensor(n) else n for n in size]
      parts = []
      for part in (net, projected):
        part = resize_bilinear(part, size, part.dtype)
        part.set_shape([None, *static, None])
        parts.append(part)
      if decoder_use_sum_merge:
        if decoder_use_separable_conv:
          net = split_separable_conv2d(parts[0], decoder_filters, rate=1, weight_decay=weight_decay,
                                       scope=f'decoder_split_sep_conv0{suffix}') + parts[1]
        else:
          net = layers.conv2d(parts[0], decoder_filters, kernel, scope=f'decoder_conv0{suffix}') + parts[1]
        continue
      net = tf.concat(parts, 3)
      if decoder_use_separable_conv:
        net = split_separable_conv2d(net, decoder_filters, rate=1, weight_decay=weight_decay,
                                     scope=f'decoder_conv0{suffix}')
        net = split_separable_conv2d(net, decoder_filters, rate=1, weight_decay=weight_decay,
                                     scope=f'decoder_conv1{suffix}')
      else:
        net = slim.repeat(net, 2, layers.conv2d, decoder_filters, 3, scope=f'decoder_conv0{suffix}')
  return net


def low_level_feature(end_points: Mapping[str, tf.Tensor], model_variant: str, stride: int) -> str:
  """The key of the backbone end point the decoder takes at `stride` (declared by the registry entry; found
  under another scope too, as `<scope>/<the rest of its name>`)."""
  name = nets_factory.get_spec(model_variant).decoder_end_point(stride)
  if name in end_points:
    return name
  rest = name.partition('/')[2]
  found = [key for key in end_points if rest and key.endswith('/' + rest)]
  if len(found) != 1:
    raise ValueError(f'the backbone\'s end points hold no {name!r} (the decoder\'s low-level feature)')
  return found[0]


def get_branch_logits(features: tf.Tensor, num_classes: int, atrous_rates: Optional[Sequence[int]] = None,
                      aspp_with_batch_norm: bool = False, kernel_size: int = 1, weight_decay: float = 0.0001,
                      reuse=None, scope_suffix: str = '') -> tf.Tensor:
  """The logits 'logits/<scope_suffix>': a convolution with biases (one per atrous rate, summed, without ASPP)."""
  if aspp_with_batch_norm or atrous_rates is None:
    if kernel_size != 1:
      raise ValueError(f'get_branch_logits: kernel_size must be 1 with ASPP or without atrous_rates, got '
                       f'{kernel_size}')
    atrous_rates = [1]
  with slim.arg_scope([layers.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay),
                      weights_initializer=tf.compat.v1.truncated_normal_initializer(stddev=0.01), reuse=reuse):
    with tf.compat.v1.variable_scope(LOGITS_SCOPE_NAME, LOGITS_SCOPE_NAME, [features]):
      branches = [layers.conv2d(features, num_classes, kernel_size=kernel_size, rate=rate, activation_fn=None,
                                normalizer_fn=None, scope=scope_suffix + (f'_{i}' if i else ''))
                  for i, rate in enumerate(atrous_rates)]
      return tf.add_n(branches)


def logits_and_end_points(images: tf.Tensor, model_options: ModelOptions, weight_decay: float = 0.0001,
                          reuse=None, is_training: bool = False, fine_tune_batch_norm: bool = False
                          ) -> Tuple[Dict[str, tf.Tensor], Dict[str, tf.Tensor]]:
  """The logits of each output at the images' own scale, and the model's end points.

  Returns:
    ({output: logits at the decoder's (or backbone's) stride}, end points): the backbone's end points, then
    'backbone' (its output), 'aspp' (the ASPP output, when built), 'decoder' (when built) and
    'logits/<output>' for each output.
  """
  model_options = model_options.checked()
  features, backbone, end_points = _features_and_aspp(images, model_options, weight_decay, reuse, is_training,
                                                      fine_tune_batch_norm)
  end_points = dict(end_points)
  end_points['backbone'] = backbone
  if model_options.aspp_with_batch_norm:
    end_points[ASPP_SCOPE] = features
  if model_options.decoder_output_stride is not None:
    features = refine_by_decoder(features, end_points, crop_size=model_options.crop_size,
                                 decoder_output_stride=model_options.decoder_output_stride,
                                 decoder_use_separable_conv=model_options.decoder_use_separable_conv,
                                 decoder_use_sum_merge=model_options.decoder_use_sum_merge,
                                 decoder_output_is_logits=model_options.decoder_output_is_logits,
                                 decoder_filters=model_options.decoder_filters,
                                 model_variant=model_options.model_variant, weight_decay=weight_decay, reuse=reuse,
                                 is_training=is_training, fine_tune_batch_norm=fine_tune_batch_norm, images=images)
    end_points[DECODER_SCOPE] = features
  logits = {}
  for output, classes in sorted(model_options.outputs_to_num_classes.items()):
    if model_options.decoder_output_is_logits:
      logits[output] = end_points[f'{LOGITS_SCOPE_NAME}/{output}'] = tf.identity(features, name=output)
      continue
    logits[output] = get_branch_logits(features, classes, model_options.atrous_rates,
                                       aspp_with_batch_norm=model_options.aspp_with_batch_norm,
                                       kernel_size=model_options.logits_kernel_size, weight_decay=weight_decay,
                                       reuse=reuse, scope_suffix=output)
    end_points[f'{LOGITS_SCOPE_NAME}/{output}'] = logits[output]
  return logits, end_points


def _get_logits(images: tf.Tensor, model_options: ModelOptions, weight_decay: float = 0.0001, reuse=None,
                is_training: bool = False, fine_tune_batch_norm: bool = False,
                nas_training_hyper_parameters=None) -> Dict[str, tf.Tensor]:
  """DeepLab's `model._get_logits`: {output: logits} at the images' own scale (`logits_and_end_points`'s first
  half). `nas_training_hyper_parameters` is for DeepLab's NAS backbones, none of which is built here."""
  del nas_training_hyper_parameters
  return logits_and_end_points(images, model_options, weight_decay, reuse, is_training, fine_tune_batch_norm)[0]


_resize_bilinear = resize_bilinear  # DeepLab's name


def multi_scale_logits(images: tf.Tensor, model_options: ModelOptions,
                       image_pyramid: Optional[Sequence[float]] = None, weight_decay: float = 0.0001,
                       is_training: bool = False, fine_tune_batch_norm: bool = False
                       ) -> Dict[str, Dict[str, tf.Tensor]]:
  """The logits of each output at each scale of `image_pyramid`, all resized to the largest scale's logits size.

  Args:
    images: `[batch, height, width, channels]` in [0, 255] (see `ModelOptions.preprocess_images`).
    model_options: the model.
    image_pyramid: scales to run the network at (default (1.0,)); one variable set is shared by all.
    weight_decay: L2 weight of the convolution kernels.
    is_training: training mode (dropout; batch norm only with `fine_tune_batch_norm`).
    fine_tune_batch_norm: train batch norm too (batch statistics and moving-average updates).

  Returns:
    {output: {'merged_logits': [batch, h', w', classes], 'logits_<scale>': ... (with several scales)}}, h' being
    `scale_dimension(height, max(1, max scale) / stride)` at the decoder's (or the backbone's) output stride.

  Raises:
    ValueError: for bad images or scales, before anything is built.
  """
  caller = 'multi_scale_logits'
  model_options = model_options.checked()
  checks.check_images(images, caller)
  pyramid = tuple(image_pyramid or (1.0,))
  if not all(isinstance(s, (int, float)) and not isinstance(s, bool) and s > 0 for s in pyramid):
    raise ValueError(f'{caller}: image_pyramid must hold scales > 0, got {image_pyramid!r}')
  static = checks.static_shape(images)[1:3]
  crop_size = model_options.crop_size
  if crop_size and any(n is not None and n != c for n, c in zip(static, crop_size)):
    raise ValueError(f'{caller}: crop_size {crop_size} is not the images\' size '
                     f'{"x".join(str(n) for n in static)}; pass crop_size=None to take it from the images')
  crop = model_options.crop_size or [n if n is not None else tf.shape(images)[1 + i] for i, n in enumerate(static)]
  stride = min(model_options.decoder_output_stride) if model_options.decoder_output_stride else (
      model_options.output_stride)
  logits_size = [scale_dimension(n, max(1.0, max(pyramid)) / stride) for n in crop]
  results = {output: {} for output in model_options.outputs_to_num_classes}
  with layers.BUILD_LOCK:
    for i, scale in enumerate(pyramid):
      options, scaled = model_options, images
      if scale != 1.0:
        size = [scale_dimension(n, scale) for n in crop]
        scaled = resize_bilinear(images, size, images.dtype)
        if model_options.crop_size:
          scaled.set_shape([None, *size, images.shape[-1]])
          pool = model_options.image_pooling_crop_size
          options = model_options._replace(
              crop_size=size, image_pooling_crop_size=pool and [scale_dimension(n, scale) for n in pool])
      with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True if i else None):
        logits, _ = logits_and_end_points(scaled, options, weight_decay, True if i else None, is_training,
                                          fine_tune_batch_norm)
      for output in sorted(logits):
        logits[output] = resize_bilinear(logits[output], logits_size, logits[output].dtype)
        if len(pyramid) == 1:
          results[output][MERGED_LOGITS_SCOPE] = logits[output]
        else:
          results[output][f'logits_{scale:.2f}'] = logits[output]
  if len(pyramid) > 1:
    merge = tf.reduce_max if model_options.merge_method == 'max' else tf.reduce_mean
    for output, by_scale in results.items():
      by_scale[MERGED_LOGITS_SCOPE] = merge(tf.stack(list(by_scale.values()), axis=4), axis=4)
  return results


def _refuse_eager(caller: str) -> None:
  if tf.executing_eagerly():
    raise RuntimeError(f'deeplab.{caller} builds a new network in a graph (to restore a checkpoint into); in eager '
                       'code it would predict with fresh random weights. Eagerly, use a model that keeps its '
                       'weights: slimnets.models.Segmenter(model_options), restored, then .predict(images)')


def predict_labels(images: tf.Tensor, model_options: ModelOptions,
                   image_pyramid: Optional[Sequence[float]] = None) -> Dict[str, tf.Tensor]:
  """Per-pixel labels `[batch, height, width]` (int64) of each output and their probabilities '<output>_prob':
  the merged logits of `multi_scale_logits`, upsampled to the image size, in inference mode.

  Graph code only: it builds the network (new variables, to restore from a checkpoint); in eager code it would
  build a fresh, randomly initialised network each call, so there it raises RuntimeError pointing to
  `slimnets.models.Segmenter(model_options).predict(images)`."""
  _refuse_eager('predict_labels')
  model_options = model_options.checked()
  outputs = multi_scale_logits(images, model_options, image_pyramid=image_pyramid, is_training=False)
  predictions = {}
  for output, by_scale in sorted(outputs.items()):
    logits = by_scale[MERGED_LOGITS_SCOPE]
    if model_options.prediction_with_upsampled_logits:
      logits = resize_bilinear(logits, tf.shape(images)[1:3], logits.dtype)
      predictions[output] = tf.argmax(logits, 3)
      predictions[output + '_prob'] = tf.nn.softmax(logits)
    else:  # DeepLab's other way: the labels of the logits' grid, resized by nearest neighbour
      labels = tf.argmax(logits, 3)
      predictions[output] = tf.squeeze(tf.compat.v1.image.resize_nearest_neighbor(
          labels[..., None], tf.shape(images)[1:3], align_corners=True), 3)
      predictions[output + '_prob'] = resize_bilinear(tf.nn.softmax(logits), tf.shape(images)[1:3], logits.dtype)
  return predictions


def predict_labels_multi_scale(images: tf.Tensor, model_options: ModelOptions, eval_scales: Sequence[float] = (1.0,),
                               add_flipped_images: bool = False) -> Dict[str, tf.Tensor]:
  """Per-pixel labels and '<output>_prob' as `predict_labels`, from the softmax of the upsampled logits averaged
  over `eval_scales` and, with `add_flipped_images`, over the left-right flipped images too. Graph code only, as
  `predict_labels`."""
  _refuse_eager('predict_labels_multi_scale')
  probabilities = {output: [] for output in model_options.outputs_to_num_classes}
  size = tf.shape(images)[1:3]
  for i, scale in enumerate(eval_scales):
    for flipped in ((False, True) if add_flipped_images else (False,)):
      inputs = tf.reverse(images, [2]) if flipped else images
      with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True if i or flipped else None):
        outputs = multi_scale_logits(inputs, model_options, image_pyramid=[scale], is_training=False)
      for output, by_scale in outputs.items():
        logits = by_scale[MERGED_LOGITS_SCOPE]
        logits = tf.reverse(logits, [2]) if flipped else logits
        probabilities[output].append(tf.nn.softmax(resize_bilinear(logits, size, logits.dtype)))
  predictions = {}
  for output, values in sorted(probabilities.items()):
    mean = tf.add_n(values) / len(values)
    predictions[output] = tf.argmax(mean, 3)
    predictions[output + '_prob'] = mean
  return predictions
