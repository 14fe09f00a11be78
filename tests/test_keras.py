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
def test_pyramid_outputs_and_feature_info_are_the_levels_as_built_at_any_output_stride(network, kwargs,
                                                                                       output_stride):
  model = slimnets_keras.Backbone(network, output_stride=output_stride, **kwargs)
  declared = nets_factory.get_spec(network).levels
  info = model.feature_info
  assert info.module_name() == [level.end_point for level in declared]
  assert info.reduction() == [min(level.stride, output_stride or 32) for level in declared]
  assert info[0] == {'level': 'C1', 'module': declared[0].end_point, 'num_chs': info.channels()[0],
                     'reduction': 2}
  pyramid = keras.Model(model.inputs, model.pyramid_outputs)
  outputs = pyramid.predict(_data(count=2, size=65)[0], verbose=0)
  assert sorted(outputs) == [f'P{level.name[1:]}' for level in declared]
  for level, channels, reduction in zip(declared, info.channels(), info.reduction()):
    assert outputs[f'P{level.name[1:]}'].shape == (2, -(-65 // reduction), -(-65 // reduction), channels)
