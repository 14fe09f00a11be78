"""DeepLab v3 / v3+ (`nets.deeplab`): DeepLab's own builds exactly (tests/data/deeplab), checkpoints by name, scales.

The manifest was made by running research/deeplab's `model.multi_scale_logits` on TF 2.21 (training mode, 321x321,
21 classes) for three configurations; the builds here must give the same variables (names, shapes, trainable,
order), update ops, regularization losses and logits shape.
"""

import copy
import inspect
import json
import os
import pickle

import numpy as np
import pytest
import tensorflow as tf

from nets import deeplab
from tests.conftest import run
from tests.conftest import run_in_fresh_python
from slimnets.weights import checkpoints

_MANIFEST = os.path.join(os.path.dirname(__file__), 'data', 'deeplab', 'deeplab_models.json')
_BUILDS = json.load(open(_MANIFEST))['builds']


def _options(build, **changes):
  return deeplab.ModelOptions({'semantic': 21}, **{'crop_size': (321, 321), **_BUILDS[build]['model_options'],
                                                   **changes})


def _assert_matches_the_manifest(graph, outputs, expected):
  """The logits shape, variables (names, shapes, trainable, order), update ops and regularizers of DeepLab's build."""
  assert outputs['semantic']['merged_logits'].shape.as_list() == expected['logits_shape']
  trainable = set(tf.compat.v1.trainable_variables())
  assert [[v.op.name, v.shape.as_list(), v in trainable] for v in tf.compat.v1.global_variables()] == (
      expected['variables'])
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == expected['update_ops']
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)) == expected['regularization_losses']


_MANIFEST_V3 = json.load(open(os.path.join(os.path.dirname(__file__), 'data', 'deeplab', 'deeplab_models_v3.json')))
_V3_BUILDS = [(group, name) for group in ('builds', 'inference_builds') for name in _MANIFEST_V3[group]]


@pytest.mark.parametrize('group,build', _V3_BUILDS)
def test_model_zoo_heads_match_deeplab(graph, group, build):
  """DeepLab's newer model.py (tests/data/deeplab/deeplab_models_v3.json): the MobileNet v3 Cityscapes models
  (squeeze-and-excitation image pooling, the sum-merge decoder whose output are the logits), xception_71 with the
  dense prediction cell, xception_65 for ADE20K; training ('builds') and inference."""
  expected = _MANIFEST_V3[group][build]
  training = group == 'builds'
  images = tf.compat.v1.placeholder(tf.float32, expected['input_shape'])
  options = deeplab.ModelOptions({'semantic': expected['logits_shape'][-1]}, crop_size=expected['input_shape'][1:3],
                                 **expected['model_options'])
  outputs = deeplab.multi_scale_logits(images, options, is_training=training, fine_tune_batch_norm=training)
  _assert_matches_the_manifest(graph, outputs, expected)


@pytest.mark.parametrize('qsigmoid', [False, True])
def test_squeeze_excitation_gates_aspp_and_the_sum_merge_decoder_outputs_the_logits(graph, qsigmoid):
  options = deeplab.ModelOptions({'semantic': 3}, output_stride=16, model_variant='mobilenet_v2', depth_multiplier=0.25,
                                 decoder_output_stride=(8,), aspp_convs_filters=8, aspp_with_concat_projection=False,
                                 aspp_with_squeeze_and_excitation=True, image_se_uses_qsigmoid=qsigmoid,
                                 decoder_use_sum_merge=True, decoder_filters=3, decoder_output_is_logits=True)
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  logits, end_points = deeplab.logits_and_end_points(images, options)
  variables = {v.op.name: v for v in tf.compat.v1.global_variables()}
  assert not [name for name in variables if name.startswith('logits/')]  # the decoder's output are the logits
  # The image-level branch alone: its 1x1 convolution zeroed, the gate is its activation of 0 everywhere.
  zeroed = [variables[name].assign(tf.zeros_like(variables[name])) for name in (
      'image_pooling/weights', 'image_pooling/biases', 'decoder/decoder_conv0/weights', 'decoder/decoder_conv0/biases')]
  aspp0 = graph.get_tensor_by_name('aspp0/Relu:0')
  projection = graph.get_tensor_by_name('decoder/feature_projection0/BiasAdd:0')
  feed = {images: np.random.RandomState(5).uniform(0, 255, [1, 65, 65, 3]).astype(np.float32)}
  with tf.compat.v1.Session() as session:
    session.run(tf.compat.v1.global_variables_initializer())
    session.run(zeroed)
    gated, ungated, out, projected = session.run([end_points['aspp'], aspp0, logits['semantic'], projection], feed)
  gate = np.float32(0.16667 * 3.0) if qsigmoid else np.float32(0.5)  # relu6(0 + 3) * 0.16667, or sigmoid(0)
  np.testing.assert_allclose(gated, ungated * gate, rtol=1e-6)
  assert out.shape == (1, 9, 9, 3) and np.abs(out).max() > 0
  # decoder_conv0 of the upsampled ASPP output zeroed: the logits are the low-level projection (at its stride)
  np.testing.assert_allclose(out, projected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('build', sorted(_BUILDS))
def test_build_matches_deeplab(graph, build):
  expected = _BUILDS[build]
  images = tf.compat.v1.placeholder(tf.float32, expected['input_shape'])
  outputs = deeplab.multi_scale_logits(images, _options(build), is_training=True, fine_tune_batch_norm=True)
  assert list(outputs) == ['semantic'] and list(outputs['semantic']) == ['merged_logits']
  _assert_matches_the_manifest(graph, outputs, expected)


def test_inference_builds_no_updates_and_fine_tuning_off_keeps_batch_norm_frozen(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 65, 65, 3])
  with pytest.raises(ValueError, match=r'multi_scale_logits: crop_size \(321, 321\) is not the images\' size 65x65'):
    deeplab.multi_scale_logits(images, _options('deeplab_v3_plus_mobilenet_v2'))
  assert len(graph.get_operations()) == 1  # the placeholder
  deeplab.multi_scale_logits(images, _options('deeplab_v3_plus_mobilenet_v2', crop_size=(65, 65)), is_training=True)
  assert not graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)  # is_training without fine_tune_batch_norm


def test_a_checkpoint_with_deeplabs_names_restores_and_runs(tmp_path):
  expected = _BUILDS['deeplab_v3_plus_mobilenet_v2']
  rng = np.random.RandomState(0)
  values = {}
  for name, shape, _ in expected['variables']:
    low = 0.5 if name.endswith(('moving_variance', 'gamma')) else -0.1
    values[name] = rng.uniform(low, low + 0.2 if low < 0 else low + 1.0, shape).astype(np.float32)
  path = checkpoints.write(values, str(tmp_path / 'deeplab.ckpt'))
  feed = rng.uniform(0, 255, [2, 65, 65, 3]).astype(np.float32)
  outputs = []
  for _ in range(2):
    with tf.Graph().as_default() as graph:
      images = tf.compat.v1.placeholder(tf.float32, [None, 65, 65, 3])
      options = deeplab.ModelOptions({'semantic': 21}, output_stride=8, model_variant='mobilenet_v2')
      logits = deeplab.multi_scale_logits(images, options)['semantic']['merged_logits']
      report = checkpoints.restore(path, allow_missing=False)
      assert len(report.restored) == len(expected['variables']) and not report.unused
      outputs.append(run(graph, [logits, tf.compat.v1.global_variables()[-1]], {images: feed}))
  logits, biases = outputs[0]
  assert logits.shape == (2, 9, 9, 21) and np.isfinite(logits).all() and logits.std() > 0
  np.testing.assert_array_equal(biases, values['logits/semantic/biases'])
  np.testing.assert_array_equal(outputs[1][0], logits)


def test_unknown_image_sizes_give_logits_of_the_fed_size(graph):
  images = tf.compat.v1.placeholder(tf.float32, [None, None, None, 3])
  options = deeplab.ModelOptions({'semantic': 5}, atrous_rates=(1, 2, 3), output_stride=16,
                                 model_variant='xception_65', decoder_output_stride=(4,))
  logits = deeplab.multi_scale_logits(images, options)['semantic']['merged_logits']
  assert logits.shape.as_list() == [None, None, None, 5]
  sizes = [run(graph, tf.shape(logits), {images: np.zeros([1, h, w, 3], np.float32)}).tolist()
           for h, w in ((65, 65), (49, 57))]
  assert sizes == [[1, 17, 17, 5], [1, 13, 15, 5]]  # (n - 1) / 4 + 1


def test_multi_scale_logits_are_merged_by_max_and_predictions_are_argmax(graph):
  images = tf.compat.v1.placeholder(tf.float32, [2, 33, 33, 3])
  options = deeplab.ModelOptions({'semantic': 4}, crop_size=(33, 33), output_stride=16, model_variant='mobilenet_v2',
                                 depth_multiplier=0.25)
  scales = deeplab.multi_scale_logits(images, options, image_pyramid=(0.5, 1.0))['semantic']
  assert list(scales) == ['logits_0.50', 'logits_1.00', 'merged_logits']
  assert scales['logits_0.50'].shape.as_list() == [2, 3, 3, 4]
  with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
    predictions = deeplab.predict_labels_multi_scale(images, options, eval_scales=(1.0,), add_flipped_images=True)
  variables = len(tf.compat.v1.global_variables())
  feed = {images: np.random.RandomState(1).uniform(0, 255, [2, 33, 33, 3]).astype(np.float32)}
  half, whole, merged, labels, probabilities = run(
      graph, [scales['logits_0.50'], scales['logits_1.00'], scales['merged_logits'], predictions['semantic'],
              predictions['semantic_prob']], feed)
  np.testing.assert_array_equal(merged, np.maximum(half, whole))
  assert labels.shape == (2, 33, 33) and probabilities.shape == (2, 33, 33, 4)
  np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, rtol=1e-5)
  np.testing.assert_array_equal(labels, probabilities.argmax(axis=-1))
  assert len(tf.compat.v1.global_variables()) == variables  # the flipped and scaled runs share the variables


@pytest.mark.parametrize('changes, message', [
    ({'model_variant': 'inception_v3'}, 'model_variant must be one of resnet_v1_50, resnet_v1_101, resnet_v1_50_beta, '
                                        'resnet_v1_101_beta, mobilenet_v2, xception_41, xception_65, xception_71, '
                                        'mobilenet_v3_large_seg, mobilenet_v3_small_seg, got'),
    ({'model_variant': 'xception_65', 'output_stride': 12},
     'output_stride must be one of [2, 4, 8, 16, 32] for xception_65, got 12'),
    ({'model_variant': 'xception_65', 'output_stride': 16, 'decoder_output_stride': (2,)},
     'xception_65 has no DeepLab decoder feature at stride 2; it has one at strides [4, 8, 16]'),
    ({'model_variant': 'resnet_v1_50_beta', 'output_stride': 8, 'decoder_output_stride': (8,)},
     'decoder_output_stride 8 must be below output_stride 8'),
    ({'multi_grid': (1, 2, 4)}, 'mobilenet_v2 has no multi_grid option'),
    ({'merge_method': 'mean'}, "merge_method must be one of ('max', 'avg'), got 'mean'"),
    ({'atrous_rates': (6, 0)}, 'atrous_rates must be None or a sequence of positive ints, got (6, 0)'),
    ({'crop_size': (0, 5)}, 'crop_size must be a positive int or a pair of positive ints, got (0, 5)'),
])
def test_bad_model_options_name_the_option(changes, message):
  with pytest.raises(ValueError) as error:
    deeplab.ModelOptions({'semantic': 21}, **changes).checked()
  assert message in str(error.value)


@pytest.mark.once
def test_model_options_are_deeplabs_namedtuple():
  options = deeplab.ModelOptions({'semantic': 21}, (513, 513), [6, 12, 18], 16, tf.bfloat16,
                                 model_variant='xception_65')
  assert options._fields[:6] == ('outputs_to_num_classes', 'crop_size', 'atrous_rates', 'output_stride',
                                 'preprocessed_images_dtype', 'merge_method')
  assert len(options._fields) == 33 and options._fields[-1] == 'preprocess_images'  # DeepLab's 32, then ours
  assert (options[1], options[3], options[4], options.model_variant) == ((513, 513), 16, tf.bfloat16, 'xception_65')
  assert options._asdict()['decoder_use_separable_conv'] is True  # DeepLab's flag default
  assert options._asdict()['image_pooling_stride'] == (1, 1) and options.batch_norm_decay == 0.9997
  assert options.nas_architecture_options == {'nas_stem_output_num_conv_filters': 20,
                                              'nas_use_classification_head': False, 'nas_remove_os32_stride': False}
  assert copy.deepcopy(options) == options and pickle.loads(pickle.dumps(options)) == options
  assert type(options._replace(output_stride=8)) is deeplab.ModelOptions
  with pytest.raises(ValueError, match='unexpected field names'):
    options._replace(no_such_field=1)
  with pytest.raises(TypeError, match='ModelOptions got unexpected keyword arguments no_such_field; its fields are'):
    deeplab.ModelOptions({'semantic': 21}, no_such_field=1)
  again = deeplab.ModelOptions(**json.loads(json.dumps(options.as_json())))
  assert again.checked() == options.checked() and again.checked().preprocessed_images_dtype == tf.bfloat16
  checked = options.checked()
  assert (checked.crop_size, checked.atrous_rates) == ((513, 513), (6, 12, 18))


@pytest.mark.once
def test_a_deeplab_program_ports_with_one_import_change():
  """`from nets import deeplab_common as common, deeplab as model`: common's flags and constants, and
  `common.ModelOptions` made from the parsed flags as DeepLab's train.py makes it."""
  from absl.testing import flagsaver  # pylint: disable=import-outside-toplevel
  from nets import deeplab_common as common  # pylint: disable=import-outside-toplevel
  if not common.FLAGS.is_parsed():
    common.FLAGS(['train.py'])
  with flagsaver.flagsaver(model_variant='xception_65', decoder_output_stride=['4'], image_pooling_stride=['2', '3'],
                           aspp_with_squeeze_and_excitation=False):
    options = common.ModelOptions({common.OUTPUT_TYPE: 21}, [513, 513], [6, 12, 18], 16)
    assert isinstance(options, deeplab.ModelOptions) and options.model_variant == 'xception_65'
    assert (options.decoder_output_stride, options.image_pooling_stride, options.label_weights) == ([4], [2, 3], 1.0)
    assert options.checked().decoder_output_stride == (4,) and copy.deepcopy(options) == options
    assert common.ModelOptions({'semantic': 3}, model_variant='mobilenet_v2').model_variant == 'mobilenet_v2'
  with flagsaver.flagsaver(decoder_output_stride=['4', '8']):
    with pytest.raises(ValueError, match=r'--decoder_output_stride must be in descending order, got \[4, 8\]'):
      common.ModelOptions({'semantic': 3})
  assert (common.LABELS_CLASS, common.IMAGE, common.ORIGINAL_IMAGE, common.TEST_SET) == (
      'labels_class', 'image', 'original_image', 'test')


@pytest.mark.once
def test_model_options_are_checked_when_a_model_is_built_as_deeplabs(graph):
  """DeepLab's model_test.testWrongDeepLabVariant: options of no outputs and an unknown variant are made; the
  build raises ValueError (here before any op)."""
  options = deeplab.ModelOptions({})._replace(model_variant='no_such_variant')
  with pytest.raises(ValueError, match="model_variant must be one of .*, got 'no_such_variant'"):
    deeplab._get_logits(images=[], model_options=options)  # pylint: disable=protected-access
  with pytest.raises(ValueError, match='outputs_to_num_classes must map output names to positive class counts'):
    deeplab._get_logits(images=[], model_options=deeplab.ModelOptions({}))  # pylint: disable=protected-access
  assert not graph.get_operations()


@pytest.mark.once
@pytest.mark.parametrize('field, value', [('use_bounded_activation', True), ('label_weights', [1, 2]),
                                          ('sync_batch_norm_method', 'tpu'), ('batch_norm_decay', 0.99)])
def test_deeplab_options_not_built_yet_are_refused_not_ignored(field, value):
  with pytest.raises(ValueError, match=f'ModelOptions: {field}=.* is not built by slimnets yet'):
    deeplab.ModelOptions({'semantic': 3}, **{field: value}).checked()


@pytest.mark.once
def test_refine_by_decoder_has_deeplabs_signature_and_defaults():
  parameters = inspect.signature(deeplab.refine_by_decoder).parameters
  deeplabs = ['features', 'end_points', 'crop_size', 'decoder_output_stride', 'decoder_use_separable_conv',
              'decoder_use_sum_merge', 'decoder_filters', 'decoder_output_is_logits', 'model_variant', 'weight_decay',
              'reuse', 'is_training', 'fine_tune_batch_norm', 'use_bounded_activation', 'sync_batch_norm_method']
  assert list(parameters)[:len(deeplabs)] == deeplabs
  assert [parameters[name].default for name in deeplabs[2:]] == [None, None, False, False, 256, False, None, 0.0001,
                                                                 None, False, False, False, 'None']
  assert deeplab._resize_bilinear is deeplab.resize_bilinear  # pylint: disable=protected-access


def test_labels_from_logits_upsampled_or_labels_upsampled_as_deeplab_predicts(graph):
  images = tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3])
  options = deeplab.ModelOptions({'semantic': 4}, output_stride=16, model_variant='mobilenet_v2', depth_multiplier=0.25,
                                 prediction_with_upsampled_logits=False)
  coarse = deeplab.predict_labels(images, options)
  with tf.compat.v1.variable_scope(tf.compat.v1.get_variable_scope(), reuse=True):
    logits = deeplab.multi_scale_logits(images, options)['semantic']['merged_logits']
    fine = deeplab.predict_labels(images, options._replace(prediction_with_upsampled_logits=True))
  feed = {images: np.random.RandomState(3).uniform(0, 255, [1, 33, 33, 3]).astype(np.float32)}
  labels, probabilities, grid, upsampled = run(graph, [coarse['semantic'], coarse['semantic_prob'], logits,
                                                       fine['semantic']], feed)
  assert labels.shape == upsampled.shape == (1, 33, 33) and probabilities.shape == (1, 33, 33, 4)
  # nearest neighbour with aligned corners from the 3x3 grid, halves rounded up: pixels 0..7 -> 0, 8..23 -> 1,
  # 24..32 -> 2
  rows = np.floor(np.arange(33) * 2 / 32 + 0.5).astype(int)
  np.testing.assert_array_equal(labels[0], grid[0].argmax(-1)[rows][:, rows])


@pytest.mark.eager
def test_predict_at_an_eval_crop_pools_the_image_level_feature_over_deeplabs_windows(tmp_path):
  """DeepLab's eval.py builds its model with crop_size=eval_crop_size: with image_pooling_crop_size (its MobileNet v3
  Cityscapes models) the image-level branch pools windows of the crop, not the whole map. A model of no crop size
  predicting at an eval crop computes what the same model with that crop size computes."""
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, atrous_rates=(1, 2), output_stride=16, model_variant='mobilenet_v2',
                                 depth_multiplier=0.25, image_pooling_crop_size=(33, 33), image_pooling_stride=(1, 1))
  tf.random.set_seed(0)
  anywhere = models.Segmenter(options).build(65)
  for name, variable in anywhere.variables_by_name.items():  # batch norm statistics of a trained model's kind
    if name.endswith(('/moving_mean', '/beta')):
      variable.assign(np.random.RandomState(len(name)).uniform(-0.5, 0.5, variable.shape))
  cropped = models.Segmenter(options._replace(crop_size=(65, 65)))
  cropped.restore(anywhere.save(str(tmp_path / 'model.ckpt')), allow_missing=False)
  images = tf.constant(np.random.RandomState(0).uniform(0, 255, [2, 65, 65, 3]).astype(np.float32))
  windows = cropped(images)[0]  # 3x3 windows of stride 1 on the 5x5 map at stride 16
  assert np.abs(anywhere(images)[0] - windows).max() > 1e-3  # global pooling computes something else
  for scales in ((1.0,), (0.75, 1.0)):
    np.testing.assert_array_equal(anywhere.predict(images, scales, crop_size=(65, 65)), cropped.predict(images, scales))
  with pytest.raises(ValueError, match=r"^predict: crop_size \(65, 65\) is not the images' size 33x33 \(pad them"):
    anywhere.predict(images[:, :33, :33], crop_size=(65, 65))


@pytest.mark.eager
def test_tf2_segmenter_trains_with_deeplabs_names_and_its_checkpoint_runs_in_a_graph(tmp_path):
  from slimnets import segmentation  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, atrous_rates=(1, 2), output_stride=16,
                                 model_variant='mobilenet_v2', depth_multiplier=0.25)
  tf.random.set_seed(0)
  segmenter = models.Segmenter(options).build()
  with tf.Graph().as_default():
    deeplab.multi_scale_logits(tf.compat.v1.placeholder(tf.float32, [1, 33, 33, 3]), options)
    graph_names = [v.op.name for v in tf.compat.v1.global_variables()]
  assert list(segmenter.variables_by_name) == graph_names
  rng = np.random.RandomState(0)
  images = rng.uniform(0, 255, [2, 33, 33, 3]).astype(np.float32)
  labels = np.zeros([2, 33, 33], np.int32)  # a bright right half is class 1, its bottom in image 2 class 2
  labels[:, :, 17:] = 1
  labels[1, 20:, 17:] = 2
  images[:, :, 17:, 0] = 250.0
  labels[:, :3] = 255  # unlabelled rows
  trainable = [v for v in segmenter.variables_by_name.values() if v.trainable]
  mean = segmenter.variables_by_name['MobilenetV2/Conv/BatchNorm/moving_mean']
  before = mean.numpy().copy()
  optimizer = tf.keras.optimizers.Adam(0.01)

  @tf.function
  def step():
    with tf.GradientTape() as tape:
      logits, _ = segmenter(images, training=True)
      loss = segmentation.softmax_cross_entropy(logits, labels, 3)
      total = loss + segmenter.regularization_loss()
    optimizer.apply_gradients(zip(tape.gradient(total, trainable), trainable))
    return loss

  losses = [float(step()) for _ in range(10)]
  assert losses[-1] < 0.3 * losses[0], losses
  assert np.abs(mean.numpy() - before).max() > 0  # fine_tune_batch_norm: the moving averages moved
  eager, _ = segmenter(images, training=False)
  assert eager.shape == (2, 3, 3, 3)

  path = segmenter.save(str(tmp_path / 'segmenter.ckpt'))
  with tf.Graph().as_default() as graph:
    placeholder = tf.compat.v1.placeholder(tf.float32, [2, 33, 33, 3])
    logits = deeplab.multi_scale_logits(placeholder, options)['semantic']['merged_logits']
    checkpoints.restore(path, allow_missing=False)
    np.testing.assert_allclose(run(graph, logits, {placeholder: images}), eager.numpy(), rtol=1e-4, atol=1e-4)


_LOAD = '''
import json, sys
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
images = np.random.RandomState(5).uniform(0, 255, [2, 37, 41, 3]).astype(np.float32)
outputs = serve(images=tf.constant(images))
mine = sorted(name for name in sys.modules if name.split('.')[0] in ('nets', 'slimnets', 'tf_slim'))
print(json.dumps({'logits': outputs['logits'].numpy().tolist(), 'labels': outputs['labels'].numpy().tolist(),
                  'project_modules': mine}))
'''


@pytest.mark.eager
def test_exported_segmenter_serves_per_pixel_logits_and_labels_in_a_fresh_process(tmp_path):
  from slimnets.deploy import export  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import inference  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import serving  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 4}, atrous_rates=(1, 2), output_stride=8, model_variant='mobilenet_v2',
                                 depth_multiplier=0.25)
  segmenter = models.Segmenter(options).build()
  inference.randomize_batch_norm(segmenter, seed=4)
  path = export.export_saved_model(segmenter, str(tmp_path / 'served'))
  served = run_in_fresh_python(_LOAD, path, cwd=str(tmp_path))
  assert served['project_modules'] == []
  images = np.random.RandomState(5).uniform(0, 255, [2, 37, 41, 3]).astype(np.float32)
  logits, _ = segmenter(images)  # unfolded batch norm, eager
  want = deeplab.resize_bilinear(logits, [37, 41]).numpy()
  assert np.array(served['logits']).shape == (2, 37, 41, 4)
  np.testing.assert_allclose(np.array(served['logits']), want, rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(np.array(served['labels']), np.array(served['logits']).argmax(-1))
  # bfloat16 (batch norm folded, computed in bfloat16, float32 in and out): within 5% of the logits' range.
  half = export.export_saved_model(segmenter, str(tmp_path / 'bfloat16'), precision='bfloat16')
  found = tf.saved_model.load(half).signatures['serving_default'](images=tf.constant(images))['logits'].numpy()
  assert found.dtype == np.float32 and serving.max_relative_error(found, want) < 0.05
  with pytest.raises(ValueError, match='a Segmenter exports its logits and labels, not feature levels'):
    export.export_saved_model(segmenter, str(tmp_path / 'other'), levels=['C5'])


def _static_conv_flops(graph):
  """2 x multiply-adds of every convolution from its static shapes (batch 1; space-to-batch phases included)."""
  total = 0
  for op in graph.get_operations():
    if op.type in ('Conv2D', 'DepthwiseConv2dNative'):
      kernel_h, kernel_w, channels, _ = op.inputs[1].shape.as_list()
      per_output = kernel_h * kernel_w * (channels if op.type == 'Conv2D' else 1)
      total += 2 * int(np.prod(op.outputs[0].shape.as_list())) * per_output
  return total


@pytest.mark.parametrize('build', sorted(_BUILDS))
def test_describe_counts_deeplabs_parameters_and_flops(build):
  from slimnets.analysis import describe  # pylint: disable=import-outside-toplevel
  from slimnets.analysis import dry_build  # pylint: disable=import-outside-toplevel
  options = _options(build)
  found = describe.describe_segmenter(options, 321)
  trainable = sum(int(np.prod(shape)) for _, shape, is_trainable in _BUILDS[build]['variables'] if is_trainable)
  assert found['parameters'] == trainable
  assert found['flops'] == _static_conv_flops(dry_build.build_segmenter(options, (321, 321)).graph)
  assert found['warnings'] == []  # 321 = 20 * 16 + 1 = 40 * 8 + 1: everything aligned
  assert found['stages'][-1]['shape'] == [1, 321, 321, 21]
  assert found['logits_stride'] == 320 // (_BUILDS[build]['logits_shape'][1] - 1)  # 4, 16 and 8


def test_describe_deeplab_v3_on_resnet_v1_50_beta_by_hand():
  from slimnets.analysis import describe  # pylint: disable=import-outside-toplevel
  found = describe.describe_segmenter(_options('deeplab_v3_resnet_v1_50_beta'), 321)
  # Root: three 3x3 convs (the first strided) and a 3x3/2 pool: 3, 7, 11, 15 at stride 4. Each 3x3 conv at
  # stride j and rate d adds 2*d*j: block1 3 units at 4 (15 + 24 = 39), block2 4 at 8 (103), block3 6 at 16 (295),
  # block4 at 16 with rates 2 * (1, 2, 4) (295 + 448 = 743). ASPP's rate-18 branch adds 2*18*16 = 576: 1319.
  # The 21 -> 321 upsampling interpolates between pixels 16 apart: 1319 + 16.
  rows = {row['stage']: row for row in found['stages']}
  assert [row['stage'] for row in found['stages']] == ['backbone', 'aspp', 'logits', 'upsampled logits']
  assert rows['backbone']['end_point'] == 'resnet_v1_50/block4'
  assert [(rows[s]['shape'], rows[s]['stride'], rows[s]['receptive_field'], rows[s]['image_level']) for s in rows] == [
      ([1, 21, 21, 2048], [16, 16], [743, 743], False),
      ([1, 21, 21, 256], [16, 16], [1319, 1319], True),
      ([1, 21, 21, 21], [16, 16], [1319, 1319], True),
      ([1, 321, 321, 21], [1, 1], [1335, 1335], True)]
  assert (found['model'], found['logits_stride'], found['receptive_field']) == ('deeplab_v3', 16, [1335, 1335])
  assert (found['multi_grid'], found['atrous_rates'], found['image_pooling']) == ([1, 2, 4], [6, 12, 18], True)


def test_describe_deeplab_v3_plus_warns_when_the_decoder_joins_misaligned_maps():
  from slimnets.analysis import describe  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, atrous_rates=(2,), output_stride=16, model_variant='mobilenet_v2',
                                 decoder_output_stride=(4,), depth_multiplier=0.25)
  aligned = describe.describe_segmenter(options, 65)
  assert aligned['warnings'] == [] and aligned['logits_stride'] == 4
  rows = {row['stage']: row for row in aligned['stages']}
  assert rows['decoder feature (stride 4)']['end_point'] == 'layer_4/depthwise_output'
  assert (rows['decoder']['shape'], rows['decoder']['stride']) == ([1, 17, 17, 256], [4, 4])
  # 64: features 4x4 upsampled to 16x16 move by 16 * 3/15 = 3.2 pixels, the stride-4 feature by 4.
  found = describe.describe_segmenter(options, 64)
  rows = {row['stage']: row for row in found['stages']}
  assert rows['aspp']['stride'] == [16, 16] and rows['decoder']['stride'] is None
  assert rows['upsampled logits']['receptive_field'] is None and found['logits_stride'] is None
  assert found['warnings'][0].startswith("'decoder' depends on the input through ConcatV2 op 'decoder/concat': "
                                         'cannot join maps of size 16 and 16, stride 3.2 and 4')
  assert found['warnings'][1] == (
      "input 64x64 is not of the form k*16+1, so DeepLab's aligned-corner resizes do not map pixel centres onto "
      'pixel centres and the logits are not aligned with the image; aligned sizes nearby: 49x49, 49x65, 65x49, '
      '65x65')
  assert found['flops'] < aligned['flops']
  text = describe.format_segmenter_text(found)
  assert text.splitlines()[0] == ('deeplab_v3+ on mobilenet_v2: input 64x64x3, output stride 16, atrous rates 2, '
                                  'decoder stride 4, 3 classes (semantic)')
  assert '+ image: each pixel also sees the image pooling branch' in text


def test_describe_segmenter_arguments_are_checked():
  from slimnets.analysis import describe  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match=r"input_size \(65, 65\) is not the model options' crop_size \(321, 321\)"):
    describe.describe_segmenter(_options('deeplab_v3_plus_mobilenet_v2'), 65)
  with pytest.raises(ValueError, match='model_options must be a deeplab.ModelOptions, got str'):
    describe.describe_segmenter('xception_65')


def test_cli_describe_deeplab(capsys):
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  argv = ['describe', 'mobilenet_v2', '--deeplab', '--atrous-rates', '6,12,18', '--decoder-output-stride', '4',
          '--input-size', '129']
  assert cli.main(argv + ['--json']) == 0
  found = json.loads(capsys.readouterr().out)
  assert (found['model'], found['output_stride'], found['outputs'], found['logits_stride']) == (
      'deeplab_v3+', 16, {'semantic': 21}, 4)  # DeepLab's defaults: output stride 16, 21 classes
  assert [(row['end_point'], row['shape']) for row in found['stages']] == [
      ('layer_18', [1, 9, 9, 320]), ('layer_4/depthwise_output', [1, 33, 33, 144]), ('aspp', [1, 9, 9, 256]),
      ('decoder', [1, 33, 33, 256]), ('logits/semantic', [1, 33, 33, 21]),
      ('logits at the input size', [1, 129, 129, 21])]
  assert cli.main(argv + ['--no-image-pooling', '--num-classes', '5']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == ('deeplab_v3+ on mobilenet_v2: input 129x129x3, output stride 16, atrous rates 6,12,18, '
                      'decoder stride 4, no image pooling, 5 classes (semantic)')
  assert lines[2].split()[:2] == ['stage', 'end'] and '+ image' not in '\n'.join(lines)


@pytest.mark.parametrize('argv, message', [
    (['describe', 'vgg_16', '--deeplab'],
     "--deeplab: vgg_16 is not one of DeepLab's model variants (resnet_v1_50, resnet_v1_101, resnet_v1_50_beta, "
     'resnet_v1_101_beta, mobilenet_v2, xception_41, xception_65, xception_71, mobilenet_v3_large_seg, '
     'mobilenet_v3_small_seg)'),
    (['describe', 'xception_65', '--atrous-rates', '6,12,18'], '--atrous-rates is for --deeplab segmenters'),
    (['describe', 'xception_65', '--deeplab', '--decoder-output-stride', '16'],
     '--decoder-output-stride 16 must be below the output stride 16'),
    (['describe', 'xception_65', '--deeplab', '--decoder-output-stride', '2'],
     'xception_65 has no DeepLab decoder feature at stride 2; it has one at strides [4, 8, 16]'),
    (['describe', 'mobilenet_v2', '--deeplab', '--num-classes', '0'],
     '--deeplab: --num-classes must be a positive number of classes, got 0'),
    (['export', '--network', 'mobilenet_v2', '--deeplab', '--features', 'C5', '--output', 'unused'],
     '--features is for backbones: a --deeplab segmenter exports its logits and labels'),
])
def test_cli_deeplab_usage_errors(capsys, argv, message):
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  with pytest.raises(SystemExit) as exit_info:
    cli.main(argv)
  assert exit_info.value.code == 2
  assert capsys.readouterr().err == f'slimnets {argv[0]}: error: {message} (see --help)\n'


@pytest.mark.eager
def test_cli_export_of_a_deeplab_checkpoint_serves_its_logits_and_labels(tmp_path, capsys):
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import inference  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 5}, output_stride=16, model_variant='mobilenet_v2',
                                 decoder_output_stride=(4,))
  segmenter = models.Segmenter(options).build()
  inference.randomize_batch_norm(segmenter, seed=8)
  checkpoint = segmenter.save(str(tmp_path / 'deeplab.ckpt'))
  output = tmp_path / 'served'
  assert cli.main(['export', '--network', 'mobilenet_v2', '--deeplab', '--decoder-output-stride', '4',
                   '--num-classes', '5', '--checkpoint', checkpoint, '--output', str(output)]) == 0
  captured = capsys.readouterr()
  assert captured.out.strip() == (
      f'wrote {output}: serving_default(images: float32 [batch, height, width, 3]) -> logits, labels')
  assert f'restored {len(segmenter.variables_by_name)} variables from {checkpoint}' in captured.err
  serve = tf.saved_model.load(str(output)).signatures['serving_default']
  images = np.random.RandomState(9).uniform(0, 255, [2, 49, 45, 3]).astype(np.float32)
  served = serve(images=tf.constant(images))
  logits, _ = segmenter(images)
  np.testing.assert_allclose(served['logits'].numpy(), deeplab.resize_bilinear(logits, [49, 45]).numpy(),
                             rtol=1e-4, atol=1e-4)
  np.testing.assert_array_equal(served['labels'].numpy(), served['logits'].numpy().argmax(-1))


def test_graph_mode_training_as_deeplabs_train_py(graph):
  import tf_slim as slim  # pylint: disable=import-outside-toplevel
  from slimnets import segmentation  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(6)
  blocks = rng.uniform(0, 255, [4, 5, 5, 3]).astype(np.float32)
  images = np.repeat(np.repeat(blocks, 8, axis=1), 8, axis=2)[:, :33, :33]  # 8x8 blocks of one colour
  labels = (images[..., 0] > 128).astype(np.int32) + (images[..., 1] > 128)  # each block's class from its colour
  labels[:, :4] = 255  # unlabelled rows
  options = deeplab.ModelOptions({'semantic': 3}, crop_size=(33, 33), atrous_rates=(1,), output_stride=16,
                                 model_variant='mobilenet_v2', depth_multiplier=0.25, decoder_output_stride=(4,))
  outputs = deeplab.multi_scale_logits(tf.constant(images), options, image_pyramid=(1.0, 0.5), is_training=True,
                                       fine_tune_batch_norm=True)
  losses = segmentation.add_softmax_cross_entropy_loss_for_each_scale(outputs['semantic'], tf.constant(labels), 3)
  assert [loss.op.name.split('/')[0] for loss in losses] == ['loss_logits_1.00', 'loss_logits_0.50', 'loss_merged_logits']
  assert graph.get_collection(tf.compat.v1.GraphKeys.LOSSES) == losses
  total = tf.compat.v1.losses.get_total_loss()  # the three losses and the weight decay
  global_step = tf.compat.v1.train.get_or_create_global_step()
  learning_rate = segmentation.poly_learning_rate(global_step, 0.05, 20)
  train_op = slim.learning.create_train_op(total, tf.compat.v1.train.MomentumOptimizer(learning_rate, 0.9),
                                           global_step=global_step)  # with the batch norm updates of UPDATE_OPS
  moving_mean = next(v for v in tf.compat.v1.global_variables() if v.op.name == 'MobilenetV2/Conv/BatchNorm/moving_mean')
  with tf.compat.v1.Session(graph=graph) as session:
    session.run(tf.compat.v1.global_variables_initializer())
    first = session.run(losses[-1])
    for _ in range(20):
      session.run(train_op)
    last, step, mean = session.run([losses[-1], global_step, moving_mean])
  assert step == 20 and np.abs(mean).max() > 0
  assert last < 0.7 * first, (first, last)


_THIN_V3_PLUS = dict(atrous_rates=(6, 12, 18), output_stride=16, model_variant='mobilenet_v2',
                     decoder_output_stride=(4,), depth_multiplier=0.25, aspp_convs_filters=16, decoder_filters=16)
_THIN_FLAGS = ['--network', 'mobilenet_v2', '--deeplab', '--atrous-rates', '6,12,18', '--depth-multiplier', '0.25',
               '--aspp-convs-filters', '16', '--decoder-filters', '16', '--num-classes', '3']


@pytest.mark.eager
def test_a_v3_plus_checkpoint_is_refused_by_a_v3_model_in_the_library_and_the_cli(tmp_path, capsys):
  from slimnets.weights import checkpoints  # pylint: disable=import-outside-toplevel
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, **_THIN_V3_PLUS)
  segmenter = models.Segmenter(options).build()
  checkpoint = segmenter.save(str(tmp_path / 'v3plus.ckpt'))
  decoder = sorted(name for name in segmenter.variables_by_name if name.startswith('decoder/'))
  assert len(decoder) == 25  # 5 layers: a kernel and batch norm's 4 variables each
  v3 = models.Segmenter(options._replace(decoder_output_stride=None))
  with pytest.raises(checkpoints.RestoreError, match=(
      r"holds 25 variables under the model's scopes that the model does not build \(decoder/decoder_conv0_depthwise: "
      r'5 variables, decoder/decoder_conv0_pointwise: 5 variables, decoder/decoder_conv1_depthwise: 5 variables, '
      r'decoder/decoder_conv1_pointwise: 5 variables, decoder/feature_projection0: 5 variables\)')):
    v3.restore(checkpoint)
  assert v3.restore(checkpoint, allow_unused=True).unbuilt == decoder

  served = str(tmp_path / 'served')
  assert cli.main(['export', *_THIN_FLAGS, '--checkpoint', checkpoint, '--output', served]) == 1
  assert capsys.readouterr().err.endswith(
      "decoder/feature_projection0: 5 variables): the model is built with other options than the checkpoint was "
      'trained with (a DeepLab decoder_output_stride, atrous rates or image pooling?). Give the options the '
      'checkpoint was trained with (with --deeplab: --decoder-output-stride, --atrous-rates, --no-image-pooling), '
      'or pass --allow-unused to leave them out\n')
  assert not os.path.exists(served)
  assert cli.main(['export', *_THIN_FLAGS, '--checkpoint', checkpoint, '--output', served, '--allow-unused']) == 0
  assert ('slimnets: --allow-unused: left out 25 variables of the checkpoint that the model does not build '
          '(decoder/decoder_conv0_depthwise: 5 variables,') in capsys.readouterr().err
  assert cli.main(['export', *_THIN_FLAGS, '--checkpoint', checkpoint, '--output', str(tmp_path / 'plus'),
                   '--decoder-output-stride', '4']) == 0
  assert capsys.readouterr().err.splitlines()[-1] == (
      f'restored {len(segmenter.variables_by_name)} variables from {checkpoint}')


@pytest.mark.eager
def test_an_imagenet_backbone_checkpoint_starts_a_segmenter_leaving_out_its_head(tmp_path):
  from slimnets import models  # pylint: disable=import-outside-toplevel
  imagenet = models.Backbone('mobilenet_v2', 1001).build(33)
  checkpoint = imagenet.save(str(tmp_path / 'mobilenet_v2.ckpt'))
  segmenter = models.Segmenter(deeplab.ModelOptions({'semantic': 3}, output_stride=16, model_variant='mobilenet_v2'))
  report = segmenter.restore(checkpoint)
  assert report.head == ['MobilenetV2/Logits/Conv2d_1c_1x1/biases', 'MobilenetV2/Logits/Conv2d_1c_1x1/weights']
  # DeepLab builds MobileNet v2 up to layer_18: the last 1x1 convolution is unused, not an error
  assert not report.unbuilt and sorted(set(report.unused) - set(report.head)) == [
      'MobilenetV2/Conv_1/BatchNorm/beta', 'MobilenetV2/Conv_1/BatchNorm/gamma',
      'MobilenetV2/Conv_1/BatchNorm/moving_mean', 'MobilenetV2/Conv_1/BatchNorm/moving_variance',
      'MobilenetV2/Conv_1/weights']
  assert all(name.split('/')[0] != 'MobilenetV2' for name in report.missing)


@pytest.mark.eager
def test_cli_benchmark_and_extract_take_a_deeplab_segmenter(tmp_path, capsys):
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import inference  # pylint: disable=import-outside-toplevel
  from slimnets import models  # pylint: disable=import-outside-toplevel
  segmenter = models.Segmenter(deeplab.ModelOptions({'semantic': 3}, **_THIN_V3_PLUS)).build()
  inference.randomize_batch_norm(segmenter, seed=2)
  checkpoint = segmenter.save(str(tmp_path / 'v3plus.ckpt'))
  model = [*_THIN_FLAGS, '--decoder-output-stride', '4', '--checkpoint', checkpoint, '--input-size', '33,41']
  assert cli.main(['benchmark', *model, '--runs', '2', '--warmup', '0', '--json']) == 0
  result = json.loads(capsys.readouterr().out)
  assert result['network'] == 'mobilenet_v2' and result['input_size'] == [33, 41] and result['images_per_second'] > 0
  folder = tmp_path / 'images'
  folder.mkdir()
  pixels = np.random.RandomState(3).randint(0, 256, [2, 33, 41, 3]).astype(np.uint8)
  for i, image in enumerate(pixels):
    tf.io.write_file(str(folder / f'{i}.png'), tf.io.encode_png(image))
  output = tmp_path / 'labels.npz'
  assert cli.main(['extract', *model, '--images', str(folder), '--output', str(output), '--quiet']) == 0
  assert capsys.readouterr().out.strip() == f'extracted 2 images, skipped 0 unreadable, float32: {output}'
  with np.load(output) as arrays:
    assert sorted(arrays) == ['labels', 'paths'] and arrays['labels'].dtype == np.int32
    want = inference.Predictor(segmenter)(pixels)['labels']  # PNGs at the input size: nothing is resized
    np.testing.assert_array_equal(arrays['labels'], want)


def test_get_extra_layer_scopes_are_deeplabs_head_scopes():
  assert deeplab.get_extra_layer_scopes(True) == ['logits']
  assert deeplab.get_extra_layer_scopes() == ['logits', 'image_pooling', 'aspp', 'concat_projection', 'decoder',
                                              'meta_architecture']
  assert deeplab.META_ARCHITECTURE_SCOPE == 'meta_architecture'
