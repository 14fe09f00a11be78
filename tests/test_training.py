"""Training in graph mode: the loss falls, moving averages update through UPDATE_OPS, weight decay is applied."""

import numpy as np
import tensorflow as tf
import tf_slim as slim

from nets import resnet_v1


def test_a_few_steps_reduce_the_loss_and_update_batch_norm(graph):
  rng = np.random.RandomState(0)
  images = rng.uniform(-1, 1, [8, 32, 32, 3]).astype(np.float32)
  labels = np.arange(8) % 2
  images[labels == 1] += 0.5  # a learnable difference between the classes
  with slim.arg_scope(resnet_v1.resnet_arg_scope(weight_decay=1e-4)):
    logits, _ = resnet_v1.resnet_v1_50(tf.constant(images), num_classes=2, is_training=True,
                                       depth_multiplier=0.0625, min_base_depth=4)
  data_loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
  regularization = tf.compat.v1.losses.get_regularization_loss()
  loss = data_loss + regularization
  update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
  with tf.control_dependencies(update_ops):
    train_op = tf.compat.v1.train.AdamOptimizer(1e-3).minimize(loss)

  weights = [v for v in tf.compat.v1.trainable_variables() if v.op.name.endswith('/weights')]
  assert len(tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES)) == len(weights) == 54
  moving_mean = next(v for v in tf.compat.v1.global_variables()
                     if v.op.name == 'resnet_v1_50/conv1/BatchNorm/moving_mean')
  with tf.compat.v1.Session() as sess:
    sess.run(tf.compat.v1.global_variables_initializer())
    expected_decay = 1e-4 * sum(np.sum(w ** 2) / 2 for w in sess.run(weights))
    np.testing.assert_allclose(sess.run(regularization), expected_decay, rtol=1e-5)
    first = sess.run(data_loss)
    for _ in range(15):
      sess.run(train_op)
    last = sess.run(data_loss)
    assert np.any(sess.run(moving_mean) != 0)
  assert last < 0.5 * first
