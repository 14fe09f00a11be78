"""Layers of the networks, built on public TensorFlow ops, usable under `slim.arg_scope`.

Each layer has the keyword arguments, defaults, variable names and collections of the tf-slim 1.1.0 layer of
the same name, but builds its graph with `tf.compat.v1.get_variable` and `tf.nn` ops directly instead of going
through TensorFlow's legacy Keras layers (which tf-slim's `batch_norm` needs from tf-keras, and which make graph
construction slow).

Each layer also shares its arg_scope key with the tf-slim layer it replaces, so that existing code such as
`slim.arg_scope([slim.batch_norm], is_training=False)` configures these layers, and scopes opened on these layers
configure tf-slim's. Nesting and precedence follow `slim.arg_scope` exactly, because both write the same entry.

By concern: `scopes` (shared arg scope entries, the build lock and `building`, the way into a build; per-thread
arg scopes), `context` (what whoever runs a network asks of its layers: batch norm folded, another moving
average decay, the regularizers collected; one `BuildOptions` per thread), `variables` (model
variables, regularizers, initializers), `normalization` (batch norm, its folding and synchronization),
`convolution` (convolutions, fully connected, flatten), `pooling` (pools, dropout, softmax); `arguments` holds the
checks they share. The names below are the layers' API: `from nets import layers; layers.conv2d(...)`.
"""

from nets.layers.context import BuildOptions
from nets.layers.context import build_options
from nets.layers.convolution import conv2d
from nets.layers.convolution import conv2d_transpose
from nets.layers.convolution import flatten
from nets.layers.convolution import fully_connected
from nets.layers.convolution import he_conv2d_scope
from nets.layers.convolution import separable_conv2d
from nets.layers.normalization import batch_norm
from nets.layers.normalization import batch_norm_folded_for_inference
from nets.layers.normalization import moving_average_decay
from nets.layers.pooling import avg_pool2d
from nets.layers.pooling import dropout
from nets.layers.pooling import max_pool2d
from nets.layers.pooling import softmax
from nets.layers.scopes import BUILD_LOCK
from nets.layers.scopes import building
from nets.layers.scopes import own_layer
from nets.layers.scopes import per_thread_arg_scopes
from nets.layers.scopes import use_per_thread_arg_scopes
from nets.layers.variables import VarianceScaling
from nets.layers.variables import model_variable
from nets.layers.variables import regularizers_collected_into
