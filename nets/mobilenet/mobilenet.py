"""A builder of MobileNets written as data, with research/slim's API (nets/mobilenet/mobilenet.py) and names.

A network definition ("conv defs") is a dict: 'spec', the list of layers as `op(layer_fn, **params)`, and
'defaults' (and optionally 'overrides'), `{(layer_fn, ...): {argument: value}}` arg scopes set around the whole
network. `mobilenet_base` walks the spec: layer i is end point 'layer_<i>', each block's named tensors become
'layer_<i>/<name>' (e.g. 'layer_4/depthwise_output'), the channels follow `multiplier`, and past a requested
`output_stride` the strides become atrous rates. `mobilenet` adds the global pool and the 1x1 logits.

    with slim.arg_scope(mobilenet.training_scope(is_training=False)):
      logits, end_points = mobilenet.mobilenet(images, conv_defs=mobilenet_v2.V2_DEF, scope='MobilenetV2')
"""

import collections
import contextlib
import functools
from typing import Callable, Iterator, Mapping, Optional

import tensorflow as tf
import tf_slim as slim

from nets import atrous
from nets import checks
from nets import layers
from nets.mobilenet import conv_blocks

Op = collections.namedtuple('Op', ['op', 'params', 'multiplier_func'])


@slim.add_arg_scope
def depth_multiplier(output_params: dict, multiplier: float, divisible_by: int = 8, min_depth: int = 8,
                     **unused_kwargs) -> None:
  """Scales `output_params['num_outputs']` (if present) by `multiplier`, rounded to a multiple of `divisible_by`
  and at least `min_depth`."""
  del unused_kwargs
  if 'num_outputs' in output_params:
    output_params['num_outputs'] = conv_blocks.make_divisible(output_params['num_outputs'] * multiplier,
                                                              divisible_by, min_depth)


def op(opfunc: Callable, **params) -> Op:
  """One layer of a spec: `opfunc(net, **params)`; `multiplier_transform=f(params, multiplier)` replaces the
  default channel scaling (`depth_multiplier`)."""
  multiplier_func = params.pop('multiplier_transform', depth_multiplier)
  return Op(opfunc, params=params, multiplier_func=multiplier_func)


@contextlib.contextmanager
def _arg_scopes(scopes: Mapping) -> Iterator[None]:
  """Enters `slim.arg_scope(fns, **arguments)` for each `fns: arguments` item, outermost first."""
  with contextlib.ExitStack() as stack:
    for fns, arguments in (scopes.items() if hasattr(scopes, 'items') else scopes):
      fns = fns if isinstance(fns, (list, tuple)) else (fns,)
      stack.enter_context(slim.arg_scope(list(fns), **arguments))
    yield


def _layer_names(conv_defs: Mapping) -> list:
  return [f'layer_{i + 1}' for i in range(len(conv_defs['spec']))]


def reachable_output_strides(conv_defs: Mapping) -> list:
  """The output strides `conv_defs` can run at: 1 and the running product of its layers' strides."""
  strides, current = [1], 1
  for opdef in conv_defs['spec']:
    current *= checks.int_pair(opdef.params.get('stride', 1), 'stride')[0]
    if current not in strides:
      strides.append(current)
  return strides


def check_base_arguments(conv_defs: Mapping, multiplier, final_endpoint: Optional[str], output_stride,
                         caller: str, multiplier_name: str = 'multiplier') -> Optional[int]:
  """The checks of `mobilenet_base`'s arguments, done before anything is built; returns `output_stride` as an int.

  Raises:
    ValueError: naming `caller` and the argument, for a `multiplier` <= 0, an unknown `final_endpoint` or an
      `output_stride` the layers cannot reach.
  """
  if not isinstance(conv_defs, Mapping) or 'spec' not in conv_defs:
    raise ValueError(f'{caller}: conv_defs must be a dict with a \'spec\' list of op(...) layers, got '
                     f'{type(conv_defs).__name__}')
  try:
    checks.check_depth_multiplier(multiplier, caller)
  except ValueError:
    raise ValueError(f'{caller}: {multiplier_name} must be a number > 0, got {multiplier!r}') from None
  names = _layer_names(conv_defs)
  if final_endpoint is not None and final_endpoint not in names:
    raise ValueError(f'{caller}: final_endpoint must be None (the whole base) or one of layer_1 .. '
                     f'{names[-1]}, got {final_endpoint!r}')
  output_stride = checks.as_int(output_stride)
  atrous.check_output_stride(output_stride, reachable_output_strides(conv_defs), caller)
  return output_stride


@slim.add_arg_scope
def mobilenet_base(inputs: tf.Tensor, conv_defs: Mapping, multiplier: float = 1.0,
                   final_endpoint: Optional[str] = None, output_stride: Optional[int] = None,
                   use_explicit_padding: bool = False, scope=None, is_training=False):
  """The network of `conv_defs` from `inputs` to `final_endpoint`, without pooling or logits.

  Args:
    inputs: `[batch, height, width, channels]`.
    conv_defs: the network definition (see the module docstring).
    multiplier: scales every layer's `num_outputs` (> 0), through the arg-scoped `depth_multiplier`.
    final_endpoint: the last layer to build, 'layer_<i>'; None builds all.
    output_stride: None (nominal) or a stride the layers reach (1 and the running products of their strides,
      e.g. 8 or 16): the later layers run at stride 1, atrous.
    use_explicit_padding: pad explicitly and convolve VALID, so outputs do not depend on the input parity.
    scope: variable scope, default 'Mobilenet'.
    is_training: batch norm mode inside the network (False: inference, even under a training arg scope; None:
      the arg scope's or batch norm's default).

  Returns:
    (the last layer's output, {'layer_<i>': output, then 'layer_<i>/<name>': each block's named tensor}).

  Raises:
    ValueError: for bad `inputs`, `multiplier`, `final_endpoint` or `output_stride`, before anything is built.
  """
  caller = 'mobilenet_base'
  checks.check_images(inputs, caller)
  output_stride = check_base_arguments(conv_defs, multiplier, final_endpoint, output_stride, caller)
  overrides = dict(conv_defs.get('overrides', {}))
  if use_explicit_padding:
    overrides[(layers.conv2d, layers.separable_conv2d)] = {'padding': 'VALID'}
  end_points, inner = {}, {}
  with tf.compat.v1.variable_scope(scope, default_name='Mobilenet'), \
      slim.arg_scope([layers.batch_norm], **_mode(is_training)), \
      _arg_scopes(conv_defs.get('defaults', {})), _arg_scopes(overrides):
    current_stride, rate = 1, 1
    net = inputs
    for name, opdef in zip(_layer_names(conv_defs), conv_defs['spec']):
      params = dict(opdef.params)
      opdef.multiplier_func(params, multiplier)
      stride = checks.int_pair(params.get('stride', 1), 'stride')[0]
      if output_stride is not None and current_stride == output_stride:
        layer_stride, layer_rate = 1, rate
        rate *= stride
      else:
        layer_stride, layer_rate = stride, 1
        current_stride *= stride
      params['stride'] = layer_stride
      if layer_rate > 1:
        params['rate'] = layer_rate
      _stride_fused_expansion(params, layer_stride, layer_rate)
      if use_explicit_padding:
        if 'kernel_size' in params:
          net = conv_blocks.fixed_padding(net, params['kernel_size'], layer_rate)
        else:
          params['use_explicit_padding'] = True
      with conv_blocks.collected_outputs() as outputs:
        net = layers.own_layer(opdef.op)(net, **params)
      end_points[name] = net
      inner.update((f'{name}/{key}', tensor) for key, tensor in outputs.items())
      if name == final_endpoint:
        break
  end_points.update(inner)
  return net, end_points


def _stride_fused_expansion(params: dict, stride: int, rate: int) -> None:
  """A fused block's expansion (MobileNet-EdgeTPU's `mbv3_fused`: a full convolution in place of the 1x1
  expansion and depthwise pair, `functools.partial(conv2d, kernel_size=k, stride=s)`) takes the stride and rate
  the block runs at, so that it too turns atrous past the output stride (research/slim keeps its stride)."""
  expansion = params.get('expansion_fn')
  if isinstance(expansion, functools.partial) and 'stride' in expansion.keywords:
    keywords = {**expansion.keywords, 'stride': stride, **({'rate': rate} if rate > 1 else {})}
    params['expansion_fn'] = functools.partial(expansion.func, *expansion.args, **keywords)


def _unpooled(conv_defs: Mapping) -> Mapping:
  """`conv_defs` with each head pool (`conv_blocks.reduce_to_1x1`, MobileNet v3's) keeping the map: the layers
  after it then run at every position, as the logits do with `global_pool=False`."""
  if not any(opdef.op is conv_blocks.reduce_to_1x1 for opdef in conv_defs['spec']):
    return conv_defs
  spec = [Op(_keep_map, {}, opdef.multiplier_func) if opdef.op is conv_blocks.reduce_to_1x1 else opdef
          for opdef in conv_defs['spec']]
  return {**conv_defs, 'spec': spec}


def _keep_map(input_tensor: tf.Tensor, **unused_kwargs) -> tf.Tensor:
  del unused_kwargs
  return tf.identity(input_tensor, name='keep_map')


def features_endpoint(conv_defs: Mapping) -> Optional[str]:
  """The last layer before the first head pool (`conv_blocks.reduce_to_1x1`), or None: where the features of a
  network without classes end when it does not pool ('layer_17' for MobileNet v3 large)."""
  for name, opdef in zip(_layer_names(conv_defs), conv_defs['spec']):
    if opdef.op is conv_blocks.reduce_to_1x1:
      return f'layer_{int(name.split("_")[1]) - 1}'
  return None


def global_pool(input_tensor: tf.Tensor, pool_op: Callable = tf.nn.avg_pool2d) -> tf.Tensor:
  """The average over height and width, `[batch, 1, 1, channels]`: an average pool over the whole map when its
  size is static, else a mean."""
  shape = checks.static_shape(input_tensor)
  if shape[1] is None or shape[2] is None:
    return tf.reduce_mean(input_tensor, [1, 2], keepdims=True, name='global_pool')
  return pool_op(input_tensor, ksize=[1, shape[1], shape[2], 1], strides=[1, 1, 1, 1], padding='VALID')


@slim.add_arg_scope
def mobilenet(inputs: tf.Tensor, num_classes: Optional[int] = 1001, prediction_fn: Optional[Callable] = layers.softmax,
              reuse=None, scope='Mobilenet', base_only: bool = False, *, global_pool: bool = True,
              **mobilenet_args):
  """A MobileNet classifier: `mobilenet_base`, a global average pool, dropout and 1x1 logits.

  Args:
    inputs: `[batch, height, width, channels]`.
    num_classes: classes of the logits; None or 0 returns the pooled features (end point 'global_pool').
    prediction_fn: applied to the logits for end point 'Predictions' (None: no predictions).
    reuse: reuse the variables of `scope`.
    scope: variable scope.
    base_only: return `mobilenet_base`'s output and end points.
    global_pool: (keyword only, not in research/slim) False keeps the feature map: the logits are then a 1x1
      convolution at every position, `[batch, height, width, num_classes]`, and without classes the features
      are `mobilenet_base`'s. A head pool in the spec (MobileNet v3's `reduce_to_1x1`) then keeps the map too,
      and without classes the features end before it (at `features_endpoint`) unless `final_endpoint` is given.
    **mobilenet_args: `mobilenet_base`'s arguments: conv_defs, multiplier, final_endpoint, output_stride,
      use_explicit_padding, is_training (also the dropout mode).

  Returns:
    (logits, or the pooled features without classes, {end points of the base, 'global_pool', 'Logits',
    'Predictions'}).
  """
  caller = scope if isinstance(scope, str) else 'mobilenet'
  checks.check_images(inputs, caller)
  num_classes = checks.check_num_classes(num_classes, caller)
  if 'conv_defs' not in mobilenet_args:
    raise ValueError(f'{caller}: conv_defs is required (e.g. mobilenet_v2.V2_DEF)')
  mobilenet_args['output_stride'] = check_base_arguments(
      mobilenet_args['conv_defs'], mobilenet_args.get('multiplier', 1.0), mobilenet_args.get('final_endpoint'),
      mobilenet_args.get('output_stride'), caller)
  is_training = mobilenet_args.get('is_training', False)
  if not global_pool:
    if not num_classes and mobilenet_args.get('final_endpoint') is None:
      mobilenet_args['final_endpoint'] = features_endpoint(mobilenet_args['conv_defs'])
    mobilenet_args['conv_defs'] = _unpooled(mobilenet_args['conv_defs'])
  with layers.BUILD_LOCK, tf.compat.v1.variable_scope(scope, 'Mobilenet', reuse=reuse) as sc:
    inputs = tf.identity(inputs, 'input')
    net, end_points = mobilenet_base(inputs, scope=sc, **mobilenet_args)
    if base_only or (not global_pool and not num_classes):
      return net, end_points
    net = tf.identity(net, name='embedding')
    with tf.compat.v1.variable_scope('Logits'):
      if global_pool:
        net = _global_pool(net)
        end_points['global_pool'] = net
      if not num_classes:
        return net, end_points
      net = layers.dropout(net, scope='Dropout', is_training=is_training)
      logits = layers.conv2d(net, num_classes, [1, 1], activation_fn=None, normalizer_fn=None,
                             biases_initializer=tf.compat.v1.zeros_initializer(), scope='Conv2d_1c_1x1')
      if global_pool:
        logits = tf.squeeze(logits, [1, 2])
      logits = tf.identity(logits, name='output')
    end_points['Logits'] = logits
    if prediction_fn:
      end_points['Predictions'] = prediction_fn(logits, 'Predictions')
  return logits, end_points


_global_pool = global_pool  # `mobilenet`'s keyword argument shadows the function inside it


def _mode(is_training) -> dict:
  """{'is_training': is_training} for an arg scope, or {} for None: research/slim's `safe_arg_scope` leaves a
  None mode to an outer scope or the layer's default."""
  return {} if is_training is None else {'is_training': is_training}


def training_scope(is_training: bool = True, weight_decay: float = 0.00004, stddev: float = 0.09,
                   dropout_keep_prob: float = 0.8, bn_decay: float = 0.997, *,
                   batch_norm_updates_collections=tf.compat.v1.GraphKeys.UPDATE_OPS):
  """The MobileNet training arg scope: truncated-normal weights (Xavier for `stddev` < 0), L2 decay on the
  convolutions but not the depthwise ones, batch norm after every layer, and the training mode.

  Args:
    is_training: the mode of batch norm, dropout and the builders (research/slim's default: True); None leaves
      batch norm's and dropout's to an outer arg scope or their defaults.
    weight_decay: L2 weight of the (non-depthwise) convolution kernels.
    stddev: standard deviation of the truncated normal initializer; < 0: Xavier.
    dropout_keep_prob: kept fraction of the dropout before the logits.
    bn_decay: decay of the batch norm moving averages.
    batch_norm_updates_collections: (keyword only, not in research/slim) where batch norm puts its moving
      average updates; None applies them in place.
  """
  if stddev < 0:
    initializer = tf.compat.v1.glorot_uniform_initializer()
  else:
    initializer = tf.compat.v1.truncated_normal_initializer(stddev=stddev)
  mode = _mode(is_training)
  with slim.arg_scope([layers.conv2d, layers.fully_connected, layers.separable_conv2d],
                      weights_initializer=initializer, normalizer_fn=layers.batch_norm), \
      slim.arg_scope([mobilenet_base, mobilenet], is_training=is_training), \
      slim.arg_scope([layers.batch_norm], decay=bn_decay, updates_collections=batch_norm_updates_collections,
                     **mode), \
      slim.arg_scope([layers.dropout], keep_prob=dropout_keep_prob, **mode), \
      slim.arg_scope([layers.conv2d], weights_regularizer=slim.l2_regularizer(weight_decay)), \
      slim.arg_scope([layers.separable_conv2d], weights_regularizer=None) as scope:
    return scope
