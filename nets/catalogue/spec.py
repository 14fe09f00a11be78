"""The types of the catalogue's facts: a network's `NetworkSpec`, its feature `Level`s, its published `Archive`
and its `Minimum` input size. No TensorFlow: functions are named ('nets.resnet_v1:resnet_v1_50') and imported when
first used."""

import dataclasses
import functools
import importlib
import inspect
from typing import Callable, Mapping, Optional, Sequence, Tuple

from nets.catalogue import registry

VGG_RANGE = (-124.0, 152.0)  # [0, 255] minus the ImageNet channel means (123.68, 116.78, 103.94)
UNIT_RANGE = (-1.0, 1.0)


@dataclasses.dataclass(frozen=True)
class Level:
  """A feature pyramid level: as the registry declares it (the nominal network, output_stride None, under its
  default scope, at depth_multiplier 1), or as one build has it (`slimnets.analysis.features`: its stride at
  the build's output stride, its channels at the build's depth).

  Attributes:
    name: 'C1'..'C5'; level Ck is the last end point on the trunk (every path from the image goes through it)
      at stride 2**k of the nominal network.
    end_point: its end point name, e.g. 'resnet_v1_50/block1/unit_2/bottleneck_v1'.
    stride: 2**k declared; built, the output stride where that is smaller (a dilated level).
    channels: its channels.
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
      in whatever folder the archive puts it; with its last folders where the archive holds several checkpoints
      of that name ('ema/model-540000': MobileNet v3's, beside a 'pristine' one).
    num_classes: the classes of its head, or None when only the backbone's variables are known to be there.
    size: its size in bytes, where a public record of it is known (`PUBLISHED_FILES`), else None.
    digest: 'ALGORITHM:HEX' (a `hashlib` name, e.g. 'sha256:31ab...') of the archive, where one is known, else None.
  """
  url: str
  checkpoint: str
  num_classes: Optional[int]
  size: Optional[int] = None
  digest: Optional[str] = None


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
    unlisted_archive: where the network's published checkpoints are when they exist but `archive` does not
      declare them yet ('' when none is published).
    training_build_size: for a network whose training build has variables its inference build lacks (NASNet's
      and PNASNet's auxiliary head), the smallest input size that builds them; None for the others.
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
  unlisted_archive: str = ''
  training_build_size: Optional[int] = None

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
      with_one = ', '.join(name for name, spec in registry.REGISTRY.items() if spec.archive)
      trained = sorted({model.name for model in registry.DEEPLAB_MODELS.values() if model.model_variant == self.name})
      if trained:
        raise ValueError(f"{self.name} is a backbone of DeepLab's: its published weights are DeepLab's trained "
                         f'models on it ({", ".join(trained)}); fetch-weights one of them')
      if self.unlisted_archive:
        raise ValueError(f'{self.name}: its published checkpoints ({self.unlisted_archive}) are not declared here '
                         f'yet: download one and restore it by name; networks fetch-weights knows: {with_one}')
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
        others = ', '.join(spec.name for spec in registry.REGISTRY.values() if spec.takes(name))
        raise ValueError(f'{self.name} has no {name} option (it runs at its nominal stride '
                         f'{self.nominal_stride}); networks with it: {others}')
      options[name] = tuple(value) if name == 'multi_grid' else value
    return options

  def check_arguments(self, kwargs: Mapping) -> None:
    """Raises ValueError naming the keyword arguments that `fn` does not take (e.g. output_stride)."""
    unknown = sorted(set(kwargs) - set(self.options))
    if unknown:
      raise ValueError(f'{self.name} does not take {", ".join(unknown)}; it takes {", ".join(self.options)}')
