"""Inputs people have: uint8 pixels, float16 images, empty batches and axes, and what a Predictor is asked for."""

import numpy as np
import pytest
import tensorflow as tf

from nets import deeplab
from nets import layers
from slimnets.deploy import export
from slimnets.deploy import inference
from slimnets import models

pytestmark = pytest.mark.eager  # Backbone, Segmenter, Predictor and export run eagerly

THIN = {'depth_multiplier': 0.125}
_OPTIONS = deeplab.ModelOptions({'semantic': 3}, atrous_rates=(6, 12, 18), output_stride=16,
                                model_variant='mobilenet_v2', decoder_output_stride=(4,), depth_multiplier=0.25,
                                aspp_convs_filters=16, decoder_filters=16)
_MEANS = np.array([123.68, 116.78, 103.94], np.float32)


def _pixels(shape=(2, 33, 35, 3), seed=0):
  return np.random.RandomState(seed).randint(0, 256, shape).astype(np.uint8)


@pytest.mark.parametrize('network, normalized', [
    ('resnet_v2_50', lambda p: (p.astype(np.float32) / 255.0 - 0.5) * 2.0),  # inception preprocessing: [-1, 1]
    ('resnet_v1_50', lambda p: p.astype(np.float32) - _MEANS),  # vgg preprocessing: ImageNet means subtracted
])
def test_uint8_pixels_get_the_pixel_step_of_the_networks_preprocessing(network, normalized):
  backbone = models.Backbone(network, output_stride=16, global_pool=False, **THIN)
  pixels = _pixels()
  net, _ = backbone(pixels)
  assert net.dtype == tf.float32
  want = backbone(normalized(pixels))[0].numpy()
  np.testing.assert_allclose(net.numpy(), want, rtol=1e-4, atol=1e-5 * np.abs(want).max())
  predictor = inference.Predictor(backbone)
  want = predictor(normalized(pixels))['output']
  np.testing.assert_allclose(predictor(pixels)['output'], want, rtol=1e-4, atol=1e-5 * np.abs(want).max())


def test_a_segmenter_takes_uint8_pixels_and_gives_logits_of_its_images_dtype():
  segmenter = models.Segmenter(_OPTIONS).build()
  inference.randomize_batch_norm(segmenter)
  for name, variable in segmenter.variables_by_name.items():
    if name.startswith('logits/'):  # fresh logits are ~1e-3 here: float16 would hold little of them
      variable.assign(variable * 1000.0)
  pixels = _pixels()
  want, _ = segmenter(pixels.astype(np.float32))
  got, _ = segmenter(pixels)
  assert got.dtype == tf.float32 and got.shape == (2, 9, 9, 3)
  np.testing.assert_array_equal(got.numpy(), want.numpy())
  for dtype, tolerance in ((tf.float16, 0.01), (tf.bfloat16, 0.05)):  # as Backbone: the network runs in it
    logits, points = segmenter(tf.cast(pixels, dtype))
    assert logits.dtype == dtype and points['semantic'].dtype == dtype
    error = np.abs(tf.cast(logits, tf.float32).numpy() - want.numpy()).max() / np.abs(want.numpy()).max()
    assert 0 < error < tolerance, (dtype, error)
  assert models.Backbone('resnet_v1_50', **THIN)(tf.zeros([1, 33, 33, 3], tf.float16))[0].dtype == tf.float16


@pytest.mark.parametrize('model', ['backbone', 'segmenter'])
def test_the_saved_model_serves_uint8_pixels_too(tmp_path, model):
  if model == 'segmenter':
    network, normalized = models.Segmenter(_OPTIONS).build(), lambda p: p.astype(np.float32)
  else:
    network = models.Backbone('resnet_v2_50', output_stride=16, global_pool=False, **THIN).build()
    normalized = lambda p: (p.astype(np.float32) / 255.0 - 0.5) * 2.0
  inference.randomize_batch_norm(network)
  path = export.export_saved_model(network, str(tmp_path / 'served'))
  loaded = tf.saved_model.load(path)
  assert sorted(loaded.signatures) == ['serving_default', 'serving_uint8']
  pixels = _pixels((1, 37, 41, 3), seed=4)
  from_pixels = loaded.signatures['serving_uint8'](images=tf.constant(pixels))
  from_floats = loaded.signatures['serving_default'](images=tf.constant(normalized(pixels)))
  assert sorted(from_pixels) == sorted(from_floats)
  for key, value in from_floats.items():
    np.testing.assert_allclose(from_pixels[key].numpy(), value.numpy(), rtol=1e-4,
                               atol=1e-5 * np.abs(value.numpy()).max())


@pytest.mark.parametrize('shape, axes', [([0, 33, 33, 3], 'its batch axis is empty'),
                                         ([1, 0, 33, 3], 'its height axis is empty'),
                                         ([1, 33, 0, 3], 'its width axis is empty'),
                                         ([0, 0, 33, 3], 'its batch and height axes are empty')])
def test_empty_inputs_are_refused_naming_the_axis(shape, axes):
  backbone = models.Backbone('resnet_v1_50', **THIN)
  segmenter = models.Segmenter(_OPTIONS)
  for model, name in ((backbone, 'resnet_v1_50'), (segmenter, 'deeplab')):
    with pytest.raises(ValueError, match=rf'^{name}: inputs must hold at least one image of at least 1x1 pixels and '
                                         rf'one channel, got shape \({", ".join(map(str, shape))}\): {axes}$'):
      model(np.zeros(shape, np.float32))
    assert not model.variables_by_name  # refused before any variable
  with pytest.raises(ValueError, match=axes):
    inference.Predictor(backbone)(np.zeros(shape, np.float32))


def test_a_served_model_refuses_an_empty_batch_when_run(tmp_path):
  path = export.export_saved_model(models.Backbone('resnet_v1_50', **THIN), str(tmp_path / 'served'))
  serve = tf.saved_model.load(path).signatures['serving_default']
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'resnet_v1_50: images must hold at least one image of at '
                                                           r'least 1x1 pixels, got shape\] \[0 33 33 3\]'):
    serve(images=tf.zeros([0, 33, 33, 3]))
  assert serve(images=tf.zeros([1, 33, 33, 3]))['output'].shape == (1, 1, 1, 256)


def test_backbones_and_segmenters_are_network_modules_with_one_output_contract():
  backbone = models.Backbone('mobilenet_v1_025')
  segmenter = models.Segmenter(_OPTIONS._replace(crop_size=(65, 97)))
  assert not isinstance(segmenter, models.Backbone) and not hasattr(segmenter, 'feature_levels')
  assert isinstance(backbone, models.NetworkModule) and isinstance(segmenter, models.NetworkModule)
  assert (backbone.main_output, segmenter.main_output) == ('output', 'logits')
  assert (backbone.value_range, segmenter.value_range) == ((-1.0, 1.0), (0.0, 255.0))
  assert backbone.default_input_size() == (224, 224) and segmenter.default_input_size() == (65, 97)
  segmenter = models.Segmenter(_OPTIONS)
  assert segmenter.default_input_size() == (513, 513)  # DeepLab's default crop
  with pytest.raises(ValueError, match=r'^mobilenet_v1_025 has no feature level P3; it has C1, C2, C3, C4, C5$'):
    backbone.check_outputs(('C5', 'P3'))
  images = tf.zeros([1, 33, 41, 3])
  served = segmenter.serving_outputs(*segmenter(images), images)
  assert list(served) == ['logits', 'labels'] and served['logits'].shape == (1, 33, 41, 3)
  assert served['labels'].dtype == tf.int64
  served = backbone.serving_outputs(*backbone(images), images, levels=('C4',), pooled=True)
  assert {key: value.shape for key, value in served.items()} == {'output': (1, 1, 1, 256), 'C4': (1, 3, 3, 128),
                                                                  'pooled': (1, 256)}


def test_a_segmenter_predictor_refuses_feature_levels_when_made():
  segmenter = models.Segmenter(_OPTIONS)
  with pytest.raises(ValueError, match=r"^a Segmenter gives its logits and labels, not feature levels; got "
                                       r"levels=\['C5'\]$"):
    inference.Predictor(segmenter, levels=('C5',))
  with pytest.raises(ValueError, match=r'got levels=\[\], pooled=True'):
    inference.Predictor(segmenter, pooled=True)
  assert not segmenter.variables_by_name  # refused before building


def test_a_model_call_folds_batch_norm_or_overrides_the_moving_average_decay_when_asked():
  backbone = models.Backbone('mobilenet_v1_025').build()
  inference.randomize_batch_norm(backbone)
  images = tf.constant(np.random.RandomState(0).uniform(-1, 1, [2, 33, 33, 3]).astype(np.float32))
  np.testing.assert_allclose(backbone(images, fold_batch_norm=True)[0], backbone(images)[0], rtol=1e-4, atol=1e-5)
  spec = tf.TensorSpec([2, 33, 33, 3], tf.float32)
  op_types = lambda fold: {op.type for op in tf.function(lambda x: backbone(x, fold_batch_norm=fold)[0])
                           .get_concrete_function(spec).graph.get_operations()}
  assert 'FusedBatchNormV3' in op_types(False) and 'FusedBatchNormV3' not in op_types(True)
  with layers.batch_norm_folded_for_inference():  # a call that names no option takes the surrounding block's
    assert 'FusedBatchNormV3' not in op_types(None) and 'FusedBatchNormV3' in op_types(False)
  mean = backbone.variables_by_name['MobilenetV1/Conv2d_0/BatchNorm/moving_mean']
  mean.assign(tf.fill(mean.shape, 5.0))  # far from any batch mean of this layer (|relu6 input| of a few units)
  backbone(images, training=True, moving_average_decay=0.0)  # the batch's statistics replace the averages
  once = mean.numpy()
  backbone(images, training=True, moving_average_decay=0.0)
  np.testing.assert_allclose(mean.numpy(), once, rtol=1e-6)
  assert np.abs(once - 5.0).min() > 1.0
  backbone(-images, training=True)  # the network's own decay (0.9997) moves them a little towards this batch's
  assert 1e-6 < np.abs(mean.numpy() - once).max() < 0.01
