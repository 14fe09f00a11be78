"""`slim.layers` of `nets.slim`: tf-slim's layers module with this project's layers in place of tf-slim's.

In tf-slim 1.1.0, `slim.layers` is the module `tf_slim.layers.layers`, which lacks the initializers and
regularizers that research/slim code still reaches through it (`slim.layers.l2_regularizer` and
`slim.layers.variance_scaling_initializer` in the MobileNet v1 and NASNet arg scopes). This module offers both
the layers and everything of the `tf_slim.layers` package, so those calls work as they were written.
"""

# pylint: disable=wildcard-import,unused-wildcard-import,redefined-builtin
import functools

import tensorflow as tf
from tf_slim.layers import *  # the package: initializers, regularizers, normalization, optimizers, ...
from tf_slim.layers.layers import *  # its layers; the ones below replace tf-slim's
from tf_slim.layers.layers import DATA_FORMAT_NCDHW
from tf_slim.layers.layers import DATA_FORMAT_NCHW
from tf_slim.layers.layers import DATA_FORMAT_NDHWC
from tf_slim.layers.layers import DATA_FORMAT_NHWC
from tf_slim.layers.layers import poincare_normalize
from tf_slim.ops.arg_scope import add_arg_scope

from nets.layers import avg_pool2d
from nets.layers import batch_norm
from nets.layers import conv2d
from nets.layers import conv2d_transpose
from nets.layers import dropout
from nets.layers import flatten
from nets.layers import fully_connected
from nets.layers import max_pool2d
from nets.layers import separable_conv2d
from nets.layers import softmax

del layers  # the name of tf-slim's own submodule, brought in by the package's wildcard import

# tf-slim's aliases and shorthands, on the layers above.
convolution2d = conv2d
convolution2d_transpose = conv2d_transpose
separable_convolution2d = separable_conv2d
linear = functools.partial(fully_connected, activation_fn=None)
relu = functools.partial(fully_connected, activation_fn=tf.nn.relu)
relu6 = functools.partial(fully_connected, activation_fn=tf.nn.relu6)
elu = functools.partial(fully_connected, activation_fn=tf.nn.elu)

REPLACED = ('avg_pool2d', 'batch_norm', 'conv2d', 'conv2d_transpose', 'convolution2d', 'convolution2d_transpose',
            'dropout', 'elu', 'flatten', 'fully_connected', 'linear', 'max_pool2d', 'relu', 'relu6',
            'separable_conv2d', 'separable_convolution2d', 'softmax')
