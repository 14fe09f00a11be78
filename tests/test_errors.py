"""The catalogue of invalid inputs: exact exception types and words, nothing built, a retry that works; CLI errors."""

import os
import threading

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import inception_v3
from nets import mobilenet_v1
from nets import nets_factory
from nets import resnet_v1
from nets import resnet_v2
from nets import resnet_v1_beta
from nets import xception
from nets.mobilenet import mobilenet_v2
from nets.nasnet import nasnet
from slimnets import cli
from slimnets import models

THIN = {'depth_multiplier': 0.125}


def _v1(images, num_classes=None, **kwargs):
  with slim.arg_scope(resnet_v1.resnet_arg_scope()):
    return resnet_v1.resnet_v1_50(images, num_classes, is_training=False, **{**THIN, **kwargs})


def _v2(images, num_classes=None, **kwargs):
  with slim.arg_scope(resnet_v2.resnet_arg_scope()):
    return resnet_v2.resnet_v2_50(images, num_classes, is_training=False, **{**THIN, **kwargs})


def _inception(images, num_classes=None, **kwargs):
  with slim.arg_scope(inception_v3.inception_v3_arg_scope()):
    return inception_v3.inception_v3(images, num_classes, is_training=False, **{'depth_multiplier': 0.1, **kwargs})


def _mobilenet_base(images, **kwargs):
  with slim.arg_scope(mobilenet_v1.mobilenet_v1_arg_scope(is_training=False)):
    return mobilenet_v1.mobilenet_v1_base(images, **{'depth_multiplier': 0.25, **kwargs})


def _mobilenet_v2(images, num_classes=None, **kwargs):
  with slim.arg_scope(mobilenet_v2.training_scope(is_training=False)):
    return mobilenet_v2.mobilenet(images, num_classes, **{'depth_multiplier': 0.25, **kwargs})


def _xception(images, num_classes=None, **kwargs):
  with slim.arg_scope(xception.xception_arg_scope()):
    return xception.xception_41(images, num_classes, is_training=False, **{**THIN, **kwargs})


def _beta(images, num_classes=None, **kwargs):
  with slim.arg_scope(resnet_v1_beta.resnet_arg_scope()):
    return resnet_v1_beta.resnet_v1_50_beta(images, num_classes, is_training=False, **{**THIN, **kwargs})


def _factory(name):
  return lambda images, num_classes=None, **kwargs: nets_factory.get_network_fn(name, num_classes)(images, **kwargs)


def _nchw(config):
  config.set_hparam('data_format', 'NCHW')
  return config


def _nasnet_training(images, num_classes=None, **kwargs):
  with slim.arg_scope(nasnet.nasnet_mobile_arg_scope()):
    return nasnet.build_nasnet_mobile(images, num_classes, is_training=True, depth_multiplier=0.125, **kwargs)


RGB = lambda size=64: tf.compat.v1.placeholder(tf.float32, [None, size, size, 3])

# (id, network, images, arguments, words the ValueError's message must contain)
CATALOGUE = [
    ('3-D inputs', _v1, lambda: tf.zeros([64, 64, 3]), {},
     ['resnet_v1_50: inputs must be a 4-D [batch, height, width, channels] tensor', 'got shape (64, 64, 3)']),
    ('5-D inputs', _inception, lambda: tf.zeros([1, 1, 80, 80, 3]), {},
     ['inception_v3: inputs must be a 4-D', 'got shape (1, 1, 80, 80, 3)']),
    ('unknown channels', _v2, lambda: tf.compat.v1.placeholder(tf.float32, [1, 64, 64, None]), {},
     ['resnet_v2_50: inputs must be a 4-D', 'known channel count', 'got shape (1, 64, 64, None)']),
    ('unknown rank', _v1, lambda: tf.compat.v1.placeholder(tf.float32, None), {},
     ['inputs must be a 4-D', 'got shape <unknown>']),
    ('int32 inputs', _v1, lambda: tf.zeros([1, 64, 64, 3], tf.int32), {},
     ['resnet_v1_50: inputs must be a float tensor', 'got dtype int32', 'tf.cast(images, tf.float32)']),
    ('float64 inputs', _v1, lambda: tf.compat.v1.placeholder(tf.float64, [1, 64, 64, 3]), {},
     ['resnet_v1_50: inputs must be float32, float16 or bfloat16, got dtype float64', 'tf.cast(images, tf.float32)']),
    ('float64 inputs to inception', _inception, lambda: tf.zeros([1, 80, 80, 3], tf.float64), {},
     ['inception_v3: inputs must be float32, float16 or bfloat16, got dtype float64']),
    ('uint8 inputs', _inception, lambda: tf.zeros([1, 80, 80, 3], tf.uint8), {},
     ['inception_v3: inputs must be a float tensor', 'got dtype uint8']),
    ('empty batch', _v1, lambda: tf.zeros([0, 64, 64, 3]), {},
     ['resnet_v1_50: inputs must hold at least one image of at least 1x1 pixels and one channel, got shape '
      '(0, 64, 64, 3): its batch axis is empty']),
    ('empty width', _mobilenet_v2, lambda: tf.compat.v1.placeholder(tf.float32, [None, 64, 0, 3]), {},
     ['MobilenetV2: inputs must hold at least one image', 'got shape (None, 64, 0, 3): its width axis is empty']),
    ('output_stride 3', _v1, RGB, {'output_stride': 3},
     ['resnet_v1_50: output_stride must be None (nominal, 32) or one of [4, 8, 16, 32], got 3']),
    ('output_stride 64', _v2, RGB, {'output_stride': 64},
     ['output_stride must be None (nominal, 32) or one of [4, 8, 16, 32], got 64']),
    ('output_stride 16.0', _v1, RGB, {'output_stride': 16.0}, ['output_stride must be None', 'got 16.0']),
    ('output_stride for inception_v3', _factory('inception_v3'), lambda: RGB(80), {'output_stride': 16},
     ['inception_v3 does not take output_stride; it takes dropout_keep_prob, min_depth, depth_multiplier']),
    ('multi_grid too short', _v1, RGB, {'multi_grid': (1, 2), 'output_stride': 16},
     ['multi_grid must be None or 3 int rates >= 1, one per unit of block4, got (1, 2)']),
    ('multi_grid rate 0', _v2, RGB, {'multi_grid': (1, 0, 2)}, ['multi_grid must be None or 3 int rates >= 1',
                                                                 'got (1, 0, 2)']),
    ('multi_grid of floats', _v1, RGB, {'multi_grid': (1.0, 2.0, 4.0)}, ['3 int rates', 'got (1.0, 2.0, 4.0)']),
    ('num_classes -1', _v1, RGB, {'num_classes': -1},
     ['resnet_v1_50: num_classes must be None or 0 (no logits) or a positive int, got -1']),
    ('num_classes 2.5', _inception, lambda: RGB(80), {'num_classes': 2.5},
     ['inception_v3: num_classes must be None or 0 (no logits) or a positive int, got 2.5']),
    ("num_classes '10'", _v2, RGB, {'num_classes': '10'}, ["num_classes must be None or 0", "got '10'"]),
    ('num_classes True', _v1, RGB, {'num_classes': True}, ['num_classes must be None or 0', 'got True']),
    ('depth_multiplier 0', _v1, RGB, {'depth_multiplier': 0}, ['depth_multiplier must be a number > 0, got 0']),
    ('depth_multiplier -1 inception', _inception, lambda: RGB(80), {'depth_multiplier': -1},
     ['inception_v3: depth_multiplier must be a number > 0, got -1']),
    ('inception below its minimum', _inception, lambda: RGB(74), {},
     ['inception_v3: inputs of 74x74 are too small', 'need at least 75x75']),
    ('inception aux head below its minimum', _inception, lambda: RGB(100), {'num_classes': 10},
     ['inputs of 100x100 are too small for the auxiliary head', 'at least 107x107', 'create_aux_logits=False']),
    ('logits that cannot be squeezed', _v1, RGB, {'num_classes': 10, 'global_pool': False},
     ['resnet_v1_50: inputs of 64x64 at output stride 32 give 2x2 logits without global pooling',
      'pass global_pool=True']),
    ('mobilenet final_endpoint', _mobilenet_base, RGB, {'final_endpoint': 'Conv2d_14_pointwise'},
     ['mobilenet_v1_base: final_endpoint must be one of Conv2d_0, Conv2d_1_depthwise, Conv2d_1_pointwise,',
      "got 'Conv2d_14_pointwise'"]),
    ('mobilenet output_stride 4', _mobilenet_base, RGB, {'output_stride': 4},
     ['mobilenet_v1_base: output_stride must be None (nominal, 32) or one of [8, 16, 32], got 4']),
    ('mobilenet classifier output_stride 4', _factory('mobilenet_v1'), RGB, {'output_stride': 4},
     ['MobilenetV1: output_stride must be None (nominal, 32) or one of [8, 16, 32], got 4']),
    ('mobilenet logits that cannot be squeezed', _factory('mobilenet_v1'),
     lambda: tf.compat.v1.placeholder(tf.float32, [None, None, 65, 3]), {'num_classes': 5, 'output_stride': 8},
     ['MobilenetV1: spatial_squeeze=True needs 1x1 logits, but an input width of 65 leaves a 9-pixel map whose 7x7 '
      'VALID pool gives 3 logits along it; pass global_pool=True, spatial_squeeze=False, or a smaller image']),
    ('nasnet final_endpoint', _factory('nasnet_mobile'), RGB, {'final_endpoint': 'Cell_12'},
     ['build_nasnet_mobile: final_endpoint must be None or one of Stem, Cell_0, Cell_1, Cell_2, Cell_3, '
      'Reduction_Cell_0, Cell_4,', "Predictions, got 'Cell_12'"]),
    ('pnasnet final_endpoint', _factory('pnasnet_mobile'), RGB, {'final_endpoint': 'Reduction_Cell_0'},
     ['build_pnasnet_mobile: final_endpoint must be None or one of Stem, Cell_0, Cell_1, Cell_2, Cell_3,',
      "got 'Reduction_Cell_0'"]),
    ('nasnet below its minimum', _factory('nasnet_mobile'), lambda: RGB(2), {},
     ['build_nasnet_mobile: the images are 2 pixels in height; the network needs at least 3']),
    ('nasnet NCHW', _factory('nasnet_mobile'), RGB, {'config': _nchw(nasnet.mobile_imagenet_config())},
     ["build_nasnet_mobile: config.data_format must be 'NHWC', got 'NCHW'"]),
    ('nasnet aux head below its minimum', _nasnet_training, lambda: RGB(66), {'num_classes': 10},
     ['build_nasnet_mobile: the images are 66 pixels in height; the network needs at least 67 (with the auxiliary '
      'head of training)']),
    ('mobilenet depth_multiplier 0', _mobilenet_base, RGB, {'depth_multiplier': 0},
     ['mobilenet_v1_base: depth_multiplier must be a number > 0, got 0']),
    ('mobilenet_v2 output_stride 12', _mobilenet_v2, RGB, {'output_stride': 12},
     ['MobilenetV2: output_stride must be None (nominal, 32) or one of [1, 2, 4, 8, 16, 32], got 12']),
    ('mobilenet_v2 final_endpoint', _mobilenet_v2, RGB, {'final_endpoint': 'layer_20'},
     ["MobilenetV2: final_endpoint must be None (the whole base) or one of layer_1 .. layer_19, got 'layer_20'"]),
    ('mobilenet_v2 depth_multiplier 0', _mobilenet_v2, RGB, {'depth_multiplier': 0},
     ['MobilenetV2: depth_multiplier must be a number > 0, got 0']),
    ('mobilenet_v2 min_depth', _mobilenet_v2, RGB, {'min_depth': 0},
     ['MobilenetV2: min_depth must be None or a positive int, got 0']),
    ('mobilenet_v2 base output_stride 64', lambda images, **kwargs: mobilenet_v2.mobilenet_base(images, **kwargs),
     RGB, {'output_stride': 64},
     ['MobilenetV2: output_stride must be None (nominal, 32) or one of [1, 2, 4, 8, 16, 32], got 64']),
    ('mobilenet_v2 float64 inputs', _mobilenet_v2, lambda: tf.zeros([1, 64, 64, 3], tf.float64), {},
     ['MobilenetV2: inputs must be float32, float16 or bfloat16, got dtype float64']),
    ('xception output_stride 12', _xception, RGB, {'output_stride': 12},
     ['xception_41: output_stride must be None (nominal, 32) or one of [2, 4, 8, 16, 32], got 12']),
    ('xception multi_grid of two', _xception, RGB, {'multi_grid': [1, 2]},
     ['xception_41: multi_grid must be None or 3 int rates >= 1, one per separable convolution of '
      'exit_flow/block2, got [1, 2]']),
    ('xception sync batch norm', _xception, RGB, {'sync_batch_norm_method': 'tpu'},
     ["xception_41: sync_batch_norm_method must be 'None' (plain batch norm), got 'tpu'"]),
    ('xception int inputs', _xception, lambda: tf.zeros([1, 64, 64, 3], tf.int32), {},
     ['xception_41: inputs must be a float tensor', 'got dtype int32']),
    ('beta multi_grid of four', _beta, RGB, {'multi_grid': (1, 2, 4, 8)},
     ['resnet_v1_50_beta: multi_grid must be None or 3 int rates >= 1, one per unit of block4, got (1, 2, 4, 8)']),
    ('beta output_stride 2', _beta, RGB, {'output_stride': 2},
     ['resnet_v1_50_beta: output_stride must be None (nominal, 32) or one of [4, 8, 16, 32], got 2']),
    ('unknown network', lambda images, **kwargs: _factory('resnet_v1_5O')(images, **kwargs), RGB, {},
     ["Unknown network name 'resnet_v1_5O'. Did you mean 'resnet_v1_50'? Known networks: inception_v3,"]),
    ('argument the network lacks', _factory('resnet_v1_50'), RGB, {'rate': 2},
     ['resnet_v1_50 does not take rate; it takes']),
]


def _graph_state(graph):
  return (len(graph.get_operations()),
          {key: len(graph.get_collection(key)) for key in graph.get_all_collection_keys()})


@pytest.mark.parametrize('network, images, arguments, words', [c[1:] for c in CATALOGUE],
                         ids=[c[0] for c in CATALOGUE])
def test_invalid_input_is_a_value_error_before_any_graph_change(graph, network, images, arguments, words):
  images = images()
  before = _graph_state(graph)
  with pytest.raises(ValueError) as error:
    network(images, **arguments)
  assert type(error.value) is ValueError
  for word in words:
    assert word in str(error.value), (word, str(error.value))
  assert _graph_state(graph) == before


@pytest.mark.parametrize('network, scope, options', [(_v1, 'resnet_v1_50', {}), (_v2, 'resnet_v2_50', {}),
                                                     (_inception, 'InceptionV3', {'create_aux_logits': False})])
def test_a_retry_with_correct_arguments_in_the_same_graph_builds_as_a_fresh_graph(graph, network, scope, options):
  with pytest.raises(ValueError):
    network(tf.zeros([1, 80, 80, 3], tf.int32))
  with pytest.raises(ValueError):
    network(RGB(80), num_classes=-3)
  net, end_points = network(RGB(80), num_classes=7, **options)
  with tf.Graph().as_default():
    fresh_net, fresh_end_points = network(RGB(80), num_classes=7, **options)
    fresh_variables = [v.op.name for v in tf.compat.v1.global_variables()]
  assert [v.op.name for v in tf.compat.v1.global_variables()] == fresh_variables
  assert all(name.startswith(scope + '/') for name in fresh_variables)
  assert list(end_points) == list(fresh_end_points)
  assert net.shape.as_list() == fresh_net.shape.as_list() == [None, 7]


@pytest.mark.eager
def test_backbone_errors_create_no_variables():
  with pytest.raises(ValueError, match=r'inception_v3 does not take output_stride; it takes'):
    models.Backbone('inception_v3', output_stride=16)
  with pytest.raises(ValueError, match=r"Unknown network name 'resnet_v1_5O'\. Did you mean 'resnet_v1_50'\?"):
    models.Backbone('resnet_v1_5O')
  backbone = models.Backbone('resnet_v1_50', 5, **THIN)
  for images, words in ((np.zeros([1, 64, 64, 4], np.float32), 'images must be [batch, height, width, 3]'),
                        (np.zeros([1, 64, 64, 3], np.int32),
                         'images must be uint8 pixels or a float tensor, got dtype int32')):
    with pytest.raises(ValueError, match=r'^' + words.replace('[', r'\[').replace(']', r'\]')):
      backbone(images)
  with pytest.raises(ValueError, match=r'resnet_v1_50: num_classes must be None or 0'):
    models.Backbone('resnet_v1_50', -2, **THIN)(np.zeros([1, 64, 64, 3], np.float32))
  assert backbone.variables_by_name == {}
  backbone(np.zeros([1, 64, 64, 3], np.float32))
  assert len(backbone.variables_by_name) == 267


def _build_signature(index):
  """Variables, end point shapes, loss and update counts of one factory build in its own graph."""
  name = ('resnet_v1_50', 'resnet_v2_50', 'inception_v3')[index % 3]
  graph_ = tf.Graph()
  with graph_.as_default():
    network_fn = nets_factory.get_network_fn(name, 10 if index % 2 else None, weight_decay=1e-3 * (index % 2),
                                             is_training=bool(index % 2))
    options = {'depth_multiplier': 0.125}
    if name == 'inception_v3':
      options = {'depth_multiplier': 0.1, 'create_aux_logits': False}
    size = 80 if name == 'inception_v3' else 64 + index
    _, end_points = network_fn(tf.compat.v1.placeholder(tf.float32, [2, size, size, 3]), **options)
    keys = tf.compat.v1.GraphKeys
    return ([(v.op.name, tuple(v.shape.as_list()), v.trainable) for v in tf.compat.v1.global_variables()],
            [(key, tuple(t.shape.as_list())) for key, t in end_points.items()],
            len(tf.compat.v1.get_collection(keys.REGULARIZATION_LOSSES)), len(tf.compat.v1.get_collection(keys.UPDATE_OPS)))


def test_builds_in_threads_equal_builds_one_after_another():
  count = 6
  sequential = [_build_signature(i) for i in range(count)]
  threaded, failures = [None] * count, []

  def build(i):
    try:
      threaded[i] = _build_signature(i)
    except Exception as error:  # pylint: disable=broad-except
      failures.append(error)

  threads = [threading.Thread(target=build, args=(i,)) for i in range(count)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert failures == []
  assert [s[2:] for s in sequential] == [(0, 0), (54, 98), (0, 0), (54, 106), (0, 0), (95, 188)]
  for i in range(count):
    assert threaded[i] == sequential[i], i


# CLI: (argv, exit status, words of the one stderr line). Usage errors are 2 (argparse), failures 1.
CLI_CATALOGUE = [
    (['describe', 'resnet_v1_5O'], 2, "slimnets describe: error: Unknown network name 'resnet_v1_5O'. Did you mean "
                                      "'resnet_v1_50'?"),
    (['describe', 'resnet_v1_50', '--output-stride', '3'], 2,
     'slimnets describe: error: resnet_v1_50: output_stride must be None (nominal, 32) or one of [4, 8, 16, 32], '
     'got 3 (see --help)'),
    (['describe', 'inception_v3', '--output-stride', '16'], 2,
     'slimnets describe: error: inception_v3 has no output_stride option (it runs at its nominal stride 32)'),
    (['describe', 'resnet_v1_50', '--multi-grid', '1,2'], 2,
     'slimnets describe: error: resnet_v1_50: multi_grid must be None or 3 int rates >= 1, one per unit of its '
     'last block, got (1, 2)'),
    (['describe', 'inception_v3', '--input-size', '60'], 2,
     'slimnets describe: error: inception_v3: inputs of 60x60 are too small'),
    (['describe', 'resnet_v1_50', '--multi-grid', '1,0,2'], 2,
     "slimnets describe: error: argument --multi-grid: values must be >= 1, got '1,0,2' (see --help)"),
    (['describe', 'resnet_v1_50', '--input-size', 'big'], 2,
     "slimnets describe: error: argument --input-size: expected comma-separated integers, got 'big'"),
    (['describe', 'resnet_v1_50', '--num-classes', '-1'], 2, 'argument --num-classes: must be >= 0, got -1'),
    (['list', '--bogus'], 2, 'slimnets: error: unrecognized arguments: --bogus (see --help)'),
    (['frobnicate'], 2, "slimnets: error: argument COMMAND: invalid choice: 'frobnicate'"),
    (['benchmark', '--network', 'resnet_v1_50', '--batch', '0'], 2,
     "slimnets benchmark: error: argument --batch: must be >= 1, got '0'"),
    (['describe', 'resnet_v1_50', '--output-stride', 'abc'], 2,
     "slimnets describe: error: argument --output-stride: expected a positive integer, got 'abc'"),
    (['benchmark', '--network', 'inception_v3', '--input-size', '50'], 2,
     'slimnets benchmark: error: inception_v3: inputs of 50x50 are too small: the minimum is 75x75 (the VALID '
     'convolutions'),
    (['benchmark', '--network', 'inception_v3', '--input-size', '100', '--num-classes', '10'], 2,
     'inputs of 100x100 are too small: the minimum is 107x107'),
    (['extract', '--network', 'inception_v3', '--images', '.', '--output', 'x.npz', '--input-size', '60,200'], 2,
     'slimnets extract: error: inception_v3: inputs of 60x200 are too small: the minimum is 75x75'),
    (['extract', '--network', 'resnet_v1_50', '--images', '.', '--output', 'f4.txt'], 2,
     "slimnets extract: error: output 'f4.txt' must be a .npz file or a folder (a name without an extension), not "
     'a .txt file (see --help)'),
    (['extract', '--network', 'mobilenet_v2', '--images', '.', '--output', 'out', '--deeplab', '--pooled'], 2,
     'slimnets extract: error: --pooled is for backbones: a --deeplab segmenter gives its labels (see --help)'),
    (['benchmark', '--network', 'resnet_v1_50', '--allow-unused'], 2,
     'slimnets benchmark: error: --allow-unused is for --checkpoint (see --help)'),
    (['benchmark', '--network', 'mobilenet_v2', '--depth-multiplier', '0.5'], 2,
     'slimnets benchmark: error: --depth-multiplier is for --deeplab segmenters (see --help)'),
    (['export', '--network', 'xception_65', '--deeplab', '--depth-multiplier', '0.5', '--output', 'x'], 2,
     "slimnets export: error: --depth-multiplier is for DeepLab's mobilenet_v2, not xception_65 (see --help)"),
    pytest.param(['extract', '--network', 'resnet_v1_50', '--images', '/nonexistent/photos', '--output', 'x.npz'],
                 1, "slimnets: error: images folder '/nonexistent/photos' is not a directory",
                 marks=pytest.mark.eager),
]


@pytest.mark.parametrize('argv, status, words', CLI_CATALOGUE,
                         ids=[' '.join(getattr(c, 'values', c)[0]) for c in CLI_CATALOGUE])
def test_cli_errors_are_one_line_with_the_exit_status(capsys, argv, status, words):
  if status == 2:
    with pytest.raises(SystemExit) as exit_info:
      cli.main(argv)
    assert exit_info.value.code == 2
  else:
    assert cli.main(argv) == 1
  captured = capsys.readouterr()
  assert words in captured.err, captured.err
  assert len(captured.err.strip().splitlines()) == 1 and 'Traceback' not in captured.err
  assert captured.out == ''


def test_cli_debug_shows_the_traceback(tmp_path):
  with pytest.raises(ValueError, match=r"checkpoint '.*nothing' not found"):
    cli.main(['--debug', 'adapt-checkpoint', '--network', 'resnet_v1_50', '--input', str(tmp_path / 'nothing'),
              '--output', str(tmp_path / 'adapted'), '--in-channels', '4'])


@pytest.fixture(scope='module')
def thin_checkpoint(tmp_path_factory):
  with tf.Graph().as_default():
    _v1(tf.zeros([1, 33, 33, 3]))
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      return tf.compat.v1.train.Saver().save(sess, str(tmp_path_factory.mktemp('thin') / 'model.ckpt'))


@pytest.mark.eager  # export and benchmark run eagerly
def test_cli_checkpoint_failures_leave_no_output(tmp_path, capsys, thin_checkpoint):
  (tmp_path / 'notes.ckpt').write_text('not a checkpoint')
  (tmp_path / 'cut.index').write_bytes(open(thin_checkpoint + '.index', 'rb').read()[:40])
  cases = [
      ('resnet_v1_50', str(tmp_path / 'absent.ckpt'), "not found: no such file, and no absent.ckpt.index"),
      ('resnet_v1_50', str(tmp_path / 'notes.ckpt'), 'is not a readable TensorFlow checkpoint (truncated or another'),
      ('resnet_v1_50', str(tmp_path / 'cut'), 'is not a readable TensorFlow checkpoint'),
      ('resnet_v2_50', thin_checkpoint, 'holds none of the 270 model variables'),
      ('resnet_v1_50', thin_checkpoint, 'variables have other shapes in checkpoint'),
  ]
  adapt_words = {thin_checkpoint: "the checkpoint has no 'resnet_v2_50/conv1/weights': it is not a resnet_v2_50 "
                                  'checkpoint (it holds 265 variables'}
  listing = sorted(os.listdir(tmp_path))
  for network, checkpoint, words in cases:
    argv = ['export', '--network', network, '--checkpoint', checkpoint, '--output', str(tmp_path / 'served')]
    assert cli.main(argv) == 1, argv
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, (argv, err)
    if network == 'resnet_v1_50' and checkpoint == thin_checkpoint:
      continue  # adapting a thin checkpoint is fine: adapt does not build the network
    argv = ['adapt-checkpoint', '--network', network, '--input', checkpoint, '--output', str(tmp_path / 'adapted')]
    assert cli.main(argv) == 1, argv
    err = capsys.readouterr().err
    assert adapt_words.get(checkpoint, words) in err and len(err.strip().splitlines()) == 1, (argv, err)
  assert sorted(os.listdir(tmp_path)) == listing


@pytest.mark.eager  # export builds an eager backbone
def test_cli_refuses_existing_outputs(tmp_path, capsys, thin_checkpoint):
  (tmp_path / 'served').mkdir()
  (tmp_path / 'adapted.index').write_bytes(b'x')
  for argv in (['export', '--network', 'resnet_v1_50', '--output', str(tmp_path / 'served')],
               ['adapt-checkpoint', '--network', 'resnet_v1_50', '--input', thin_checkpoint, '--output',
                str(tmp_path / 'adapted')]):
    with pytest.raises(SystemExit) as exit_info:  # a usage error, found before TensorFlow loads
      cli.main(argv)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.endswith("already exists; pass --overwrite to replace it (see --help)\n")
  assert sorted(os.listdir(tmp_path)) == ['adapted.index', 'served'] and os.listdir(tmp_path / 'served') == []
