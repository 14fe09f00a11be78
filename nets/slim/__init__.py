"""tf-slim's public API with this project's layers in place of tf-slim's: the one-line port of a tf-slim program.

`import nets.slim as slim` instead of `import tf_slim as slim` is the whole port. Every name of `tf_slim` is here
(arg scopes, variables, losses, learning, metrics, data, ...), unchanged, except the layers of
`nets.slim.layers.REPLACED`, which are this project's: the same arguments, defaults, variable names and
collections, and the same arg scope keys (so scopes opened on either module's layers reach both), built from
`tf.compat.v1.get_variable` and `tf.nn` ops without TensorFlow's legacy Keras layers. tf-slim's `batch_norm`
fails on TF 2.21 without tf-keras; this one does not. Nothing in `tf_slim` or TensorFlow is modified.

`slim.layers` is `nets.slim.layers`, which also offers the initializers and regularizers research/slim reaches
through it (`slim.layers.l2_regularizer`, `slim.layers.variance_scaling_initializer`).
"""

# pylint: disable=wildcard-import,unused-wildcard-import,redefined-builtin
import importlib

from tf_slim import *  # tf-slim's public API; the names below replace its layers

from nets.slim.layers import REPLACED
from nets.slim.layers import avg_pool2d
from nets.slim.layers import batch_norm
from nets.slim.layers import conv2d
from nets.slim.layers import conv2d_transpose
from nets.slim.layers import convolution2d
from nets.slim.layers import convolution2d_transpose
from nets.slim.layers import dropout
from nets.slim.layers import elu
from nets.slim.layers import flatten
from nets.slim.layers import fully_connected
from nets.slim.layers import linear
from nets.slim.layers import max_pool2d
from nets.slim.layers import relu
from nets.slim.layers import relu6
from nets.slim.layers import separable_conv2d
from nets.slim.layers import separable_convolution2d
from nets.slim.layers import softmax

# `from tf_slim import *` bound `layers` to tf-slim's module; an explicit import, since `from nets.slim import
# layers` would return that existing name.
layers = importlib.import_module('nets.slim.layers')
