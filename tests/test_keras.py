"""slimnets.keras.Backbone: the networks as Keras 3 models (#32): every weight seen and trained by `fit`, frozen by
`trainable = False`, saved in `.keras` files, restored from TF-Slim checkpoints by name."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory
from nets import resnet_v1
from slimnets import keras as slimnets_keras
from slimnets.analysis import dry_build
from slimnets.analysis import features
from tests.conftest import randomize_variables

pytestmark = pytest.mark.eager

THIN = {'depth_multiplier': 0.125}  # resnet_v1_50 with its real names and 1/8 of its channels


def _data(count=8, size=33, classes=4):
  rng = np.random.RandomState(0)
  return rng.uniform(-1, 1, [count, size, size, 3]).astype(np.float32), rng.randint(0, classes, count)


def _compiled(model, rate=0.1):
  model.compile(optimizer=keras.optimizers.SGD(rate), jit_compile=False,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  return model


def _values(model):
  return {name: weight.numpy().copy() for name, weight in model.variables_by_name.items()}


def test_keras_sees_every_variable_of_the_network_under_its_tf_slim_name():
  model = slimnets_keras.Backbone('resnet_v1_50', 4, output_stride=16, **THIN)
  model.build((None, None, None, 3))
  expected = dry_build.build('resnet_v1_50', num_classes=4, output_stride=16, **THIN).variables
  assert list(model.variables_by_name) == list(expected)
  assert len(model.trainable_weights) == sum(trainable for _, trainable in expected.values())
  assert len(model.non_trainable_weights) == sum(not trainable for _, trainable in expected.values())
  assert {id(w) for w in model.weights} == {id(w) for w in model.variables_by_name.values()}
  assert {name: (tuple(w.shape), w.trainable) for name, w in model.variables_by_name.items()} == expected


def test_fit_trains_every_weight_and_updates_the_moving_averages_and_adds_the_weight_decay():
  model = _compiled(slimnets_keras.Backbone('resnet_v1_50', 4, **THIN))
  images, labels = _data()
  model(images[:1])
  assert len(model.losses) == 1 and float(model.losses[0]) > 0  # the arg scope's L2 weight decay
  before = _values(model)
  model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
  unchanged = [name for name, value in _values(model).items() if np.array_equal(value, before[name])]
  assert unchanged == []
  assert any(name.endswith('moving_mean') for name in before)


def test_a_frozen_model_changes_nothing_in_fit_not_even_its_batch_norm_statistics():
  model = slimnets_keras.Backbone('resnet_v1_50', 4, **THIN)
  images, labels = _data()
  model(images[:1])
  model.trainable = False
  assert model.trainable_weights == [] and len(model.non_trainable_weights) == len(model.variables_by_name)
  before = _values(model)
  _compiled(model).fit(images, labels, batch_size=4, epochs=1, verbose=0)
  assert all(np.array_equal(value, before[name]) for name, value in _values(model).items())


def test_keras_files_and_the_functional_api_round_trip(tmp_path):
  inputs = keras.Input((None, None, 3))
  backbone = slimnets_keras.Backbone('resnet_v1_50', output_stride=16, global_pool=False, name='backbone', **THIN)
  outputs = keras.layers.Conv2D(3, 1, name='head')(backbone(inputs))
  model = _compiled(keras.Model(inputs, outputs))
  images, _ = _data(count=4)
  assert model.predict(images, verbose=0).shape == (4, 3, 3, 3)  # 33x33 at output stride 16
  path = str(tmp_path / 'model.keras')
  model.save(path)
  loaded = keras.models.load_model(path)
  np.testing.assert_array_equal(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
  inner = loaded.get_layer('backbone')
  assert isinstance(inner, slimnets_keras.Backbone)
  assert inner.get_config() == {'network': 'resnet_v1_50', 'num_classes': None, 'in_channels': 3,
                                'weight_decay': None, 'name': 'backbone', 'output_stride': 16, 'global_pool': False,
                                **THIN}


def test_a_tf_slim_checkpoint_restores_by_name_and_gives_the_graph_networks_outputs(tmp_path):
  images, _ = _data(count=2)
  with tf.Graph().as_default():
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, _ = resnet_v1.resnet_v1_50(tf.constant(images), 5, is_training=False, **THIN)
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess)
      path = tf.compat.v1.train.Saver().save(sess, str(tmp_path / 'model.ckpt'))
      expected = sess.run(net)
  model = slimnets_keras.Backbone('resnet_v1_50', 5, **THIN)
  report = model.restore(path, allow_missing=False)
  assert len(report.restored) == len(model.variables_by_name)
  np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-5, atol=1e-5)
  saved = model.save_checkpoint(str(tmp_path / 'again'))
  again = slimnets_keras.Backbone('resnet_v1_50', 5, **THIN)
  again.restore(saved, allow_missing=False)
  np.testing.assert_array_equal(again.predict(images, verbose=0), model.predict(images, verbose=0))


@pytest.mark.parametrize('network, kwargs', [('resnet_v1_50', THIN), ('mobilenet_v2', {'depth_multiplier': 0.35})])
@pytest.mark.parametrize('output_stride', [8, 16, None])
def test_level_and_pyramid_outputs_are_at_the_strides_feature_info_reports(network, kwargs, output_stride):
  model = slimnets_keras.Backbone(network, output_stride=output_stride, **kwargs)
  declared = nets_factory.get_spec(network).levels
  info = model.feature_info
  assert info.module_name() == [level.end_point for level in declared]
  assert info.reduction() == [min(level.stride, output_stride or 32) for level in declared]
  assert info[0] == {'level': 'C1', 'module': declared[0].end_point, 'num_chs': info.channels()[0],
                     'reduction': 2}
  outputs = keras.Model(model.inputs, {**model.level_outputs, **model.pyramid_outputs}).predict(
      _data(count=2, size=65)[0], verbose=0)
  keys = {1: ['P1', 'P2', 'P3', 'P4', 'P5'], 16: ['P1', 'P2', 'P3', 'P4'], 8: ['P1', 'P2', 'P3']}
  assert sorted(model.pyramid_outputs) == keys[output_stride or 1]
  for level, channels, reduction in zip(declared, info.channels(), info.reduction()):
    assert outputs[level.name].shape == (2, -(-65 // reduction), -(-65 // reduction), channels)
  for key in model.pyramid_outputs:  # keras-hub's Pn: 2**n smaller than the images, the deepest such level
    size = -(-65 // 2 ** int(key[1:]))
    deepest = [level.name for level, reduction in zip(declared, info.reduction()) if reduction == 2 ** int(key[1:])]
    assert outputs[key].shape[1:3] == (size, size)
    np.testing.assert_array_equal(outputs[key], outputs[deepest[-1]])


def test_a_backbone_stopped_early_reports_the_levels_it_built():
  model = slimnets_keras.Backbone('mobilenet_v2', final_endpoint='layer_7', global_pool=False, depth_multiplier=0.35)
  assert sorted(model.level_outputs) == ['C1', 'C2', 'C3'] and sorted(model.pyramid_outputs) == ['P1', 'P2', 'P3']
  assert model.feature_info.reduction() == [2, 4, 8] and model.feature_info.channels() == [8, 8, 16]


# A network of each family and of each level layout: tests/test_registry.py checks every network's traced levels
# against its declaration; this checks that the Keras model gives those levels (deeper variants of a family, as
# resnet_v1_101..200, differ from resnet_v1_50 only in unit counts inside a level).
_LEVEL_LAYOUTS = ['inception_v3', 'resnet_v1_50', 'resnet_v2_50', 'resnet_v1_50_beta', 'mobilenet_v1_025',
                  'mobilenet_v2', 'mobilenet_v3_large', 'mobilenet_v3_small', 'mobilenet_edgetpu', 'xception_41',
                  'xception_71', 'vgg_16', 'alexnet_v2', 'overfeat', 'inception_v1', 'inception_v2',
                  'inception_resnet_v2', 'inception_v4', 'nasnet_mobile', 'pnasnet_mobile']


@pytest.mark.parametrize('network', _LEVEL_LAYOUTS)
def test_feature_info_and_pyramid_outputs_are_the_traced_levels_at_output_stride_8_16_and_32(network):
  spec = nets_factory.get_spec(network)
  thin = {'depth_multiplier': 0.25} if 'depth_multiplier' in spec.options else {}
  for output_stride in [stride for stride in (8, 16) if stride in spec.output_strides] + [None]:
    kwargs = {**thin, **({'output_stride': output_stride} if output_stride else {})}
    model = slimnets_keras.Backbone(network, **kwargs)
    traced = features.trace_levels(network, **kwargs)
    assert model.feature_info.levels == traced
    assert [level.name for level in traced] == [level.name for level in spec.levels]
    assert {level: tensor.shape[-1] for level, tensor in model.level_outputs.items()} == {
        level.name: level.channels for level in traced}
    deepest = {f'P{level.stride.bit_length() - 1}': level.name for level in traced}
    assert model.pyramid_outputs == {key: model.level_outputs[level] for key, level in deepest.items()}
    assert max(int(key[1:]) for key in deepest) == (output_stride or spec.nominal_stride).bit_length() - 1


def test_keras_hubs_deeplab_v3_plus_trains_on_a_slimnets_backbone_at_output_stride_16():
  import keras_hub  # pylint: disable=import-outside-toplevel
  keras.utils.set_random_seed(0)
  encoder = slimnets_keras.Backbone('resnet_v1_50', output_stride=16, **THIN)
  assert sorted(encoder.pyramid_outputs) == ['P1', 'P2', 'P3', 'P4']  # P4: block4, dilated to stride 16
  backbone = keras_hub.models.DeepLabV3Backbone(encoder, spatial_pyramid_pooling_key='P4', upsampling_size=4,
                                                dilation_rates=[6, 12, 18], low_level_feature_key='P2')
  model = keras_hub.models.DeepLabV3ImageSegmenter(backbone, num_classes=3)
  model.compile(optimizer=keras.optimizers.Adam(0.001), jit_compile=False,
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  rng = np.random.RandomState(0)
  labels = np.kron(rng.randint(0, 3, (4, 4, 4)), np.ones((16, 16), np.int32))[..., None]  # 16x16 patches
  images = (np.eye(3)[labels[..., 0]] + rng.normal(0, 0.2, (4, 64, 64, 3))).astype(np.float32)  # colour = class
  assert model.predict(images, verbose=0).shape == (4, 64, 64, 3)  # image-sized logits: ASPP saw stride 16
  before = _values(encoder)
  history = model.fit(images, labels, batch_size=4, epochs=5, verbose=0)
  losses = history.history['loss']
  assert losses[-1] < 0.85 * losses[0], losses
  assert [name for name, value in _values(encoder).items() if np.array_equal(value, before[name])] == []


# slimnets.keras.Segmenter: DeepLab in Keras, with its loss, metric and schedule.
TINY_DEEPLAB = dict(atrous_rates=(1, 2, 3), output_stride=16, model_variant='mobilenet_v2', depth_multiplier=0.25,
                    decoder_output_stride=(4,), aspp_convs_filters=16, decoder_filters=16)


def _scenes(count=4, size=33):
  images = np.random.RandomState(0).uniform(0, 255, [count, size, size, 3]).astype(np.float32)
  labels = (images[..., 0] > 127).astype(np.int32) + (images[..., 1] > 127)
  labels[:, 0] = 255  # a row without ground truth
  return images, labels


def _deeplab(**kwargs):
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  return slimnets_keras.Segmenter(deeplab.ModelOptions({'semantic': 3}, **TINY_DEEPLAB), **kwargs)


def _compiled_deeplab(model, steps=10):
  model.compile(optimizer=keras.optimizers.SGD(slimnets_keras.DeepLabLearningRate(0.05, steps), momentum=0.9),
                loss=slimnets_keras.DeepLabLoss(3), metrics=[slimnets_keras.MeanIoU(3)], jit_compile=False)
  return model


def test_the_keras_segmenter_has_deeplabs_variables_and_fit_trains_them(tmp_path):
  from slimnets import models  # pylint: disable=import-outside-toplevel
  model = _compiled_deeplab(_deeplab())
  graph_free = models.Segmenter(model.model_options).build()
  assert list(model.variables_by_name) == list(graph_free.variables_by_name)  # DeepLab's names and order
  assert len(model.trainable_weights) == sum(v.trainable for v in graph_free.variables_by_name.values())
  images, labels = _scenes()
  logits = model(images)
  assert logits.shape == (4, 33, 33, 3) and logits.dtype == tf.float32  # at the images' size
  assert len(model.losses) == 1 and float(model.losses[0]) > 0  # DeepLab's weight decay
  before = _values(model)
  history = model.fit(images, labels, batch_size=2, epochs=3, verbose=0).history
  assert history['loss'][-1] < history['loss'][0] and len(history['mean_iou']) == 3
  changed = {name for name, value in _values(model).items() if not np.array_equal(value, before[name])}
  backbone = [name for name in before if name.startswith('MobilenetV2/')]
  assert len(backbone) > 200 and set(backbone) <= changed  # every backbone weight and moving average moved
  assert {name for name in before if name.endswith(('weights', 'moving_mean', 'moving_variance'))} <= changed
  model.save(tmp_path / 'deeplab.keras')
  loaded = keras.models.load_model(tmp_path / 'deeplab.keras')
  assert type(loaded) is slimnets_keras.Segmenter and loaded.model_options == model.model_options
  np.testing.assert_array_equal(loaded(images).numpy(), model(images).numpy())


def test_the_keras_segmenter_restores_deeplab_checkpoints_by_name_and_saves_them(tmp_path):
  from slimnets import models  # pylint: disable=import-outside-toplevel
  model = _deeplab()
  trained = models.Segmenter(model.model_options).build()
  for i, variable in enumerate(trained.variables_by_name.values()):
    variable.assign(np.random.RandomState(i).uniform(0.5, 1.0, variable.shape).astype(np.float32))
  trained.save(str(tmp_path / 'trained'))
  report = model.restore(str(tmp_path / 'trained'))
  assert len(report.restored) == len(model.variables_by_name) and not report.missing
  images, _ = _scenes()
  _, outputs = trained(images)
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  expected = deeplab.resize_bilinear(outputs['semantic'], [33, 33], tf.float32).numpy()
  np.testing.assert_allclose(model(images).numpy(), expected, rtol=0, atol=1e-5 * np.abs(expected).max())
  np.testing.assert_array_equal(model.predict_labels(images).numpy(), trained.predict(images).numpy())
  model.save_checkpoint(str(tmp_path / 'again'))
  again = models.Segmenter(model.model_options).build()
  again.restore(str(tmp_path / 'again'))
  assert all(np.array_equal(v.numpy(), trained.variables_by_name[n].numpy())
             for n, v in again.variables_by_name.items())


def test_deeplab_loss_and_mean_iou_are_the_segmentation_functions_as_keras_objects():
  from slimnets import segmentation  # pylint: disable=import-outside-toplevel
  rng = np.random.RandomState(3)
  logits = rng.normal(size=[2, 9, 9, 3]).astype(np.float32)
  labels = rng.randint(0, 3, [2, 9, 9])
  labels[0, :4] = 255
  for fraction in (1.0, 0.25):
    loss = slimnets_keras.DeepLabLoss(3, top_k_percent_pixels=fraction)
    expected = float(segmentation.softmax_cross_entropy(logits, labels, 3, top_k_percent_pixels=fraction))
    assert float(loss(labels, logits)) == pytest.approx(expected, rel=1e-6)
    assert slimnets_keras.DeepLabLoss.from_config(loss.get_config()).top_k_percent_pixels == fraction
  with pytest.raises(ValueError, match='labels'):
    slimnets_keras.DeepLabLoss(3)(np.full([1, 9, 9], 7), logits[:1])  # 7 is neither a class nor ignored
  with pytest.raises(ValueError, match=r'top_k_percent_pixels must be in \(0, 1\], got 0'):
    slimnets_keras.DeepLabLoss(3, top_k_percent_pixels=0)
  metric, reference = slimnets_keras.MeanIoU(3), segmentation.MeanIoU(3)
  for batch in range(2):
    metric.update_state(labels[batch:batch + 1], logits[batch:batch + 1])
    reference.update(labels[batch:batch + 1], np.argmax(logits[batch:batch + 1], -1))
  assert float(metric.result()) == pytest.approx(float(reference.result()[0]), rel=1e-12)
  assert 0 < float(metric.result()) < 1
  metric.reset_state()
  assert float(metric.result()) == 0.0


def test_the_learning_rate_schedule_is_deeplabs():
  from slimnets import segmentation  # pylint: disable=import-outside-toplevel
  schedule = slimnets_keras.DeepLabLearningRate(0.007, 1000, slow_start_step=10, slow_start_learning_rate=1e-4)
  again = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
  for step in (0, 9, 10, 500, 1000, 2000):
    expected = float(segmentation.learning_rate(step, 0.007, 1000, slow_start_step=10))
    assert float(schedule(step)) == float(again(step)) == pytest.approx(expected)
  with pytest.raises(ValueError, match="learning_policy must be one of poly, step, got 'cosine'"):
    slimnets_keras.DeepLabLearningRate(0.007, 1000, learning_policy='cosine')


def test_the_keras_segmenter_refuses_several_outputs():
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  with pytest.raises(ValueError, match=r"a Keras segmenter has one output, .* has \['parts', 'semantic'\]"):
    slimnets_keras.Segmenter(deeplab.ModelOptions({'semantic': 3, 'parts': 5}, **TINY_DEEPLAB))


def test_a_keras_segmenter_of_a_crop_size_refuses_images_of_another_size():
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  model = slimnets_keras.Segmenter(deeplab.ModelOptions({'semantic': 3}, crop_size=(33, 33), **TINY_DEEPLAB))
  images, _ = _scenes(count=2, size=65)
  assert model.inputs[0].shape == (None, 33, 33, 3)
  assert model(images[:, :33, :33]).shape == (2, 33, 33, 3)
  with pytest.raises(ValueError, match=r"crop_size \(33, 33\) is not the images' size 65x65"):
    model.network_layer(tf.constant(images))
  unknown = tf.function(model.network_layer, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
  with pytest.raises(tf.errors.InvalidArgumentError, match=r'crop_size \(33, 33\) sizes the image pooling'):
    unknown(tf.constant(images))


def test_mixed_bfloat16_trains_in_bfloat16_with_float32_batch_norm_statistics():
  keras.mixed_precision.set_global_policy('mixed_bfloat16')
  try:
    model = _compiled_deeplab(_deeplab())
    images, labels = _scenes()
    before = _values(model)
    model.fit(images, labels, batch_size=2, epochs=1, verbose=0)
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(
        tf.TensorSpec([2, 33, 33, 3], tf.float32)).graph
  finally:
    keras.mixed_precision.set_global_policy('float32')
  convolutions = [op for op in graph.get_operations() if op.type in ('Conv2D', 'DepthwiseConv2dNative')]
  assert len(convolutions) > 50 and {op.get_attr('T') for op in convolutions} == {tf.bfloat16}
  assert {w.dtype for w in model.weights} == {'float32'}  # weights and statistics stay float32
  moving = [name for name in before if name.endswith('moving_mean')]
  assert moving and all(not np.array_equal(model.variables_by_name[n].numpy(), before[n]) for n in moving)
  assert model(images).dtype == tf.float32


def test_mixed_float16_trains_the_backbone_in_float16_through_keras_loss_scaling():
  keras.mixed_precision.set_global_policy('mixed_float16')
  try:
    model = _compiled(slimnets_keras.Backbone('resnet_v1_50', 4, **THIN))
    images, labels = _data(count=4)
    before = _values(model)
    model.fit(images, labels, batch_size=4, epochs=12, verbose=0)  # the first steps overflow the loss scale
    graph = tf.function(lambda x: model(x, training=True)).get_concrete_function(
        tf.TensorSpec([2, 33, 33, 3], tf.float32)).graph
  finally:
    keras.mixed_precision.set_global_policy('float32')
  assert type(model.optimizer).__name__ == 'LossScaleOptimizer'
  convolutions = [op for op in graph.get_operations() if op.type == 'Conv2D']
  assert len(convolutions) > 50 and {op.get_attr('T') for op in convolutions} == {tf.float16}
  assert {w.dtype for w in model.weights} == {'float32'}
  assert [name for name, value in _values(model).items() if np.array_equal(value, before[name])] == []


_INTERRUPTED_FIT = '''
import json, os, signal, sys
import numpy as np
import keras
from nets import deeplab
from slimnets import keras as slimnets_keras

folder, mode = sys.argv[1], sys.argv[2]
options = deeplab.ModelOptions({'semantic': 3}, **%r)
images = np.random.RandomState(0).uniform(0, 255, [4, 33, 33, 3]).astype(np.float32)
labels = (images[..., 0] > 127).astype(np.int32)
model = slimnets_keras.Segmenter(options)
model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss=slimnets_keras.DeepLabLoss(3))


def state(model):  # the weights, then the optimizer's step and momenta (once built)
  return [w.numpy() for w in model.weights] + [v.numpy() for v in model.optimizer.variables]


class Watch(keras.callbacks.Callback):
  def on_train_begin(self, logs=None):  # after BackupAndRestore's restore
    np.savez(os.path.join(folder, mode + '-begin.npz'), *state(self.model))

  def on_epoch_begin(self, epoch, logs=None):
    print('epoch', epoch, flush=True)

  def on_epoch_end(self, epoch, logs=None):
    if mode == 'killed' and epoch == 1:  # the backup of epoch 1 is written (it comes first); then the machine dies
      np.savez(os.path.join(folder, 'killed-end.npz'), *state(self.model))
      os.kill(os.getpid(), signal.SIGKILL)


backup = keras.callbacks.BackupAndRestore(os.path.join(folder, 'backup'))
model.fit(images, labels, batch_size=2, epochs=4, verbose=0, callbacks=[backup, Watch()])
print('done', flush=True)
''' % (TINY_DEEPLAB,)


def test_backup_and_restore_resumes_an_interrupted_fit_with_the_weights_of_its_last_epoch(tmp_path):
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  import os  # pylint: disable=import-outside-toplevel
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  runs = {}
  for mode in ('killed', 'resumed'):
    runs[mode] = subprocess.run([sys.executable, '-c', _INTERRUPTED_FIT, str(tmp_path), mode], capture_output=True,
                                text=True, cwd=root, timeout=600, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3'))
  assert runs['killed'].returncode == -9, runs['killed'].stderr[-3000:]  # SIGKILL: nothing could be saved then
  assert runs['killed'].stdout.split() == ['epoch', '0', 'epoch', '1']
  assert runs['resumed'].returncode == 0, runs['resumed'].stderr[-3000:]
  assert runs['resumed'].stdout.split() == ['epoch', '2', 'epoch', '3', 'done']  # epochs 0 and 1 are not redone
  saved, restored = np.load(tmp_path / 'killed-end.npz'), np.load(tmp_path / 'resumed-begin.npz')
  # Every weight (moving averages too), the optimizer's iterations (the learning rate schedule's step) and momenta.
  assert len(saved.files) == len(restored.files) > 500
  assert all(np.array_equal(saved[name], restored[name]) for name in saved.files)
  assert not np.array_equal(np.load(tmp_path / 'killed-begin.npz')['arr_0'], saved['arr_0'])
