"""nets.layers: variables, collections, numerics, and arg scopes shared with tf-slim's layers."""

import contextlib
import threading

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets.layers import context
from tests.conftest import run
from tests.conftest import tf1_behavior

GraphKeys = tf.compat.v1.GraphKeys


def _var(name):
  return next(v for v in tf.compat.v1.global_variables() if v.op.name == name)


def _names(collection):
  return [v.op.name for v in tf.compat.v1.get_collection(collection)]


def test_conv2d_variables_collections_and_shape(graph):
  images = tf.zeros([2, 9, 9, 3])
  out = layers.conv2d(images, 5, [3, 3], stride=2, weights_regularizer=slim.l2_regularizer(0.1), scope='c')
  assert out.shape.as_list() == [2, 5, 5, 5]
  assert _names(GraphKeys.GLOBAL_VARIABLES) == ['c/weights', 'c/biases']
  assert _names(GraphKeys.MODEL_VARIABLES) == ['c/weights', 'c/biases']
  assert _names(GraphKeys.TRAINABLE_VARIABLES) == ['c/weights', 'c/biases']
  assert tf.compat.v1.global_variables()[0].shape.as_list() == [3, 3, 3, 5]
  assert len(tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)) == 1


def test_conv2d_default_scope_and_normalizer_replaces_biases(graph):
  layers.conv2d(tf.zeros([1, 4, 4, 2]), 3, 1, normalizer_fn=layers.batch_norm)
  assert _names(GraphKeys.GLOBAL_VARIABLES) == [
      'Conv/weights', 'Conv/BatchNorm/beta', 'Conv/BatchNorm/moving_mean', 'Conv/BatchNorm/moving_variance']


def test_conv2d_computes_relu_of_convolution_plus_bias(graph):
  rng = np.random.RandomState(0)
  x = rng.randn(1, 6, 7, 2).astype(np.float32)
  w = rng.randn(3, 3, 2, 4).astype(np.float32)
  b = rng.randn(4).astype(np.float32)
  out = layers.conv2d(tf.constant(x), 4, 3, rate=2, weights_initializer=tf.constant_initializer(w),
                      biases_initializer=tf.constant_initializer(b))
  expected = tf.nn.relu(tf.nn.conv2d(x, w, 1, 'SAME', dilations=2) + b)
  got, want = run(graph, [out, expected])
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_conv2d_rejects_stride_with_rate(graph):
  with pytest.raises(ValueError, match='stride 2 and rate 2 cannot both exceed 1'):
    layers.conv2d(tf.zeros([1, 8, 8, 1]), 1, 3, stride=2, rate=2)
  assert not tf.compat.v1.global_variables()


def test_batch_norm_variables_in_creation_order(graph):
  layers.batch_norm(tf.zeros([2, 3, 3, 4]), scale=True, scope='bn')
  assert _names(GraphKeys.GLOBAL_VARIABLES) == ['bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance']
  assert _names(GraphKeys.TRAINABLE_VARIABLES) == ['bn/gamma', 'bn/beta']
  assert _names(GraphKeys.MODEL_VARIABLES) == _names(GraphKeys.GLOBAL_VARIABLES)


def test_batch_norm_training_uses_batch_statistics_and_updates_moving_averages(graph):
  x = np.random.RandomState(1).randn(4, 3, 3, 2).astype(np.float32) * 3 + 1
  out = layers.batch_norm(tf.constant(x), decay=0.9, epsilon=1e-3, is_training=True, scope='bn')
  updates = tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  assert len(updates) == 2
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    got = sess.run(out)
    sess.run(updates)
    moving_mean, moving_var = sess.run([_var('bn/moving_mean'), _var('bn/moving_variance')])
  np.testing.assert_allclose(got, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-4)
  n = x.size // 2  # moving variance tracks the unbiased batch variance, as tf-slim's (Keras) fused path
  np.testing.assert_allclose(moving_mean, 0.1 * mean, rtol=1e-5)
  np.testing.assert_allclose(moving_var, 0.9 + 0.1 * var * n / (n - 1), rtol=1e-5)


def test_batch_norm_tensor_decay_takes_the_general_path_with_the_same_result(graph):
  """A python decay lets the fused kernel average; a tensor decay cannot, and must agree with it."""
  x = np.random.RandomState(5).randn(4, 3, 3, 2).astype(np.float32) * 2 - 1
  layers.batch_norm(tf.constant(x), decay=0.9, scope='python_decay')
  layers.batch_norm(tf.constant(x), decay=tf.constant(0.9), scope='tensor_decay')
  assert len(tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)) == 4
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    sess.run(tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS))
    for name in ('moving_mean', 'moving_variance'):
      python, tensor = sess.run([_var(f'python_decay/{name}'), _var(f'tensor_decay/{name}')])
      np.testing.assert_allclose(python, tensor, rtol=1e-6, atol=1e-7)


def test_regularizer_runs_once_per_created_variable(graph):
  w = np.arange(18, dtype=np.float32).reshape([3, 3, 2, 1]) / 10
  layers.conv2d(tf.zeros([1, 4, 4, 2]), 1, 3, weights_initializer=tf.constant_initializer(w),
                weights_regularizer=slim.l2_regularizer(0.1), scope='c')
  with tf.compat.v1.variable_scope('c', reuse=True):  # a reused variable adds no loss
    layers.model_variable('weights', [3, 3, 2, 1], regularizer=slim.l2_regularizer(0.1))
  losses = tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)
  assert [loss.op.name for loss in losses] == ['c/weights/Regularizer/l2_regularizer']
  assert [op.type for op in graph.get_operations()].count('L2Loss') == 1  # no dead copy of the loss
  assert run(graph, losses[0]) == pytest.approx(0.1 * np.sum(w ** 2) / 2)


def test_variable_scope_regularizer_applies_when_none_is_given(graph):
  with tf.compat.v1.variable_scope('s', regularizer=slim.l2_regularizer(1.0)):
    layers.conv2d(tf.zeros([1, 2, 2, 1]), 1, 1, weights_initializer=tf.compat.v1.ones_initializer(), scope='c')
  losses = tf.compat.v1.get_collection(GraphKeys.REGULARIZATION_LOSSES)
  assert [loss.op.name for loss in losses] == ['s/c/weights/Regularizer/l2_regularizer',
                                               's/c/biases/Regularizer/l2_regularizer']
  assert run(graph, tf.add_n(losses)) == pytest.approx(0.5)


def test_variance_scaling_draws_he_truncated_normal(graph):
  shape = [3, 3, 64, 128]
  sample = layers.VarianceScaling(scale=2.0, mode='fan_in')(shape)
  fan_out = layers.VarianceScaling(scale=2.0, mode='fan_out')(shape)
  got, got_out = run(graph, [sample, fan_out])
  assert got.shape == tuple(shape) and got.dtype == np.float32
  assert got.std() == pytest.approx(np.sqrt(2.0 / (3 * 3 * 64)), rel=0.02)
  assert got_out.std() == pytest.approx(np.sqrt(2.0 / (3 * 3 * 128)), rel=0.02)
  assert np.abs(got).max() <= 2 * np.sqrt(2.0 / (3 * 3 * 64)) / 0.87962566103423978 + 1e-6  # truncated at 2 sigma


def test_variance_scaling_follows_the_graph_seed():
  def draw():
    with tf.Graph().as_default() as g:
      tf.compat.v1.set_random_seed(7)
      return run(g, layers.VarianceScaling()([5, 4]))
  np.testing.assert_array_equal(draw(), draw())


@pytest.mark.parametrize('kwargs, message', [
    ({'mode': 'fan'}, "mode must be 'fan_in', 'fan_out' or 'fan_avg', got 'fan'"),
    ({'scale': 0}, 'scale must be positive, got 0')])
def test_variance_scaling_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    layers.VarianceScaling(**kwargs)


def test_batch_norm_in_place_updates_when_updates_collections_is_none(graph):
  x = np.full([2, 2, 2, 1], 5.0, np.float32)
  out = layers.batch_norm(tf.constant(x), decay=0.5, updates_collections=None, scope='bn')
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    sess.run(out)
    assert sess.run(_var('bn/moving_mean')) == pytest.approx([2.5])


def test_batch_norm_inference_uses_moving_statistics(graph):
  x = np.random.RandomState(2).randn(2, 2, 2, 3).astype(np.float32)
  out = layers.batch_norm(tf.constant(x), is_training=False, center=True, scale=True, epsilon=0.01,
                          param_initializers={'moving_mean': tf.constant_initializer(0.5),
                                              'moving_variance': tf.constant_initializer(4.0),
                                              'gamma': tf.constant_initializer(2.0),
                                              'beta': tf.constant_initializer(-1.0)})
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)
  np.testing.assert_allclose(run(graph, out), 2.0 * (x - 0.5) / np.sqrt(4.01) - 1.0, rtol=1e-5)


def test_batch_norm_with_training_tensor(graph):
  x = np.random.RandomState(3).randn(3, 2, 2, 2).astype(np.float32) + 4
  training = tf.compat.v1.placeholder(tf.bool, [])
  out = layers.batch_norm(tf.constant(x), is_training=training, updates_collections=None, epsilon=1e-3)
  mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    np.testing.assert_allclose(sess.run(out, {training: False}), x / np.sqrt(1 + 1e-3), rtol=1e-5)
    assert sess.run(_var('BatchNorm/moving_mean')) == pytest.approx([0, 0])  # no update in inference
    np.testing.assert_allclose(sess.run(out, {training: True}), (x - mean) / np.sqrt(var + 1e-3), atol=1e-4)
    np.testing.assert_allclose(sess.run(_var('BatchNorm/moving_mean')), 0.001 * mean, rtol=1e-4)


def test_batch_norm_of_rank_2_inputs(graph):
  x = np.random.RandomState(4).randn(5, 3).astype(np.float32)
  out = layers.batch_norm(tf.constant(x), epsilon=1e-3)
  assert out.shape.as_list() == [5, 3]
  np.testing.assert_allclose(run(graph, out), (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3), atol=1e-4)


def test_batch_norm_refuses_unsupported_options(graph):
  with pytest.raises(ValueError, match='batch_norm does not support renorm=True'):
    layers.batch_norm(tf.zeros([1, 2, 2, 1]), renorm=True)
  assert not tf.compat.v1.global_variables()


def test_slim_arg_scope_on_slim_layers_reaches_our_layers(graph):
  with slim.arg_scope([slim.batch_norm], is_training=False):
    with slim.arg_scope([slim.conv2d], outputs_collections='end_points', normalizer_fn=layers.batch_norm):
      out = layers.conv2d(tf.zeros([1, 4, 4, 1]), 2, 3, scope='c')
  assert not tf.compat.v1.get_collection(GraphKeys.UPDATE_OPS)  # inference mode came from slim's scope
  assert slim.utils.convert_collection_to_dict('end_points') == {'c': out}


@pytest.mark.filterwarnings('ignore:`layer.apply` is deprecated')  # tf-slim's own max_pool2d warns
def test_arg_scope_on_our_layers_reaches_slim_layers_and_nests(graph):
  assert slim.has_arg_scope(layers.conv2d) and slim.has_arg_scope(layers.batch_norm)
  with slim.arg_scope([layers.max_pool2d], padding='SAME', stride=3):
    with slim.arg_scope([slim.max_pool2d], stride=1):  # the inner scope wins, whichever name it uses
      inner = layers.max_pool2d(tf.zeros([1, 5, 5, 1]), 2)
      from_slim = slim.max_pool2d(tf.zeros([1, 5, 5, 1]), 2)
    explicit = layers.max_pool2d(tf.zeros([1, 5, 5, 1]), 2, stride=2)  # an explicit argument wins
  assert inner.shape.as_list() == from_slim.shape.as_list() == [1, 5, 5, 1]
  assert explicit.shape.as_list() == [1, 3, 3, 1]


def test_pools_and_dropout(graph):
  x = tf.constant(np.arange(16, dtype=np.float32).reshape([1, 4, 4, 1]))
  max_out = layers.max_pool2d(x, 2)
  avg_out = layers.avg_pool2d(x, [2, 2], stride=2)
  kept = layers.dropout(x, keep_prob=0.5, is_training=False)
  dropped = layers.dropout(tf.ones([1000]), keep_prob=0.5, is_training=True, seed=1)
  got_max, got_avg, got_kept, got_dropped = run(graph, [max_out, avg_out, kept, dropped])
  assert got_max.ravel().tolist() == [5, 7, 13, 15]
  assert got_avg.ravel().tolist() == [2.5, 4.5, 10.5, 12.5]
  np.testing.assert_array_equal(got_kept, run(graph, x))
  assert set(np.unique(got_dropped)) <= {0.0, 2.0} and 300 < np.count_nonzero(got_dropped) < 700


_LAYERS = {
    'conv': lambda x: layers.conv2d(x, 7, 3, stride=2, scope='conv'),
    'depthwise': lambda x: layers.separable_conv2d(x, None, 3, depth_multiplier=2, stride=2, scope='conv'),
    'separable': lambda x: layers.separable_conv2d(x, 7, 3, depth_multiplier=2, rate=2, scope='conv'),
}


def _conv_bn_graph(fold, is_training=False, scale=True, layer='conv', **bn_overrides):
  """A convolution + batch_norm (+relu) of fixed random weights and statistics; (outputs, names, end points)."""
  graph_ = tf.Graph()
  with graph_.as_default():
    rng = np.random.RandomState(3)
    images = tf.constant(rng.normal(0, 1, [2, 9, 11, 5]).astype(np.float32))
    params = {'scale': scale, 'epsilon': 1e-3, **bn_overrides,
              'is_training': is_training() if callable(is_training) else is_training}
    context = layers.batch_norm_folded_for_inference() if fold else contextlib.nullcontext()
    with context, slim.arg_scope([layers.conv2d, layers.separable_conv2d], normalizer_fn=layers.batch_norm,
                                 normalizer_params=params, outputs_collections='ends'):
      net = _LAYERS[layer](images)
    names = [v.op.name for v in tf.compat.v1.global_variables()]
    ops = {op.type for op in graph_.get_operations()}
    with tf.compat.v1.Session() as sess:
      for v in tf.compat.v1.global_variables():
        low = 0.5 if 'variance' in v.name or 'gamma' in v.name else -0.5
        v.load(rng.uniform(low, low + 1, v.shape.as_list()).astype(np.float32), sess)
      return sess.run(net), names, ops, [alias.aliases for alias in tf.compat.v1.get_collection('ends')]


def test_batch_norm_folded_into_conv2d_computes_the_same_with_the_same_variables():
  expected, names, ops, ends = _conv_bn_graph(fold=False)
  folded, folded_names, folded_ops, folded_ends = _conv_bn_graph(fold=True)
  assert folded_ends == ends == [['conv']]
  assert folded_names == names == ['conv/weights', 'conv/BatchNorm/gamma', 'conv/BatchNorm/beta',
                                   'conv/BatchNorm/moving_mean', 'conv/BatchNorm/moving_variance']
  assert 'FusedBatchNormV3' in ops and 'FusedBatchNormV3' not in folded_ops and 'BiasAdd' in folded_ops
  np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5)
  assert (expected > 0).mean() > 0.3  # the relu does not zero everything


@pytest.mark.parametrize('layer, weights', [('depthwise', ['conv/depthwise_weights']),
                                            ('separable', ['conv/depthwise_weights', 'conv/pointwise_weights'])])
def test_batch_norm_folded_into_depthwise_and_separable_convolutions(layer, weights):
  expected, names, ops, ends = _conv_bn_graph(fold=False, layer=layer)
  folded, folded_names, folded_ops, folded_ends = _conv_bn_graph(fold=True, layer=layer)
  assert folded_ends == ends == [['conv']]
  assert folded_names == names == weights + ['conv/BatchNorm/gamma', 'conv/BatchNorm/beta',
                                             'conv/BatchNorm/moving_mean', 'conv/BatchNorm/moving_variance']
  assert 'FusedBatchNormV3' in ops and 'FusedBatchNormV3' not in folded_ops and 'BiasAdd' in folded_ops
  assert expected.shape == ((2, 5, 6, 10) if layer == 'depthwise' else (2, 9, 11, 7))
  np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5)
  assert (expected > 0).mean() > 0.3


def test_batch_norm_folding_without_scale_and_leaving_training_alone():
  expected, _, _, _ = _conv_bn_graph(fold=False, scale=False)
  folded, names, _, _ = _conv_bn_graph(fold=True, scale=False)
  assert 'conv/BatchNorm/gamma' not in names
  np.testing.assert_allclose(folded, expected, rtol=1e-5, atol=1e-5)
  _, _, training_ops, _ = _conv_bn_graph(fold=True, is_training=True)
  assert 'FusedBatchNormV3' in training_ops and 'BiasAdd' not in training_ops
  _, _, tensor_ops, _ = _conv_bn_graph(fold=True, is_training=lambda: tf.constant(False))
  assert 'BiasAdd' not in tensor_ops
  # the tf.cond of batch_norm: an If op in v2 control flow, Switch and Merge under TF1 behaviour
  assert {'Switch', 'Merge'} <= tensor_ops if tf1_behavior() else {'If', 'StatelessIf'} & tensor_ops


def test_batch_norm_folding_is_scoped_to_its_context_and_thread():
  with layers.batch_norm_folded_for_inference():
    assert context.current().fold_batch_norm
    seen = []
    active = lambda: seen.append(context.current().fold_batch_norm)
    thread = threading.Thread(target=active)
    thread.start()
    thread.join()
    assert seen == [False]
  assert not context.current().fold_batch_norm


def test_build_options_nest_change_only_what_they_name_and_refuse_unknown_names():
  sink = []
  assert context.current() == layers.BuildOptions(False, None, None)
  with layers.regularizers_collected_into(sink) as collected, layers.moving_average_decay(0.5):
    assert collected is sink
    with layers.build_options(fold_batch_norm=True) as inner:
      assert inner == layers.BuildOptions(fold_batch_norm=True, moving_average_decay=0.5, regularizer_sink=sink)
    assert context.current() == layers.BuildOptions(False, 0.5, sink)
  assert context.current() == layers.BuildOptions()
  with pytest.raises(TypeError, match='fold_batchnorm'):
    with layers.build_options(fold_batchnorm=True):
      pass
  assert context.current() == layers.BuildOptions()


def test_arg_scopes_are_per_thread_and_a_thread_starts_in_the_main_threads():
  """tf-slim keeps one arg scope stack per process; asked for, each thread has its own (MirroredStrategy's replicas
  are threads that take turns inside the model), starting from the main thread's scopes."""
  layers.use_per_thread_arg_scopes()
  layers.use_per_thread_arg_scopes()  # idempotent
  assert layers.per_thread_arg_scopes()
  seen = {}

  def worker():
    seen['inherited'] = slim.current_arg_scope().get(slim.arg_scope_func_key(layers.conv2d))
    with slim.arg_scope([layers.conv2d], padding='SAME'):
      seen['own'] = dict(slim.current_arg_scope()[slim.arg_scope_func_key(layers.conv2d)])
      main_entered.set()
      main_done.wait(10)
    seen['after'] = slim.current_arg_scope()[slim.arg_scope_func_key(layers.conv2d)]

  main_entered, main_done = threading.Event(), threading.Event()
  key = slim.arg_scope_func_key(slim.conv2d)
  with slim.arg_scope([slim.conv2d], padding='VALID', stride=2):
    thread = threading.Thread(target=worker)
    thread.start()
    main_entered.wait(10)
    assert slim.current_arg_scope()[key] == {'padding': 'VALID', 'stride': 2}  # not the thread's SAME
    main_done.set()
    thread.join()
    assert slim.current_arg_scope()[key] == {'padding': 'VALID', 'stride': 2}
  assert key not in slim.current_arg_scope()
  assert seen == {'inherited': {'padding': 'VALID', 'stride': 2}, 'own': {'padding': 'SAME', 'stride': 2},
                  'after': {'padding': 'VALID', 'stride': 2}}


def test_synchronized_batch_norm_is_batch_norm_outside_several_replicas(graph):
  images = np.random.RandomState(0).normal(size=[4, 5, 5, 3]).astype(np.float32)
  outputs = {}
  for synchronized in (False, True):
    with tf.compat.v1.variable_scope(f's{synchronized}'):
      outputs[synchronized] = layers.batch_norm(tf.constant(images), is_training=True, updates_collections=None,
                                                synchronized=synchronized)
  plain, synchronized = run(graph, [outputs[False], outputs[True]])
  np.testing.assert_array_equal(plain, synchronized)
