"""Shared fixtures: each test builds in a fresh default graph.

`--tf-behavior=v1` runs the suite as TF1 programs run: `tf.compat.v1.disable_v2_behavior()` is applied before
any test is collected (V1 `TensorShape`s of `Dimension`s, ref variables by default, v1 control flow, no eager
execution). Tests marked `eager` need TF2 behaviour and are skipped there, with the reason.
"""

import functools
import http.server
import os
import threading

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import hypothesis  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position
import tf_slim as slim  # pylint: disable=wrong-import-position

from nets import resnet_utils  # pylint: disable=wrong-import-position
from nets import resnet_v1  # pylint: disable=wrong-import-position
from nets import resnet_v2  # pylint: disable=wrong-import-position

# The fuzzing suite (test_fuzz.py): a fast profile for CI, `--hypothesis-profile=long` to explore more.
hypothesis.settings.register_profile('ci', max_examples=250, deadline=None, print_blob=True,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.register_profile('long', max_examples=3000, deadline=None, print_blob=True,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
# The v1 run fuzzes the same strategies with fewer examples (its concern is TF1's size types); the v2 run explores.
hypothesis.settings.register_profile('ci_v1', max_examples=120, deadline=None, print_blob=True,
                                     suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile('ci')



def pytest_addoption(parser):
  parser.addoption('--tf-behavior', choices=('v2', 'v1'), default='v2',
                   help='v1: run with tf.compat.v1.disable_v2_behavior(), as TF1 programs do')


def pytest_configure(config):
  config.addinivalue_line('markers', 'eager: needs TF2 behaviour (eager execution); skipped with --tf-behavior=v1')
  config.addinivalue_line('markers', 'once: checks static facts that no TF behaviour changes (the registry\'s '
                                     'declarations); run in the v2 run only')
  config.addinivalue_line('markers', 'tf1: a TF1 program\'s path whose TF2-behaviour counterpart other tests cover '
                                     '(every network in a graph: the manifests, the registry); run in the v1 run only')
  if config.getoption('--tf-behavior') == 'v1':
    tf.compat.v1.disable_v2_behavior()
    if config.getoption('hypothesis_profile', None) in (None, 'ci'):
      hypothesis.settings.load_profile('ci_v1')


def pytest_collection_modifyitems(config, items):
  if config.getoption('--tf-behavior') != 'v1':
    v1_only = pytest.mark.skip(reason='a TF1 program\'s path, checked in the --tf-behavior=v1 run')
    for item in items:
      if item.get_closest_marker('tf1'):
        item.add_marker(v1_only)
    return
  skip = pytest.mark.skip(reason='needs TF2 behaviour (eager execution); this run has disable_v2_behavior()')
  once = pytest.mark.skip(reason='a static fact, checked in the v2 run')
  for item in items:
    if item.get_closest_marker('eager'):
      item.add_marker(skip)
    elif item.get_closest_marker('once'):
      item.add_marker(once)


def tf1_behavior() -> bool:
  """Whether this run has `tf.compat.v1.disable_v2_behavior()` applied."""
  return not tf.compat.v1.executing_eagerly_outside_functions()


RESNET_VERSIONS = {'v1': (resnet_v1.resnet_v1, resnet_v1.resnet_v1_block),
                   'v2': (resnet_v2.resnet_v2, resnet_v2.resnet_v2_block)}


@pytest.fixture
def graph():
  """A fresh graph, made the default for the test, with a fixed graph-level seed."""
  g = tf.Graph()
  with g.as_default():
    tf.compat.v1.set_random_seed(1234)
    yield g


def run(graph_, fetches, feed_dict=None):
  """Initializes the graph's variables and evaluates `fetches` once."""
  with tf.compat.v1.Session(graph=graph_) as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    return sess.run(fetches, feed_dict)


def evaluate(tensors):
  """The values of `tensors` (a nest): `.numpy()` eagerly, or one session run of their graph under TF1 behaviour."""
  if tf.executing_eagerly():
    return tf.nest.map_structure(lambda t: t.numpy(), tensors)
  with tf.compat.v1.Session(graph=tf.nest.flatten(tensors)[0].graph) as sess:
    return sess.run(tensors)


def first_batch(dataset):
  """The first element of a `tf.data` dataset, in either TF behaviour."""
  if tf.executing_eagerly():
    return evaluate(next(iter(dataset)))
  return evaluate(tf.compat.v1.data.make_one_shot_iterator(dataset).get_next())


def tiny_resnet(version, inputs, **kwargs):
  """A ResNet with 4 blocks of 2, 2, 2, 1 units and output depths 4, 8, 16, 32 (nominal stride 32), scope 'tiny'."""
  network, block = RESNET_VERSIONS[version]
  blocks = [block('block1', 1, 2, 2), block('block2', 2, 2, 2), block('block3', 4, 2, 2), block('block4', 8, 1, 1)]
  with slim.arg_scope(resnet_utils.resnet_arg_scope()):
    return network(inputs, blocks, scope='tiny', **kwargs)


def atrous_rate(graph, scope: str) -> int:
  """The rate of the convolution built in `scope`: small rates run between SpaceToBatchND and BatchToSpaceND
  (its block shape is the rate), large ones as one Conv2D with dilations (`nets.layers.convolution`), plain ones
  as one Conv2D."""
  blocks = [op for op in graph.get_operations() if op.type == 'SpaceToBatchND' and op.name.startswith(scope + '/')]
  if not blocks:
    convolution = [op for op in graph.get_operations() if op.type == 'Conv2D' and op.name.startswith(scope + '/')]
    assert len(convolution) == 1, [op.name for op in convolution]
    dilations = list(convolution[0].get_attr('dilations'))
    assert dilations[1] == dilations[2], dilations
    return dilations[1]
  (block,) = blocks
  rates = tuple(int(r) for r in tf.get_static_value(block.inputs[1]))
  assert rates[0] == rates[1], rates
  return rates[0]


def randomize_variables(sess, seed=0):
  """Random values for every variable, moving statistics included, so that equalities are not trivial."""
  rng = np.random.RandomState(seed)
  feed = {}
  variables = tf.compat.v1.global_variables()
  for v in variables:
    shape = v.shape.as_list()
    value = rng.uniform(0.5, 1.5, shape) if 'moving_variance' in v.name else rng.normal(0, 0.1, shape)
    feed[v.initializer.inputs[1]] = value.astype(np.float32)  # what Variable.load feeds, in one run for all
  sess.run([v.initializer for v in variables], feed)


def run_in_fresh_python(code: str, *args: str, cwd: str) -> dict:
  """Runs `code` in a new interpreter without this project on its path and returns its last output line as
  JSON (the SavedModel tests: what a server without slimnets sees)."""
  import json  # pylint: disable=import-outside-toplevel
  import subprocess  # pylint: disable=import-outside-toplevel
  import sys  # pylint: disable=import-outside-toplevel
  env = {key: value for key, value in os.environ.items() if key != 'PYTHONPATH'}
  env['TF_CPP_MIN_LOG_LEVEL'] = '3'
  out = subprocess.run([sys.executable, '-c', code, *args], capture_output=True, text=True, cwd=cwd, env=env,
                       check=False)
  assert out.returncode == 0, out.stderr[-3000:]
  return json.loads(out.stdout.strip().splitlines()[-1])


def free_ports(count: int) -> list:
  """`count` TCP ports free on 127.0.0.1 (a local cluster's workers, TF_CONFIG)."""
  import socket  # pylint: disable=import-outside-toplevel
  sockets = [socket.socket() for _ in range(count)]
  for s in sockets:
    s.bind(('127.0.0.1', 0))
  ports = [s.getsockname()[1] for s in sockets]
  for s in sockets:
    s.close()
  return ports


def finish_processes(processes, timeout: float) -> list:
  """[(returncode, stdout, stderr)] of `subprocess.Popen` processes (text pipes), waited for up to `timeout`
  seconds each; any still running then (a worker left waiting for its peer) is killed, not left behind."""
  try:
    outputs = [process.communicate(timeout=timeout) for process in processes]
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  return [(process.returncode, out, err) for process, (out, err) in zip(processes, outputs)]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
  """Serves a folder without logging; remembers the paths asked for (`requests`)."""
  requests = []

  def log_message(self, *args):
    del args

  def do_GET(self):  # pylint: disable=invalid-name
    QuietHandler.requests.append(self.path)
    super().do_GET()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
  """An HTTP server on 127.0.0.1 serving a folder of archives the tests build."""
  root = tmp_path_factory.mktemp('served')
  handler = functools.partial(QuietHandler, directory=str(root))
  httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  thread = threading.Thread(target=httpd.serve_forever, daemon=True)
  thread.start()
  yield root, f'http://127.0.0.1:{httpd.server_address[1]}/'
  httpd.shutdown()
