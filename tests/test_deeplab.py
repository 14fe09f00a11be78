"""DeepLab v3 / v3+ (`nets.deeplab`): DeepLab's own builds exactly (tests/data/deeplab), checkpoints by name, scales.

The manifest was made by running research/deeplab's `model.multi_scale_logits` on TF 2.21 (training mode, 321x321,
21 classes) for three configurations; the builds here must give the same variables (names, shapes, trainable,
order), update ops, regularization losses and logits shape.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from nets import deeplab
from tests.conftest import run
from tests.conftest import run_in_fresh_python
from utils import checkpoints

_MANIFEST = os.path.join(os.path.dirname(__file__), 'data', 'deeplab', 'deeplab_models.json')
_BUILDS = json.load(open(_MANIFEST))['builds']


def _options(build, **changes):
  return deeplab.ModelOptions({'semantic': 21}, **{'crop_size': (321, 321), **_BUILDS[build]['model_options'],
                                                   **changes})


@pytest.mark.parametrize('build', sorted(_BUILDS))
def test_build_matches_deeplab(graph, build):
  expected = _BUILDS[build]
  images = tf.compat.v1.placeholder(tf.float32, expected['input_shape'])
  outputs = deeplab.multi_scale_logits(images, _options(build), is_training=True, fine_tune_batch_norm=True)
  assert list(outputs) == ['semantic'] and list(outputs['semantic']) == ['merged_logits']
  assert outputs['semantic']['merged_logits'].shape.as_list() == expected['logits_shape']
  trainable = set(tf.compat.v1.trainable_variables())
  assert [[v.op.name, v.shape.as_list(), v in trainable] for v in tf.compat.v1.global_variables()] == (
      expected['variables'])
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == expected['update_ops']
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)) == expected['regularization_losses']


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
    ({'model_variant': 'inception_v3'}, "model_variant must be one of mobilenet_v2, resnet_v1_50, "),
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
    deeplab.ModelOptions({'semantic': 21}, **changes)
  assert message in str(error.value)


@pytest.mark.eager
def test_tf2_segmenter_trains_with_deeplabs_names_and_its_checkpoint_runs_in_a_graph(tmp_path):
  from utils import segmentation  # pylint: disable=import-outside-toplevel
  from utils import tf2  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 3}, atrous_rates=(1, 2), output_stride=16,
                                 model_variant='mobilenet_v2', depth_multiplier=0.25)
  tf.random.set_seed(0)
  segmenter = tf2.Segmenter(options).build()
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
mine = sorted(name for name in sys.modules if name.split('.')[0] in ('nets', 'utils', 'tf_slim'))
print(json.dumps({'logits': outputs['logits'].numpy().tolist(), 'labels': outputs['labels'].numpy().tolist(),
                  'project_modules': mine}))
'''


@pytest.mark.eager
def test_exported_segmenter_serves_per_pixel_logits_and_labels_in_a_fresh_process(tmp_path):
  from utils import export  # pylint: disable=import-outside-toplevel
  from utils import inference  # pylint: disable=import-outside-toplevel
  from utils import tf2  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 4}, atrous_rates=(1, 2), output_stride=8, model_variant='mobilenet_v2',
                                 depth_multiplier=0.25)
  segmenter = tf2.Segmenter(options).build()
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
  with pytest.raises(ValueError, match='a Segmenter exports its logits and labels, not feature levels'):
    export.export_saved_model(segmenter, str(tmp_path / 'other'), levels=['C5'])
