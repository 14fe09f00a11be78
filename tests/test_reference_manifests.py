"""Every network matches research/slim exactly: variables, end points, collections (tests/data/reference)."""

import functools
import glob
import json
import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tf_slim as slim

from nets import nets_factory

_DATA = os.path.join(os.path.dirname(__file__), 'data', 'reference')
_MANIFESTS = {os.path.basename(p)[:-5]: p for p in sorted(glob.glob(os.path.join(_DATA, '*.json')))}
_BUILDS = [(name, build) for name, path in _MANIFESTS.items() for build in json.load(open(path))['builds']]


def test_every_registered_network_has_a_manifest():
  assert sorted(_MANIFESTS) == sorted(nets_factory.REGISTRY)


def _with_our_end_points(expected):
  """research/slim's end points, and the one we add: ResNet v2's '<scope>/postnorm' (the final normalization,
  level C5) after '<scope>/block4', of its shape. Nothing else differs."""
  items = []
  for name, shape in expected.items():
    items.append((name, shape))
    scope, _, last = name.rpartition('/')
    if last == 'block4' and scope.startswith('resnet_v2_') and '/' not in scope:
      items.append((f'{scope}/postnorm', shape))
  return items


@pytest.mark.parametrize('network,build', _BUILDS)
def test_build_matches_research_slim(graph, network, build):
  expected = json.load(open(_MANIFESTS[network]))['builds'][build]
  spec = nets_factory.get_spec(network)
  images = tf.compat.v1.placeholder(tf.float32, expected['input_shape'])
  with warnings.catch_warnings():
    warnings.simplefilter('error')  # a build emits no warnings at all
    with slim.arg_scope(spec.arg_scope()):
      fn = spec.base_fn if build.startswith('base_') else spec.fn
      if build.startswith('base_'):  # the network's own arguments (conv_defs), the manifest's where it gives them
        fn = functools.partial(fn.func, **{k: v for k, v in fn.keywords.items() if k not in expected['args']})
      net, end_points = fn(images, **expected['args'])

  assert net.shape.as_list() == expected['output_shape']
  assert [(k, v.shape.as_list()) for k, v in end_points.items()] == _with_our_end_points(expected['end_points'])
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)) == expected['update_ops']
  assert len(graph.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)) == expected['regularization_losses']
  if 'variables' in expected:
    trainable = set(tf.compat.v1.trainable_variables())
    variables = [[v.op.name, v.shape.as_list(), v in trainable] for v in tf.compat.v1.global_variables()]
    assert variables == expected['variables']
    assert len(tf.compat.v1.model_variables()) == expected['model_variables']
    # Besides the model variables only a global step, which the large NASNets' drop-path creates in training
    # (inside their first cell, where research/slim creates it).
    others = set(tf.compat.v1.global_variables()) - set(tf.compat.v1.model_variables())
    assert others == set(graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_STEP))
    assert len(others) == len(expected['variables']) - expected['model_variables']
    assert sum(int(np.prod(v.shape)) for v in trainable) == expected['trainable_parameters']

