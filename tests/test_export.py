"""slimnets.deploy.export and `slimnets export`: a SavedModel that serves the graph network's outputs anywhere."""

import os
import textwrap

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import resnet_v1
from tests.conftest import randomize_variables
from tests.conftest import run_in_fresh_python
from slimnets import cli
from slimnets.deploy import export
from slimnets import models

pytestmark = pytest.mark.eager  # Backbone, Predictor, export and extract run eagerly

THIN = {'depth_multiplier': 0.125}

_LOAD = textwrap.dedent('''
    import json, sys
    import numpy as np
    import tensorflow as tf
    serve = tf.saved_model.load(sys.argv[1]).signatures['serving_default']
    result = {}
    for size in (33, 47):
      images = np.random.RandomState(size).uniform(-1, 1, [2, size, size + 2, 3]).astype(np.float32)
      outputs = serve(images=tf.constant(images))
      result[size] = {name: value.numpy().tolist() for name, value in outputs.items()}
    mine = sorted(name for name in sys.modules if name.split('.')[0] in ('nets', 'slimnets', 'tf_slim'))
    print(json.dumps({'outputs': result, 'project_modules': mine}))
''')


def _graph_outputs(checkpoint, size):
  images = np.random.RandomState(size).uniform(-1, 1, [2, size, size + 2, 3]).astype(np.float32)
  with tf.Graph().as_default():
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      net, end_points = resnet_v1.resnet_v1_50(tf.constant(images), None, is_training=False, global_pool=False,
                                               output_stride=16, **THIN)
    with tf.compat.v1.Session() as sess:
      tf.compat.v1.train.Saver().restore(sess, checkpoint)
      return sess.run({'output': net, 'C2': end_points['resnet_v1_50/block1/unit_2/bottleneck_v1']})


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
  with tf.Graph().as_default():
    with slim.arg_scope(resnet_v1.resnet_arg_scope()):
      resnet_v1.resnet_v1_50(tf.zeros([1, 33, 33, 3]), None, is_training=False, global_pool=False, **THIN)
    with tf.compat.v1.Session() as sess:
      randomize_variables(sess, seed=3)
      return tf.compat.v1.train.Saver().save(sess, str(tmp_path_factory.mktemp('export') / 'model.ckpt'))


def test_saved_model_serves_the_graph_outputs_in_a_fresh_process(tmp_path, checkpoint):
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  backbone.restore(checkpoint, allow_missing=False)
  mask = os.umask(0o022)
  try:
    path = export.export_saved_model(backbone, str(tmp_path / 'served'), ['C2'])
  finally:
    os.umask(mask)
  assert sorted(os.listdir(tmp_path)) == ['served']  # nothing staged left behind
  assert oct(os.stat(path).st_mode & 0o777) == oct(0o755)  # as a plain mkdir under umask 022, not 0700
  result = run_in_fresh_python(_LOAD, path, cwd=str(tmp_path))
  assert result['project_modules'] == []
  for size in (33, 47):
    served = result['outputs'][str(size)]
    assert sorted(served) == ['C2', 'output']
    want = _graph_outputs(checkpoint, size)
    for name in ('output', 'C2'):
      np.testing.assert_allclose(np.array(served[name]), want[name], rtol=1e-4, atol=1e-5)
  assert np.array(result['outputs']['47']['output']).shape == (2, 3, 4, 256)


def test_bfloat16_saved_model_takes_and_returns_float32_within_5_percent(tmp_path, checkpoint):
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  backbone.restore(checkpoint, allow_missing=False)
  path = export.export_saved_model(backbone, str(tmp_path / 'served'), ['C2'], precision='bfloat16')
  serve = tf.saved_model.load(path).signatures['serving_default']
  images = np.random.RandomState(33).uniform(-1, 1, [2, 33, 35, 3]).astype(np.float32)
  served = serve(images=tf.constant(images))
  want = _graph_outputs(checkpoint, 33)
  for name in ('output', 'C2'):
    assert served[name].dtype == tf.float32
    error = np.abs(served[name].numpy() - want[name]).max() / np.abs(want[name]).max()
    assert 1e-4 < error < 0.05, (name, error)
  with pytest.raises(ValueError, match=r"precision must be one of float32, bfloat16, got 'float16'"):
    export.export_saved_model(backbone, str(tmp_path / 'other'), precision='float16')

def test_a_saved_model_of_one_input_size_takes_that_size_and_serves_what_the_any_size_one_does(tmp_path,
                                                                                              checkpoint):
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  backbone.restore(checkpoint, allow_missing=False)
  fixed = tf.saved_model.load(export.export_saved_model(backbone, str(tmp_path / 'fixed'), ['C2'],
                                                        input_size=(33, 35)))
  signatures = {name: fixed.signatures[name].structured_input_signature[1]['images']
                for name in ('serving_default', 'serving_uint8')}
  assert {name: (spec.shape.as_list(), spec.dtype) for name, spec in signatures.items()} == {
      'serving_default': ([None, 33, 35, 3], tf.float32), 'serving_uint8': ([None, 33, 35, 3], tf.uint8)}
  images = np.random.RandomState(33).uniform(-1, 1, [2, 33, 35, 3]).astype(np.float32)
  served = fixed.signatures['serving_default'](images=tf.constant(images))
  want = _graph_outputs(checkpoint, 33)
  for name in ('output', 'C2'):
    np.testing.assert_allclose(served[name].numpy(), want[name], rtol=1e-4, atol=1e-5)
  for name, dtype in (('serving_default', tf.float32), ('serving_uint8', tf.uint8)):
    # a signature does not check the shapes it is called with: the model itself refuses another size
    with pytest.raises(tf.errors.InvalidArgumentError, match=r'this model takes images of 33x35 \(its input_size\), '
                                                             r'got shape.*\[1 47 35 3\]'):
      fixed.signatures[name](images=tf.zeros([1, 47, 35, 3], dtype))
  with pytest.raises(ValueError, match=r'input_size must be \(height, width\) of positive ints, got \(33, 0\)'):
    export.export_saved_model(backbone, str(tmp_path / 'other'), input_size=(33, 0))
  assert not os.path.exists(tmp_path / 'other')


def test_export_refuses_an_existing_output_and_unknown_levels(tmp_path):
  (tmp_path / 'taken').mkdir()
  backbone = models.Backbone('resnet_v1_50', **THIN)
  with pytest.raises(FileExistsError, match='already exists; pass --overwrite'):
    export.export_saved_model(backbone, str(tmp_path / 'taken'))
  with pytest.raises(ValueError, match='resnet_v1_50 has no feature level C7; it has C1, C2, C3, C4, C5'):
    export.export_saved_model(backbone, str(tmp_path / 'new'), ['C7'])
  assert sorted(os.listdir(tmp_path)) == ['taken'] and not backbone.variables


def test_failed_export_leaves_nothing_and_keeps_the_previous_one(tmp_path, monkeypatch):
  backbone = models.Backbone('resnet_v1_50', **THIN)
  (tmp_path / 'served').mkdir()
  (tmp_path / 'served' / 'saved_model.pb').write_bytes(b'previous')

  def fail(*args, **kwargs):
    os.makedirs(os.path.join(args[1], 'variables'))  # a partial write, then a failure
    raise OSError('disk full')

  monkeypatch.setattr(tf.saved_model, 'save', fail)
  with pytest.raises(OSError, match='disk full'):
    export.export_saved_model(backbone, str(tmp_path / 'served'), overwrite=True)
  assert sorted(os.listdir(tmp_path)) == ['served']
  assert (tmp_path / 'served' / 'saved_model.pb').read_bytes() == b'previous'


def test_cli_export(tmp_path, capsys):
  output = tmp_path / 'model'
  status = cli.main(['export', '--network', 'resnet_v1_50', '--output', str(output), '--output-stride', '16',
                     '--features', 'C2,C5'])
  assert status == 0
  assert capsys.readouterr().out.strip() == (
      f'wrote {output}: serving_default(images: float32 [batch, height, width, 3]) -> output, C2, C5')
  serve = tf.saved_model.load(str(output)).signatures['serving_default']
  outputs = serve(images=tf.zeros([1, 65, 65, 3]))
  assert {name: value.shape.as_list() for name, value in outputs.items()} == {
      'output': [1, 5, 5, 2048], 'C2': [1, 17, 17, 256], 'C5': [1, 5, 5, 2048]}
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['export', '--network', 'resnet_v1_50', '--output', str(output)])
  assert exit_info.value.code == 2
  assert 'already exists; pass --overwrite to replace it (see --help)' in capsys.readouterr().err
  assert cli.main(['export', '--network', 'mobilenet_v2_035', '--output', str(tmp_path / 'sized'), '--input-size',
                   '65,97', '--quiet']) == 0
  assert capsys.readouterr().out.strip() == (
      f"wrote {tmp_path / 'sized'}: serving_default(images: float32 [batch, 65, 97, 3]) -> output")
  spec = tf.saved_model.load(str(tmp_path / 'sized')).signatures['serving_default'].structured_input_signature[1]
  assert spec['images'].shape.as_list() == [None, 65, 97, 3]


def test_saved_model_holds_the_weights_as_constants_not_variables(tmp_path, checkpoint):
  """As `Predictor` runs them: a graph that reads variables folds batch norm and re-lays out every filter at
  every call (1.2x Predictor's time for resnet_v1_50 before; benchmarks/deployment.py measures it)."""
  backbone = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  backbone.restore(checkpoint)
  path = export.export_saved_model(backbone, str(tmp_path / 'served'))
  folder = os.path.join(path, 'variables')
  weight_bytes = sum(v.numpy().nbytes for v in backbone.variables_by_name.values())
  assert sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder)) < weight_bytes / 100  # no copy
  serve = tf.saved_model.load(path).signatures['serving_default']
  graph = serve.graph.as_graph_def()
  ops = {node.op for node in graph.node} | {node.op for f in graph.library.function for node in f.node_def}
  assert not ops & {'ReadVariableOp', 'VarHandleOp', 'ResourceGather'}
  conv1 = backbone.variables_by_name['resnet_v1_50/conv1/weights']
  conv1.assign_add(tf.ones_like(conv1))  # after the export: not seen
  images = np.random.RandomState(33).uniform(-1, 1, [2, 33, 35, 3]).astype(np.float32)  # _graph_outputs' images
  np.testing.assert_allclose(serve(images=tf.constant(images))['output'].numpy(),
                             _graph_outputs(checkpoint, 33)['output'], rtol=1e-4, atol=1e-4)
