"""research/slim's MobileNet library: what its own tests specify about the arg scopes."""

import tensorflow as tf
import tf_slim as slim

from nets import layers
from nets.mobilenet import mobilenet
from nets.mobilenet import mobilenet_v2


def test_training_scope_leaves_a_none_mode_out_of_batch_norm_and_dropout():
  """research/slim's testBatchNormScopeDoesNotHaveIsTrainingWhenItsSetToNone, and its counterpart."""
  norm, drop = slim.arg_scope_func_key(layers.batch_norm), slim.arg_scope_func_key(layers.dropout)
  unset = mobilenet.training_scope(is_training=None)
  assert 'is_training' not in unset[norm] and 'is_training' not in unset[drop]
  assert unset[norm]['decay'] == 0.997 and unset[drop]['keep_prob'] == 0.8
  assert mobilenet.training_scope(is_training=False)[norm]['is_training'] is False
  assert mobilenet.training_scope()[norm]['is_training'] is True


def _update_ops(outer_mode):
  with tf.Graph().as_default():
    with slim.arg_scope([layers.batch_norm], **outer_mode), \
        slim.arg_scope(mobilenet_v2.training_scope(is_training=None)):
      mobilenet_v2.mobilenet(tf.zeros([1, 32, 32, 3]), 5, depth_multiplier=0.25)
    return len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS))


def test_a_none_mode_lets_the_outer_scope_or_batch_norms_default_decide():
  assert _update_ops({'is_training': False}) == 0  # the outer scope: inference
  assert _update_ops({}) == 2 * 52  # batch norm's default, training: a mean and a variance update per layer
