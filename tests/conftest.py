"""Shared fixtures: each test builds in a fresh default graph."""

import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position


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
