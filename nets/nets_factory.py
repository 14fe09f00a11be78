"""The network factory: one registry entry per network, and research/slim's `get_network_fn`.

Everything known about a network is declared once, in its `NetworkSpec`: the function and its arg scope, sizes
and strides, preprocessing, feature levels, the variables that follow the input channels and the classes, and
its published checkpoint. The CLI, features, checkpoint adaptation, fetching and export read these; the tests
check each declaration against the built network. `networks_map` and
`arg_scopes_map` are views of the registry for code written against research/slim's factory.

The registry itself imports no TensorFlow: functions are named ('nets.resnet_v1:resnet_v1_50') and imported
when first used, so the CLI checks its arguments against the declarations before TensorFlow loads.
"""

import collections.abc
import dataclasses
import difflib
import functools
import importlib
import inspect
from typing import Callable, Iterator, Mapping, Optional, Sequence, Tuple


_TF_MODELS = 'https://download.tensorflow.org/models/'


@dataclasses.dataclass(frozen=True)
class Level:
  """A feature pyramid level of the nominal network (output_stride None) under its default scope.

  Attributes:
    name: 'C1'..'C5'; level Ck is the last end point on the trunk (every path from the image goes through it)
      at stride 2**k.
    end_point: its end point name, e.g. 'resnet_v1_50/block1/unit_2/bottleneck_v1'.
    stride: 2**k.
    channels: its channels at depth_multiplier 1.
  """
  name: str
  end_point: str
  stride: int
  channels: int


@dataclasses.dataclass(frozen=True)
class Archive:
  """A published checkpoint archive.

  Attributes:
    url: where it is downloaded from.
    checkpoint: the file name of the checkpoint prefix inside the archive ('resnet_v1_50.ckpt', 'model.ckpt'),
      in whatever folder the archive puts it.
    num_classes: the classes of its head, or None when only the backbone's variables are known to be there.
    size: its size in bytes, where a public record of it is known (`PUBLISHED_FILES`), else None.
    digest: 'ALGORITHM:HEX' (a `hashlib` name, e.g. 'sha256:31ab...') of the archive, where one is known, else None.
  """
  url: str
  checkpoint: str
  num_classes: Optional[int]
  size: Optional[int] = None
  digest: Optional[str] = None


# Sizes and checksums of the published archives, by file name, as public download manifests record them
# (OpenVINO's Open Model Zoo `model.yml` files; Yocto recipes' SRC_URI checksums, which agree with them where both
# list a file). tensorflow.org publishes none itself; archives missing here are checked by Content-Length and by
# their variables only.
PUBLISHED_FILES = {
    'inception_v1_2016_08_28.tar.gz': (
        24642554, 'sha256:7a620c430fcaba8f8f716241f5148c4c47c035cce4e49ef02cfbe6cd1adf96a6'),
    'inception_v2_2016_08_28.tar.gz': (
        41577079, 'sha384:c0b2efbae8fc5e237ae67637dca3f311d4b4f7da576b56067e83d95c398a2fcc'
                  'd50baff9cc0de64335f4d7b78e1adb07'),
    'mobilenet_v1_1.0_224.tgz': (
        94321559, 'sha256:2fadeabb9968ec6833bee903900dda6e61b3947200535874ce2fe42a8493abc0'),
    'mobilenet_v1_0.5_224.tgz': (
        29969407, 'sha256:98cf7a39552f73920cb99617cfa9b88d5732a87abf9ec14f7cc7f3ade1db0aaa'),
    'mobilenet_v2_1.0_224.tgz': (
        78306834, 'sha256:318084bc1b63d6d7b854553e09cdf77078b1c0168be27c59a0d44253b5ed49dc'),
    'mobilenet_v2_1.4_224.tgz': (
        135977516, 'sha256:a20d0c8d698502dc6a620528871c97a588885df7737556243a3412b39fce85e0'),
    'mobilenet_v2_0.35_224.tgz': (
        None, 'sha256:efcc34277c52f7dd4b0b26c2f52686793f4ea5fdddc899ac5aac9eb8d5861550'),
}


def _archive(url: str, checkpoint: str, num_classes: Optional[int]) -> Archive:
  """The archive at `url`, with its size and checksum where `PUBLISHED_FILES` knows them."""
  size, digest = PUBLISHED_FILES.get(url.rsplit('/', 1)[-1], (None, None))
  return Archive(url, checkpoint, num_classes, size, digest)


@dataclasses.dataclass(frozen=True)
class Minimum:
  """A network's smallest input height and width, declared as data so that it is known before TensorFlow loads
  (tests/test_registry.py builds at it and fails one pixel below).

  Called as `minimum(with_classes) -> (size, reason)`.

  Attributes:
    size: without the classification head (features), and with it unless `with_classes` says otherwise.
    reason: why.
    with_classes: the size with the head, where the head needs more (an auxiliary head's VALID pool).
    head_reason: why the head needs that.
  """
  size: int
  reason: str
  with_classes: Optional[int] = None
  head_reason: str = ''

  def __call__(self, with_classes: bool) -> Tuple[int, str]:
    if with_classes and self.with_classes is not None:
      return self.with_classes, f'{self.reason}; {self.head_reason}'
    return self.size, self.reason


def _resolve(reference: str) -> Callable:
  """The object named 'package.module:attribute', imported now."""
  module, _, attribute = reference.partition(':')
  return getattr(importlib.import_module(module), attribute)


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
  """What the project knows about one network, declared once (tests/test_registry.py checks every fact
  against the built network).

  Attributes:
    name: the factory name, e.g. 'resnet_v1_50'.
    function: 'module:name' of the network function `fn(images, num_classes, is_training=..., ...) ->
      (net, end_points)`, imported as `fn`.
    scope_function: 'module:name' of the function returning its arg scope (`arg_scope`), taking
      `weight_decay` and batch norm options.
    default_image_size: the input height and width the network was trained at.
    nominal_stride: the output stride of the last feature map without atrous convolution.
    output_strides: the `output_stride` values `fn` takes besides None, ascending; () if it takes none.
    preprocessing: 'vgg' (mean subtraction, ResNet v1 checkpoints) or 'inception' (scaling to [-1, 1]).
    value_range: the range of the preprocessed pixel values the network sees.
    minimum_input_size: `f(with_classes) -> (size, reason)` (a `Minimum`, or a function importing nothing):
      the smallest input height and width the network builds at, with or without its head, and why.
    levels: its feature levels C1..C5.
    input_variables: the variables whose shapes follow the number of input channels (the first convolution).
    class_variables: the variables whose shapes follow the number of classes (logits, auxiliary logits).
    num_classes: the classes of its ImageNet head: 1000, or 1001 with a background class first.
    archive: its published checkpoint, or None.
    multi_grid: how many rates its `multi_grid` option takes (one per unit of the last block); 0: no such option.
    base_function: 'module:name' of the features-only function of research/slim's `*_base` kind, where the
      network has one (`base_fn`), and `base_defaults`, the keyword arguments that make it this network's.
    decoder_end_points: ((stride, end point), ...): the low-level features DeepLab's decoder takes from this
      backbone at each decoder output stride (research/deeplab's `networks_to_feature_maps`), under the default
      scope; () where DeepLab has none. The networks that declare them are DeepLab's model variants
      (`DEEPLAB_VARIANTS`).
  """
  name: str
  function: str
  scope_function: str
  default_image_size: int
  nominal_stride: int
  output_strides: Tuple[int, ...]
  preprocessing: str
  value_range: Tuple[float, float]
  minimum_input_size: Callable[[bool], Tuple[int, str]]
  levels: Tuple[Level, ...]
  input_variables: Tuple[str, ...]
  class_variables: Tuple[str, ...]
  num_classes: int
  archive: Optional[Archive] = None
  multi_grid: int = 0
  base_function: Optional[str] = None
  base_defaults: Tuple[Tuple[str, object], ...] = ()
  decoder_end_points: Tuple[Tuple[int, str], ...] = ()

  @property
  def fn(self) -> Callable:
    """The network function."""
    return _resolve(self.function)

  @property
  def arg_scope(self) -> Callable:
    """The function returning the network's arg scope."""
    return _resolve(self.scope_function)

  @property
  def base_fn(self) -> Optional[Callable]:
    """The features-only function with this network's defaults (`functools.partial`), or None."""
    if self.base_function is None:
      return None
    return functools.partial(_resolve(self.base_function), **dict(self.base_defaults))

  @property
  def options(self) -> Tuple[str, ...]:
    """The keyword arguments of `fn` beyond images, num_classes, is_training, reuse and scope."""
    return tuple(p for p in inspect.signature(self.fn).parameters
                 if p not in ('inputs', 'input_tensor', 'num_classes', 'is_training', 'reuse', 'scope'))

  def decoder_end_point(self, stride: int) -> str:
    """The end point DeepLab's decoder takes at `stride` (4, 8 or 16).

    Raises:
      ValueError: naming the strides the network has one for.
    """
    points = dict(self.decoder_end_points)
    if stride not in points:
      held = f'at strides {sorted(points)}' if points else 'at no stride'
      raise ValueError(f'{self.name} has no DeepLab decoder feature at stride {stride!r}; it has one {held}')
    return points[stride]

  @property
  def head_scopes(self) -> Tuple[str, ...]:
    """The scopes of its classification heads ('resnet_v1_50/logits', 'InceptionV3/AuxLogits', 'vgg_16/fc8'):
    the first two parts of each class variable's name. A build without classes has none of their variables."""
    return tuple(dict.fromkeys('/'.join(name.split('/')[:2]) for name in self.class_variables))

  @property
  def label_offset(self) -> int:
    """1 when the ImageNet head has a background class first (1001 classes), else 0."""
    return self.num_classes - 1000

  def level(self, name: str) -> Level:
    """The declared level `name`.

    Raises:
      ValueError: naming the levels the network has.
    """
    for level in self.levels:
      if level.name == name:
        return level
    raise ValueError(f'{self.name} has no feature level {name}; it has {", ".join(l.name for l in self.levels)}')

  def published(self) -> Archive:
    """Its published checkpoint.

    Raises:
      ValueError: when it has none, naming the networks that have one.
    """
    if self.archive is None:
      with_one = ', '.join(name for name, spec in REGISTRY.items() if spec.archive)
      raise ValueError(f'{self.name} has no published TF-Slim checkpoint; networks with one: {with_one}')
    return self.archive

  def takes(self, option: str) -> bool:
    """Whether the network takes `output_stride` or `multi_grid`, as declared (no import)."""
    return bool(self.output_strides if option == 'output_stride' else self.multi_grid)

  def check_usage(self, output_stride: Optional[int] = None, multi_grid: Optional[Sequence[int]] = None) -> None:
    """What the declarations alone refute, before TensorFlow loads: the same errors the network would raise.

    Raises:
      ValueError: for an `output_stride` or `multi_grid` the network does not take or of the wrong value.
    """
    self.build_options(None, output_stride, multi_grid)
    if output_stride is not None and output_stride not in self.output_strides:
      raise ValueError(f'{self.name}: output_stride must be None (nominal, {self.nominal_stride}) or one of '
                       f'{list(self.output_strides)}, got {output_stride!r}')
    if multi_grid is not None and len(multi_grid) != self.multi_grid:
      raise ValueError(f'{self.name}: multi_grid must be None or {self.multi_grid} int rates >= 1, one per unit '
                       f'of its last block, got {tuple(multi_grid)!r}')

  def build_options(self, num_classes: Optional[int] = None, output_stride: Optional[int] = None,
                    multi_grid: Optional[Sequence[int]] = None) -> dict:
    """Keyword arguments of `fn` for a backbone: a head pools globally (any size), features stay dense.

    Raises:
      ValueError: for `output_stride` or `multi_grid` given to a network without them, naming those with them.
    """
    options = {'global_pool': bool(num_classes)}
    for name, value in (('output_stride', output_stride), ('multi_grid', multi_grid)):
      if value is None:
        continue
      if not self.takes(name):
        others = ', '.join(spec.name for spec in REGISTRY.values() if spec.takes(name))
        raise ValueError(f'{self.name} has no {name} option (it runs at its nominal stride '
                         f'{self.nominal_stride}); networks with it: {others}')
      options[name] = tuple(value) if name == 'multi_grid' else value
    return options

  def check_arguments(self, kwargs: Mapping) -> None:
    """Raises ValueError naming the keyword arguments that `fn` does not take (e.g. output_stride)."""
    unknown = sorted(set(kwargs) - set(self.options))
    if unknown:
      raise ValueError(f'{self.name} does not take {", ".join(unknown)}; it takes {", ".join(self.options)}')


_VGG_RANGE = (-124.0, 152.0)  # [0, 255] minus the ImageNet channel means (123.68, 116.78, 103.94)
_UNIT_RANGE = (-1.0, 1.0)


def _resnet_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally or is 1x1
  return 1, ('every convolution and pool pads SAME, so a layer of stride s maps n pixels to ceil(n / s) >= 1: '
             'any size builds, and below the nominal stride the last feature maps stay 1x1')


def _resnet_levels(scope: str, unit: str, units: Tuple[int, int, int], stem: Tuple[str, int]) -> Tuple[Level, ...]:
  """ResNet levels: the stem, then the unit before each block's strided last one, then block4 (v1), or its
  normalization 'postnorm' (v2: the pre-activation design normalizes only after the last block).

  research/slim strides the last unit of blocks 1-3, so `blockN` itself is at twice the stride of its units.
  """
  levels = [Level('C1', f'{scope}/{stem[0]}', 2, stem[1])]
  for k, (count, depth) in enumerate(zip(units, (256, 512, 1024)), start=2):
    levels.append(Level(f'C{k}', f'{scope}/block{k - 1}/unit_{count - 1}/{unit}', 2 ** k, depth))
  last = 'postnorm' if unit == 'bottleneck_v2' else 'block4'
  return tuple(levels + [Level('C5', f'{scope}/{last}', 32, 2048)])


_RESNET_UNITS = {50: (3, 4, 6), 101: (3, 4, 23), 152: (3, 8, 36), 200: (3, 24, 36)}
_RESNET_ARCHIVES = {('v1', 50): '2016_08_28', ('v1', 101): '2016_08_28', ('v1', 152): '2016_08_28',
                    ('v2', 50): '2017_04_14', ('v2', 101): '2017_04_14', ('v2', 152): '2017_04_14'}


def _resnet(version: str, depth: int) -> NetworkSpec:
  name = f'resnet_{version}_{depth}'
  num_classes = 1000 if version == 'v1' else 1001
  date = _RESNET_ARCHIVES.get((version, depth))
  return NetworkSpec(
      name, f'nets.resnet_{version}:{name}', f'nets.resnet_{version}:resnet_arg_scope', default_image_size=224,
      nominal_stride=32, multi_grid=3,
      output_strides=(4, 8, 16, 32), preprocessing='vgg' if version == 'v1' else 'inception',
      value_range=_VGG_RANGE if version == 'v1' else _UNIT_RANGE, minimum_input_size=_resnet_minimum_input_size,
      levels=_resnet_levels(name, f'bottleneck_{version}', _RESNET_UNITS[depth], ('conv1', 64)),
      input_variables=(f'{name}/conv1/weights',), class_variables=(f'{name}/logits/weights', f'{name}/logits/biases'),
      num_classes=num_classes,
      archive=_archive(f'{_TF_MODELS}{name}_{date}.tar.gz', f'{name}.ckpt', num_classes) if date else None,
      decoder_end_points=_resnet_decoder_end_points(name, depth) if version == 'v1' and depth <= 101 else ())


def _resnet_decoder_end_points(scope: str, depth: int) -> Tuple[Tuple[int, str], ...]:
  """DeepLab's decoder features of ResNet v1 (and beta): the last conv of the unit before each strided one."""
  units = _RESNET_UNITS[depth]
  return tuple((2 ** k, f'{scope}/block{k - 1}/unit_{units[k - 2] - 1}/bottleneck_v1/conv3') for k in (2, 3, 4))


def _resnet_beta(depth: int) -> NetworkSpec:
  name, scope = f'resnet_v1_{depth}_beta', f'resnet_v1_{depth}'
  return NetworkSpec(
      name, f'nets.resnet_v1_beta:{name}', 'nets.resnet_v1_beta:resnet_arg_scope', default_image_size=224,
      multi_grid=3,
      nominal_stride=32, output_strides=(4, 8, 16, 32), preprocessing='inception', value_range=_UNIT_RANGE,
      minimum_input_size=_resnet_minimum_input_size,
      levels=_resnet_levels(scope, 'bottleneck_v1', _RESNET_UNITS[depth], ('conv1_3', 128)),
      input_variables=(f'{scope}/conv1_1/weights',),
      class_variables=(f'{scope}/logits/weights', f'{scope}/logits/biases'), num_classes=1000,
      # DeepLab's ImageNet-pretrained backbone; its model zoo does not say whether the logits are kept.
      archive=_archive(f'{_TF_MODELS}resnet_v1_{depth}_2018_05_04.tar.gz', 'model.ckpt', None),
      decoder_end_points=_resnet_decoder_end_points(scope, depth))


def _xception_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally or is 1x1
  return 1, ('every strided convolution pads explicitly by its kernel extent and the others pad SAME, so a layer of '
             'stride s maps n pixels to ceil(n / s) >= 1: any size builds')


def _mobilenet_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  reason = ('every convolution pads SAME (or explicitly, the same amount), so a layer of stride s maps n pixels to '
            'ceil(n / s) >= 1')
  if with_classes:
    reason += '; the 7x7 average pool of the head shrinks to the feature map when that is smaller'
  return 1, reason


def _mobilenet_v1(multiplier: float, suffix: str, archive_multiplier: str) -> NetworkSpec:
  name = 'mobilenet_v1' + suffix
  depth = lambda d: max(int(d * multiplier), 8)
  end_points = (('C1', 'Conv2d_1_pointwise', 64), ('C2', 'Conv2d_3_pointwise', 128),
                ('C3', 'Conv2d_5_pointwise', 256), ('C4', 'Conv2d_11_pointwise', 512),
                ('C5', 'Conv2d_13_pointwise', 1024))
  checkpoint = f'mobilenet_v1_{archive_multiplier}_224'
  return NetworkSpec(
      name, f'nets.mobilenet_v1:{name}', 'nets.mobilenet_v1:mobilenet_v1_arg_scope', default_image_size=224,
      nominal_stride=32, output_strides=(8, 16, 32), preprocessing='inception', value_range=_UNIT_RANGE,
      minimum_input_size=_mobilenet_minimum_input_size,
      levels=tuple(Level(level, point, 2 ** (k + 1), depth(d)) for k, (level, point, d) in enumerate(end_points)),
      input_variables=('MobilenetV1/Conv2d_0/weights',),
      class_variables=('MobilenetV1/Logits/Conv2d_1c_1x1/weights', 'MobilenetV1/Logits/Conv2d_1c_1x1/biases'),
      num_classes=1001,
      archive=_archive(f'{_TF_MODELS}mobilenet_v1_2018_08_02/{checkpoint}.tgz', f'{checkpoint}.ckpt', 1001),
      base_function='nets.mobilenet_v1:mobilenet_v1_base', base_defaults=(('depth_multiplier', multiplier),))


def _mobilenet_v2(multiplier: float, suffix: str, channels: Tuple[int, ...]) -> NetworkSpec:
  name = 'mobilenet_v2' + suffix
  # The last block at each stride (the first conv's block included), and the 1x1 convolution at stride 32.
  points = ('layer_2', 'layer_4', 'layer_7', 'layer_14', 'layer_19')
  checkpoint = f'mobilenet_v2_{multiplier}_224'
  return NetworkSpec(
      name, f'nets.mobilenet.mobilenet_v2:{"mobilenet" if not suffix else name}',
      'nets.mobilenet.mobilenet_v2:training_scope', default_image_size=224, nominal_stride=32,
      output_strides=(1, 2, 4, 8, 16, 32), preprocessing='inception', value_range=_UNIT_RANGE,
      minimum_input_size=_mobilenet_v2_minimum_input_size,
      levels=tuple(Level(f'C{k}', point, 2 ** k, depth) for k, (point, depth) in enumerate(zip(points, channels), 1)),
      input_variables=('MobilenetV2/Conv/weights',),
      class_variables=('MobilenetV2/Logits/Conv2d_1c_1x1/weights', 'MobilenetV2/Logits/Conv2d_1c_1x1/biases'),
      num_classes=1001,
      archive=_archive(f'https://storage.googleapis.com/mobilenet_v2/checkpoints/{checkpoint}.tgz',
                      f'{checkpoint}.ckpt', 1001),
      base_function='nets.mobilenet.mobilenet_v2:mobilenet_base', base_defaults=(('depth_multiplier', multiplier),),
      # DeepLab's 'mobilenet_v2' model variant; its other depths are `ModelOptions.depth_multiplier`.
      decoder_end_points=((4, 'layer_4/depthwise_output'), (8, 'layer_7/depthwise_output'),
                          (16, 'layer_14/depthwise_output')) if not suffix else ())


def _mobilenet_v2_minimum_input_size(with_classes: bool) -> Tuple[int, str]:
  del with_classes  # the head pools globally
  return 1, ('every convolution pads SAME (or explicitly, the same amount), so a layer of stride s maps n pixels to '
             'ceil(n / s) >= 1: any size builds')


_XCEPTION_ARCHIVES = {41: 'xception_41_2018_05_09.tar.gz', 65: 'deeplabv3_xception_2018_01_04.tar.gz',
                      71: 'xception_71_2018_05_09.tar.gz'}


def _xception(layers_count: int) -> NetworkSpec:
  name = f'xception_{layers_count}'
  # The last entry flow block at strides 4 and 8: Xception-71 has a stride-1 block after each strided one.
  c2, c3 = (('block2', 256), ('block4', 728)) if layers_count == 71 else (('block1', 128), ('block2', 256))
  levels = (Level('C1', f'{name}/entry_flow/conv1_2', 2, 64),
            Level('C2', f'{name}/entry_flow/{c2[0]}', 4, c2[1]),
            Level('C3', f'{name}/entry_flow/{c3[0]}', 8, c3[1]),
            Level('C4', f'{name}/middle_flow/block1', 16, 728),
            Level('C5', f'{name}/exit_flow/block2', 32, 2048))
  return NetworkSpec(
      name, f'nets.xception:{name}', 'nets.xception:xception_arg_scope', default_image_size=299, nominal_stride=32,
      multi_grid=3,
      output_strides=(2, 4, 8, 16, 32), preprocessing='inception', value_range=_UNIT_RANGE,
      minimum_input_size=_xception_minimum_input_size, levels=levels,
      input_variables=(f'{name}/entry_flow/conv1_1/weights',),
      class_variables=(f'{name}/logits/weights', f'{name}/logits/biases'), num_classes=1001,
      # DeepLab's ImageNet-pretrained backbones; its model zoo does not say whether the logits are kept.
      archive=_archive(_TF_MODELS + _XCEPTION_ARCHIVES[layers_count], 'model.ckpt', None),
      decoder_end_points=tuple(
          (stride, f'{name}/{flow}/unit_1/xception_module/separable_conv2_pointwise') for stride, flow in zip(
              (4, 8, 16), (('entry_flow/block3', 'entry_flow/block5') if layers_count == 71 else
                           ('entry_flow/block2', 'entry_flow/block3')) + ('exit_flow/block1',))))


# The Inception networks' VALID stems and reductions (inception_v3.minimum_input_size() and the like compute these
# from the layer specs; the registry states them without importing TensorFlow).
_VALID_INCEPTION = 'the VALID convolutions and pools of the stem, Mixed_6a and Mixed_7a need 75x75 for a 1x1 '
_AUX_HEAD = 'the auxiliary head (create_aux_logits=True) needs 107x107 for its 5x5/3 VALID pool on '
_MINIMUMS = {
    'inception_v3': Minimum(75, _VALID_INCEPTION + 'Mixed_7c', 107, _AUX_HEAD + 'Mixed_6e'),
    'inception_resnet_v2': Minimum(75, _VALID_INCEPTION + 'Conv2d_7b_1x1', 107, _AUX_HEAD + 'PreAuxLogits'),
    'inception_v4': Minimum(75, _VALID_INCEPTION + 'Mixed_7d', 107, _AUX_HEAD + 'Mixed_6h'),
    'inception_v1': Minimum(193, "the base pads SAME (any size), but the head's 7x7 VALID average pool needs Mixed_5c "
                                 'of at least 7x7, i.e. 193x193; global_pool=True (or inception_v1_base) builds at '
                                 'any size'),
    'inception_v2': Minimum(1, "every convolution and pool pads SAME and the head's 7x7/2 average pool shrinks to "
                               'smaller maps: any size builds'),
}
for _name, _kernel, _minimum, _what in (('vgg', 7, 224, 'max pools'),
                                        ('alexnet_v2', 5, 195, 'convolutions and max pools'),
                                        ('overfeat', 6, 231, 'convolutions and max pools')):
  _MINIMUMS[_name] = Minimum(_minimum, f'the VALID {_what} of the trunk leave pool5 at least {_kernel}x{_kernel} only '
                                       f'from {_minimum}x{_minimum} up, and fc6 is a {_kernel}x{_kernel} VALID '
                                       'convolution on it')

_VGG_CONVS = {'vgg_a': (1, 1, 2, 2, 2), 'vgg_16': (2, 2, 3, 3, 3), 'vgg_19': (2, 2, 4, 4, 4)}


def _vgg(name: str) -> NetworkSpec:
  convs = _VGG_CONVS[name]
  # The last convolution before each pool from pool1 on (stride 2..16), and fc7, what FCN predicts from.
  levels = tuple(Level(f'C{k}', f'{name}/conv{k + 1}/conv{k + 1}_{convs[k]}', 2 ** k, (128, 256, 512, 512)[k - 1])
                 for k in range(1, 5)) + (Level('C5', f'{name}/fc7', 32, 4096),)
  return NetworkSpec(
      name, f'nets.vgg:{name}', 'nets.vgg:vgg_arg_scope', default_image_size=224, nominal_stride=32,
      output_strides=(), preprocessing='vgg', value_range=_VGG_RANGE,
      minimum_input_size=_MINIMUMS['vgg'], levels=levels,
      input_variables=(f'{name}/conv1/conv1_1/weights',), class_variables=(f'{name}/fc8/weights', f'{name}/fc8/biases'),
      num_classes=1000,
      archive=(_archive(f'{_TF_MODELS}{name}_2016_08_28.tar.gz', f'{name}.ckpt', 1000) if name != 'vgg_a' else None))


def _strided_stem(name: str, function: str) -> NetworkSpec:
  """AlexNet v2 and OverFeat: conv1 is 11x11/4, so there is no stride-2 level; no published checkpoints, and
  research/slim builds them with ImageNet's 1001 classes."""
  module, _, function_name = function.partition(':')
  channels = {'alexnet_v2': (64, 192, 256), 'overfeat': (64, 256, 1024)}[name]
  return NetworkSpec(
      name, function, f'{module}:{function_name}_arg_scope', default_image_size=224 if name == 'alexnet_v2' else 231,
      nominal_stride=32, output_strides=(), preprocessing='vgg', value_range=_VGG_RANGE,
      minimum_input_size=_MINIMUMS[name],
      levels=(Level('C2', f'{name}/conv1', 4, channels[0]), Level('C3', f'{name}/conv2', 8, channels[1]),
              Level('C4', f'{name}/conv5', 16, channels[2]), Level('C5', f'{name}/fc7', 32, 4096)),
      input_variables=(f'{name}/conv1/weights',), class_variables=(f'{name}/fc8/weights', f'{name}/fc8/biases'),
      num_classes=1001)


REGISTRY = {spec.name: spec for spec in [
    NetworkSpec(
        'inception_v3', 'nets.inception_v3:inception_v3', 'nets.inception_v3:inception_v3_arg_scope',
        default_image_size=299,
        nominal_stride=32, output_strides=(), preprocessing='inception', value_range=_UNIT_RANGE,
        minimum_input_size=_MINIMUMS['inception_v3'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Conv2d_4a_3x3', 4, 192),
                Level('C3', 'Mixed_5d', 8, 288), Level('C4', 'Mixed_6e', 16, 768), Level('C5', 'Mixed_7c', 32, 2048)),
        input_variables=('InceptionV3/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionV3/AuxLogits/Conv2d_2b_1x1/weights', 'InceptionV3/AuxLogits/Conv2d_2b_1x1/biases',
                         'InceptionV3/Logits/Conv2d_1c_1x1/weights', 'InceptionV3/Logits/Conv2d_1c_1x1/biases'),
        num_classes=1001,
        archive=_archive(f'{_TF_MODELS}inception_v3_2016_08_28.tar.gz', 'inception_v3.ckpt', 1001)),
    *(_resnet('v1', depth) for depth in (50, 101, 152, 200)),
    *(_resnet('v2', depth) for depth in (50, 101, 152, 200)),
    *(_resnet_beta(depth) for depth in (50, 101)),
    _mobilenet_v1(1.0, '', '1.0'), _mobilenet_v1(0.75, '_075', '0.75'), _mobilenet_v1(0.5, '_050', '0.5'),
    _mobilenet_v1(0.25, '_025', '0.25'),
    _mobilenet_v2(1.0, '', (16, 24, 32, 96, 1280)), _mobilenet_v2(1.4, '_140', (24, 32, 48, 136, 1792)),
    # Fine-grain classification mode keeps the last layer's 1280 channels.
    _mobilenet_v2(0.35, '_035', (8, 8, 16, 32, 1280)),
    *(_xception(layers_count) for layers_count in (41, 65, 71)),
    *(_vgg(name) for name in _VGG_CONVS),
    _strided_stem('alexnet_v2', 'nets.alexnet:alexnet_v2'),
    _strided_stem('overfeat', 'nets.overfeat:overfeat'),
    NetworkSpec(
        'inception_v1', 'nets.inception_v1:inception_v1', 'nets.inception_v1:inception_v1_arg_scope',
        default_image_size=224, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=_UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v1'],
        levels=(Level('C1', 'Conv2d_1a_7x7', 2, 64), Level('C2', 'Conv2d_2c_3x3', 4, 192),
                Level('C3', 'Mixed_3c', 8, 480), Level('C4', 'Mixed_4f', 16, 832), Level('C5', 'Mixed_5c', 32, 1024)),
        input_variables=('InceptionV1/Conv2d_1a_7x7/weights',),
        class_variables=('InceptionV1/Logits/Conv2d_0c_1x1/weights', 'InceptionV1/Logits/Conv2d_0c_1x1/biases'),
        num_classes=1001,
        archive=_archive(f'{_TF_MODELS}inception_v1_2016_08_28.tar.gz', 'inception_v1.ckpt', 1001),
        base_function='nets.inception_v1:inception_v1_base'),
    NetworkSpec(
        'inception_v2', 'nets.inception_v2:inception_v2', 'nets.inception_v2:inception_v2_arg_scope',
        default_image_size=224, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=_UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v2'],
        levels=(Level('C1', 'Conv2d_1a_7x7', 2, 64), Level('C2', 'Conv2d_2c_3x3', 4, 192),
                Level('C3', 'Mixed_3c', 8, 320), Level('C4', 'Mixed_4e', 16, 576), Level('C5', 'Mixed_5c', 32, 1024)),
        # the separable first layer: its depthwise filters per input channel, and the pointwise mixing of them
        input_variables=('InceptionV2/Conv2d_1a_7x7/depthwise_weights', 'InceptionV2/Conv2d_1a_7x7/pointwise_weights'),
        class_variables=('InceptionV2/Logits/Conv2d_1c_1x1/weights', 'InceptionV2/Logits/Conv2d_1c_1x1/biases'),
        num_classes=1001,
        archive=_archive(f'{_TF_MODELS}inception_v2_2016_08_28.tar.gz', 'inception_v2.ckpt', 1001),
        base_function='nets.inception_v2:inception_v2_base'),
    NetworkSpec(
        'inception_resnet_v2', 'nets.inception_resnet_v2:inception_resnet_v2',
        'nets.inception_resnet_v2:inception_resnet_v2_arg_scope', default_image_size=299, nominal_stride=32,
        output_strides=(), preprocessing='inception', value_range=_UNIT_RANGE,
        minimum_input_size=_MINIMUMS['inception_resnet_v2'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Conv2d_4a_3x3', 4, 192),
                Level('C3', 'Mixed_5b', 8, 320), Level('C4', 'PreAuxLogits', 16, 1088),
                Level('C5', 'Conv2d_7b_1x1', 32, 1536)),
        input_variables=('InceptionResnetV2/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionResnetV2/AuxLogits/Logits/weights', 'InceptionResnetV2/AuxLogits/Logits/biases',
                         'InceptionResnetV2/Logits/Logits/weights', 'InceptionResnetV2/Logits/Logits/biases'),
        num_classes=1001,
        archive=_archive(f'{_TF_MODELS}inception_resnet_v2_2016_08_30.tar.gz', 'inception_resnet_v2_2016_08_30.ckpt',
                        1001),
        base_function='nets.inception_resnet_v2:inception_resnet_v2_base'),
    NetworkSpec(
        'inception_v4', 'nets.inception_v4:inception_v4', 'nets.inception_v4:inception_v4_arg_scope',
        default_image_size=299, nominal_stride=32, output_strides=(), preprocessing='inception',
        value_range=_UNIT_RANGE, minimum_input_size=_MINIMUMS['inception_v4'],
        levels=(Level('C1', 'Conv2d_2b_3x3', 2, 64), Level('C2', 'Mixed_4a', 4, 192),
                Level('C3', 'Mixed_5e', 8, 384), Level('C4', 'Mixed_6h', 16, 1024), Level('C5', 'Mixed_7d', 32, 1536)),
        input_variables=('InceptionV4/Conv2d_1a_3x3/weights',),
        class_variables=('InceptionV4/AuxLogits/Aux_logits/weights', 'InceptionV4/AuxLogits/Aux_logits/biases',
                         'InceptionV4/Logits/Logits/weights', 'InceptionV4/Logits/Logits/biases'),
        num_classes=1001,
        archive=_archive(f'{_TF_MODELS}inception_v4_2016_09_09.tar.gz', 'inception_v4.ckpt', 1001),
        base_function='nets.inception_v4:inception_v4_base'),
]}
# research/deeplab's model variants: the backbones DeepLab's heads are put on (those with decoder features).
DEEPLAB_VARIANTS = tuple(name for name, spec in REGISTRY.items() if spec.decoder_end_points)

class _View(collections.abc.Mapping):
  """A read-only name -> object view of the registry, importing each network's module on first access."""

  def __init__(self, attribute: str):
    self._attribute = attribute

  def __getitem__(self, name: str):
    return getattr(REGISTRY[name], self._attribute)

  def __iter__(self) -> Iterator[str]:
    return iter(REGISTRY)

  def __len__(self) -> int:
    return len(REGISTRY)


networks_map = _View('fn')
arg_scopes_map = _View('arg_scope')


def get_spec(name: str) -> NetworkSpec:
  """Returns the registry entry of network `name`.

  Raises:
    ValueError: for an unknown name; the message lists the known names and suggests the closest.
  """
  if name in REGISTRY:
    return REGISTRY[name]
  scores = {known: difflib.SequenceMatcher(None, str(name), known).ratio() for known in REGISTRY}
  best = max(scores.values())
  close = sorted(known for known, score in scores.items() if score == best and score >= 0.6)  # ties: all
  hint = f" Did you mean {' or '.join(repr(known) for known in close)}?" if close else ''
  raise ValueError(f'Unknown network name {name!r}.{hint} Known networks: {", ".join(REGISTRY)}')


def get_network_fn(name: str, num_classes: Optional[int], weight_decay: float = 0.0,
                   is_training: bool = False) -> Callable:
  """Returns `network_fn(images, **kwargs) -> (net, end_points)`, built under the network's arg scope.

  Args:
    name: a network name of `REGISTRY`.
    num_classes: number of classes of the logits; None or 0 for features only.
    weight_decay: L2 weight decay of the arg scope.
    is_training: batch norm and dropout mode.

  Returns:
    The network function, with a `default_image_size` attribute; further keyword arguments (e.g.
    `output_stride`, `global_pool`, `multi_grid`) go to the network.

  Raises:
    ValueError: for an unknown name; the network function raises it for an argument the network does not
      take (e.g. `output_stride` for inception_v3) and for the network's own argument errors.
  """
  import tf_slim as slim  # pylint: disable=import-outside-toplevel
  from nets import layers  # pylint: disable=import-outside-toplevel
  spec = get_spec(name)

  @functools.wraps(spec.fn)
  def network_fn(images, **kwargs):
    spec.check_arguments(kwargs)
    with layers.BUILD_LOCK, slim.arg_scope(spec.arg_scope(weight_decay=weight_decay)):
      return spec.fn(images, num_classes, is_training=is_training, **kwargs)

  network_fn.default_image_size = spec.default_image_size
  return network_fn
