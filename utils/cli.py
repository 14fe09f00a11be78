"""The `slimnets` command line: thin commands over the library.

Conventions: exit status 0 on success, 2 on usage errors (argparse's), 1 on failures; failures print one line
`slimnets: error: ...` on stderr without a traceback, unless `--debug` is given.
"""

import argparse
import contextlib
import json
import os
import sys
import warnings
from typing import Optional, Sequence

from utils import files
from utils import precision
from utils import tables


def _quiet_tensorflow() -> None:
  """Imports TensorFlow with its C++ start-up logging (oneDNN, CUDA stubs) kept off the terminal.

  TF_CPP_MIN_LOG_LEVEL does not cover the messages written before absl's logging starts, nor the CUDA errors of
  device discovery on machines without a GPU, so stderr's file descriptor points at /dev/null while TensorFlow
  loads and lists its devices; Python errors are raised after it is restored.
  """
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  if 'tensorflow' in sys.modules:
    return
  sys.stderr.flush()
  saved = os.dup(2)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
      import tensorflow  # pylint: disable=import-outside-toplevel
      tensorflow.config.list_physical_devices()  # device discovery logs about missing CUDA drivers
  finally:
    os.dup2(saved, 2)
    os.close(saved)


@contextlib.contextmanager
def _native_stderr_silenced():
  """Native (C++) writes to stderr go to /dev/null, while Python's `sys.stderr` still reaches the terminal.

  The JPEG and PNG decoders print lines of their own for each corrupt image ('Premature end of JPEG data',
  'Input file read error'), which extract reports in one line instead, and TFLite's quantizer prints its
  settings ('fully_quantize: 0, inference_type: 6, ...'); `--debug` keeps them.
  """
  try:
    python_on_fd_2 = sys.stderr.fileno() == 2
  except (AttributeError, OSError, ValueError):  # a stand-in (a test's): Python's writes do not use fd 2
    python_on_fd_2 = False
  sys.stderr.flush()
  saved = os.dup(2)
  previous = sys.stderr
  if python_on_fd_2:
    sys.stderr = os.fdopen(saved, 'w', buffering=1, closefd=False)
  try:
    with open(os.devnull, 'w') as devnull:
      os.dup2(devnull.fileno(), 2)
    yield
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(saved)
    sys.stderr = previous


def _shows_progress(args: argparse.Namespace) -> bool:
  """Progress goes to stderr only when it is a terminal, and never with --quiet (pipes and logs stay clean)."""
  return not getattr(args, 'quiet', False) and sys.stderr.isatty()


def _status(args: argparse.Namespace, text: str) -> None:
  """A status line on stderr ('slimnets: building resnet_v1_50 ...') for the slow steps, where progress shows."""
  if _shows_progress(args):
    print(f'slimnets: {text} ...', file=sys.stderr, flush=True)


def _cmd_list(args: argparse.Namespace) -> None:
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  from utils import parameters  # pylint: disable=import-outside-toplevel
  specs = tqdm(nets_factory.REGISTRY.values(), desc='slimnets: counting parameters', unit=' networks',
               leave=False, file=sys.stderr, disable=not _shows_progress(args))
  rows = [{
      'network': spec.name,
      'default_image_size': spec.default_image_size,
      'parameters': parameters.count_parameters(spec.name, num_classes=args.num_classes),
      'nominal_stride': spec.nominal_stride,
      'preprocessing': spec.preprocessing,
      'output_strides': list(spec.output_strides),
      'levels': {level.name: {'end_point': level.end_point, 'stride': level.stride, 'channels': level.channels}
                 for level in spec.levels},
      'published_checkpoint': spec.archive.url if spec.archive else None,
  } for spec in specs]
  if args.json:
    print(json.dumps(rows, indent=1))
    return
  header = ('network', 'image size', f'parameters ({args.num_classes or "no"} classes)', 'stride', 'preprocessing')
  for line in tables.table(header, [(r['network'], str(r['default_image_size']), f"{r['parameters']:,}",
                                     str(r['nominal_stride']), r['preprocessing']) for r in rows]):
    print(line)


def _cmd_describe(args: argparse.Namespace) -> None:
  from utils import describe  # pylint: disable=import-outside-toplevel
  if args.deeplab:
    description = describe.describe_segmenter(_deeplab_options(args), input_size=args.input_size,
                                              in_channels=args.in_channels)
    print(json.dumps(description, indent=1) if args.json else describe.format_segmenter_text(description))
    return
  description = describe.describe(args.network, input_size=args.input_size, output_stride=args.output_stride,
                                  multi_grid=args.multi_grid, in_channels=args.in_channels,
                                  num_classes=args.num_classes)
  print(json.dumps(description, indent=1) if args.json else describe.format_text(description))


def _cmd_adapt_checkpoint(args: argparse.Namespace) -> None:
  from utils import checkpoints  # pylint: disable=import-outside-toplevel
  output = os.path.abspath(args.output)  # the network and the output were checked by _check_usage
  values = checkpoints.read(args.input)
  adapted = checkpoints.adapt(values, args.network, in_channels=args.in_channels, channel_mode=args.channel_mode,
                              num_classes=args.num_classes, label_offset=args.label_offset)
  checkpoints.write(adapted, output, overwrite=args.overwrite)
  changed = sum(1 for name in adapted if adapted[name].shape != values[name].shape)
  print(f'wrote {output}: {len(adapted)} variables ({changed} reshaped, {len(values) - len(adapted)} dropped)')


def _cmd_fetch_weights(args: argparse.Namespace) -> None:
  from utils import weights  # pylint: disable=import-outside-toplevel
  path = weights.fetch(args.network, url=args.url, cache_dir=args.cache_dir, progress=_shows_progress(args))
  print(path)


def _cmd_export(args: argparse.Namespace) -> None:
  from utils import export  # pylint: disable=import-outside-toplevel
  from utils import features  # pylint: disable=import-outside-toplevel
  from utils import inference  # pylint: disable=import-outside-toplevel
  features.check_levels(args.network, args.features)
  output = os.path.abspath(args.output)  # an existing one was refused by _check_usage
  if args.format == 'openvino':
    from utils import backends  # pylint: disable=import-outside-toplevel
    backends.import_openvino()  # missing: one line before the slow build
  calibration = None
  if args.quantization == 'int8':
    from utils import extract  # pylint: disable=import-outside-toplevel
    extract.check_folder(args.calibration_images)
  backbone = _backbone(args, random_weights_warning=True)
  outputs = 'logits, labels' if args.deeplab else ', '.join(['output', *args.features])
  if args.format == 'savedmodel':
    _status(args, f'tracing and writing the SavedModel ({args.precision}, batch norm folded)')
    export.export_saved_model(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision)
    print(f"wrote {output}: serving_default(images: float32 [batch, height, width, {args.in_channels}]) -> {outputs}")
  elif args.format == 'openvino':
    _status(args, f'converting to OpenVINO IR ({args.precision} inference hint, batch norm folded)')
    export.export_openvino(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision)
    print(f"wrote {output}/model.xml, model.bin: images: float32 [batch, height, width, {args.in_channels}] -> "
          f"{outputs}")
  else:
    size = args.input_size or inference.default_input_size(backbone)
    if args.quantization == 'int8':  # a segmenter takes [0, 255] images and preprocesses them itself
      calibration = extract.preprocessed_images(args.calibration_images, None if args.deeplab else args.network,
                                                size, limit=args.calibration_count)
    _status(args, f'converting to TFLite ({args.quantization}, {size[0]}x{size[1]}, batch {args.batch})')
    with contextlib.nullcontext() if args.debug else _native_stderr_silenced():  # the converter's own lines
      export.export_tflite(backbone, output, size, batch_size=args.batch, levels=args.features,
                           quantization=args.quantization, representative=calibration, overwrite=args.overwrite)
    print(f"wrote {output}: serving_default(images: float32 [{args.batch}, {size[0]}, {size[1]}, "
          f"{args.in_channels}]) -> {outputs} ({args.quantization})")
    if calibration:
      from utils import backends  # pylint: disable=import-outside-toplevel
      found = backends.agreement(inference.Predictor(backbone), backends.TFLitePredictor(output), calibration,
                                 args.batch)
      top1 = (f", top-1 agreement {100 * found['top1_agreement']:.1f}%" if found['top1_agreement'] is not None
              else '')
      if found['pixel_agreement'] is not None:
        top1 = f", labels agree on {100 * found['pixel_agreement']:.1f}% of the pixels"
      print(f"int8 against float32 on {found['images']} calibration images: largest difference "
            f"{100 * found['max_rel_error']:.2f}% of the output's range{top1}")


_DEEPLAB_CLASSES = 21  # PASCAL VOC's, the default of DeepLab's model zoo and flags
_DEEPLAB_OUTPUT_STRIDE = 16  # DeepLab's flag default
_DEEPLAB_CLASSES_HELP = f'with --deeplab: the segmenter\'s classes (default {_DEEPLAB_CLASSES})'


def _deeplab_options(args: argparse.Namespace):
  """The `deeplab.ModelOptions` of --deeplab and its options (--atrous-rates, --decoder-output-stride, ...)."""
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  given = {field: getattr(args, field) for _, field in _DEEPLAB_FLAGS if field and getattr(args, field) is not None}
  return deeplab.ModelOptions(
      {'semantic': getattr(args, 'num_classes', None) or _DEEPLAB_CLASSES},
      output_stride=args.output_stride or _DEEPLAB_OUTPUT_STRIDE, model_variant=args.network,
      multi_grid=args.multi_grid, add_image_level_feature=not args.no_image_pooling, **given)


def _check_deeplab_usage(args: argparse.Namespace, spec) -> None:
  """DeepLab's options need --deeplab and one of its model variants, a decoder stride below the output stride."""
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  given = [flag for flag, _ in _DEEPLAB_FLAGS if getattr(args, flag[2:].replace('-', '_')) not in (None, False)]
  if not args.deeplab:
    if given:
      raise ValueError(f'{", ".join(given)} {"is" if len(given) == 1 else "are"} for --deeplab segmenters')
    return
  if getattr(args, 'num_classes', None) == 0:
    raise ValueError('--deeplab: --num-classes must be a positive number of classes, got 0')
  if spec.name not in nets_factory.DEEPLAB_VARIANTS:
    raise ValueError(f'--deeplab: {spec.name} is not one of DeepLab\'s model variants '
                     f'({", ".join(nets_factory.DEEPLAB_VARIANTS)})')
  if getattr(args, 'features', ()) or getattr(args, 'pooled', False):
    gives = 'exports its logits and labels' if args.command == 'export' else 'gives its labels'
    raise ValueError(f'{"--features" if getattr(args, "features", ()) else "--pooled"} is for backbones: a --deeplab '
                     f'segmenter {gives}')
  if args.depth_multiplier is not None and spec.name != 'mobilenet_v2':
    raise ValueError(f'--depth-multiplier is for DeepLab\'s mobilenet_v2, not {spec.name}')
  stride = args.output_stride or _DEEPLAB_OUTPUT_STRIDE
  if stride not in spec.output_strides:
    raise ValueError(f'--deeplab: {spec.name} has no output stride {stride}; it has {list(spec.output_strides)}')
  for decoder_stride in args.decoder_output_stride or ():
    spec.decoder_end_point(decoder_stride)
    if decoder_stride >= stride:
      raise ValueError(f'--decoder-output-stride {decoder_stride} must be below the output stride {stride}')


def _check_input_size(args: argparse.Namespace, spec) -> None:
  """--input-size below the network's declared minimum (with --num-classes: with its head) is a usage error."""
  head = bool(getattr(args, 'num_classes', 0)) and not getattr(args, 'deeplab', False)
  minimum, reason = spec.minimum_input_size(head)
  size = getattr(args, 'input_size', None) or (spec.default_image_size,) * 2
  if min(size) < minimum:
    raise ValueError(f'{args.network}: inputs of {size[0]}x{size[1]} are too small: the minimum is '
                     f'{minimum}x{minimum} ({reason}); resize or pad the images')


def _backbone(args: argparse.Namespace, random_weights_warning: bool = False):
  """The backbone of a command's --network (and --output-stride, ...), restored from --checkpoint if given."""
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  from utils import tf2  # pylint: disable=import-outside-toplevel
  num_classes = getattr(args, 'num_classes', 0) or None
  restoring = f' and restoring {args.checkpoint}' if args.checkpoint else ''
  if getattr(args, 'deeplab', False):
    model_options = _deeplab_options(args)
    _status(args, f'building DeepLab {"v3+" if model_options.decoder_output_stride else "v3"} on {args.network}'
            + restoring)
    backbone = tf2.Segmenter(model_options, in_channels=getattr(args, 'in_channels', 3)).build()
  else:
    options = nets_factory.get_spec(args.network).build_options(num_classes, args.output_stride, args.multi_grid)
    _status(args, f'building {args.network}' + restoring)
    backbone = tf2.Backbone(args.network, num_classes, in_channels=getattr(args, 'in_channels', 3), **options)
  if not args.checkpoint and random_weights_warning:
    print('slimnets: warning: no --checkpoint given: the network has random weights', file=sys.stderr)
  if args.checkpoint:
    from utils import checkpoints  # pylint: disable=import-outside-toplevel
    try:
      report = backbone.restore(args.checkpoint, allow_missing=False, allow_unused=args.allow_unused)
    except checkpoints.RestoreError as error:
      raise ValueError(f'{error.problem}. {_RESTORE_REMEDIES[error.option]}') from None
    print(f'restored {len(report.restored)} variables from {args.checkpoint}', file=sys.stderr)
    if report.head:
      print(f'slimnets: {report.head_line()}', file=sys.stderr)
    if report.unbuilt:
      print(f'slimnets: --allow-unused: left out {len(report.unbuilt)} variables of the checkpoint that the model '
            f'does not build ({checkpoints.scopes_text(report.unbuilt)})', file=sys.stderr)
  return backbone


# What the command line offers where the library's restore takes allow_mismatch / allow_missing / allow_unused.
_RESTORE_REMEDIES = {
    'allow_mismatch': 'Give the options the checkpoint was trained with (--num-classes, --in-channels, and with '
                      '--deeplab --depth-multiplier, --aspp-convs-filters, --decoder-filters), or adapt it: slimnets '
                      'adapt-checkpoint (input channels, classes)',
    'allow_missing': 'Give the options the checkpoint was trained with, or a checkpoint of this model',
    'allow_unused': 'Give the options the checkpoint was trained with (with --deeplab: --decoder-output-stride, '
                    '--atrous-rates, --no-image-pooling), or pass --allow-unused to leave them out',
}


def _configure_threads(args: argparse.Namespace) -> None:
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)


def _cmd_benchmark(args: argparse.Namespace) -> None:
  from utils import inference  # pylint: disable=import-outside-toplevel
  _configure_threads(args)
  backbone = _backbone(args)
  if not args.checkpoint:
    inference.randomize_batch_norm(backbone)  # fresh batch norm would time a network no training leaves
  size = args.input_size or inference.default_input_size(backbone)
  _status(args, f'timing {args.runs} runs of batch {args.batch} at {size[0]}x{size[1]} after {args.warmup} warm-up '
                'runs')
  result = inference.benchmark(backbone, size, batch_size=args.batch, precision=args.precision, runs=args.runs,
                               warmup=args.warmup, backend=args.backend)
  result['output_stride'] = args.output_stride
  if result['message']:
    print(f"slimnets: warning: {result['message']}", file=sys.stderr)
  if args.json:
    print(json.dumps(result, indent=1))
    return
  stride = f", output stride {args.output_stride}" if args.output_stride else ''
  backend = ' (OpenVINO)' if args.backend == 'openvino' else ''
  line = (f"{args.network}{stride}, {size[0]}x{size[1]}, batch {args.batch}, {result['precision']}{backend}: "
          f"{result['images_per_second']:.2f} images/s, {result['ms_per_batch_median']:.1f} ms per batch "
          f"(median of {args.runs}; p10 {result['ms_per_batch_p10']:.1f}, p90 {result['ms_per_batch_p90']:.1f})")
  if 'max_rel_error_vs_float32' in result:
    line += f"; largest difference from float32: {100 * result['max_rel_error_vs_float32']:.2f}% of its range"
  print(line)


def _cmd_extract(args: argparse.Namespace) -> None:
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  from utils import extract  # pylint: disable=import-outside-toplevel
  _configure_threads(args)
  precision.resolve_precision(args.precision, None)  # a bad value fails before the slow build
  extract.check_folder(args.images)
  backbone = _backbone(args, random_weights_warning=True)
  checkpoint = os.path.abspath(args.checkpoint) if args.checkpoint else None
  try:
    with contextlib.nullcontext() if args.debug else _native_stderr_silenced():
      report = extract.extract(
          backbone, args.images, args.output, levels=args.features, pooled=args.pooled, input_size=args.input_size,
          batch_size=args.batch, precision=args.precision, overwrite=args.overwrite, progress=_shows_progress(args),
          settings={'checkpoint': checkpoint},
          on_skip=lambda path, reason: tqdm.write(f'slimnets: warning: skipped {path}: {reason}', file=sys.stderr))
  except KeyboardInterrupt as interrupt:
    finished = getattr(interrupt, 'finished', 0)
    interrupt.kept = (f'the {finished} finished images are kept; the same command resumes with the rest '
                      '(--overwrite starts afresh)' if finished else
                      'no image was finished; nothing half-written is left')
    raise
  done_before = f' ({report.resumed} done by an earlier run)' if report.resumed else ''
  print(f'extracted {report.written} images{done_before}, skipped {len(report.skipped)} unreadable, '
        f'{report.precision}: {report.output}')


def _levels(text: str) -> tuple:
  return tuple(part.strip() for part in text.split(',') if part.strip())


def _int_list(text: str, count: Optional[Sequence[int]] = None) -> tuple:
  try:
    values = tuple(int(part) for part in text.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}') from None
  if count is not None and len(values) not in count:
    raise argparse.ArgumentTypeError(f'expected {" or ".join(map(str, count))} comma-separated integers, '
                                     f'got {text!r}')
  if any(v < 1 for v in values):
    raise argparse.ArgumentTypeError(f'values must be >= 1, got {text!r}')
  return values


def _input_size(text: str) -> tuple:
  values = _int_list(text, (1, 2))
  return values * 2 if len(values) == 1 else values


def _positive_int(text: str) -> int:
  try:
    value = int(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a positive integer, got {text!r}') from None
  if value < 1:
    raise argparse.ArgumentTypeError(f'must be >= 1, got {text!r}')
  return value


def _non_negative_int(text: str) -> int:
  value = int(text)
  if value < 0:
    raise argparse.ArgumentTypeError(f'must be >= 0, got {value}')
  return value


class _Parser(argparse.ArgumentParser):
  """An argument parser whose usage errors are one line on stderr (exit status 2)."""

  def error(self, message):
    self.exit(2, f'{self.prog}: error: {message} (see --help)\n')


def _add_deeplab_arguments(parser: argparse.ArgumentParser) -> None:
  group = parser.add_argument_group(
      'DeepLab segmenters', 'with --deeplab, the network is the backbone of a DeepLab v3 (v3+ with '
      '--decoder-output-stride) model with DeepLab\'s names; --output-stride defaults to 16 and --num-classes to 21')
  group.add_argument('--deeplab', action='store_true', help='a DeepLab segmenter on the network')
  group.add_argument('--atrous-rates', type=_int_list, metavar='A,B,C',
                     help='rates of the 3x3 ASPP branches, e.g. 6,12,18 at output stride 16 (default: none)')
  group.add_argument('--decoder-output-stride', type=_int_list, metavar='N',
                     help="the v3+ decoder's stride, e.g. 4 (default: no decoder)")
  group.add_argument('--no-image-pooling', action='store_true', help='leave out the image pooling branch of ASPP')
  group.add_argument('--depth-multiplier', type=_positive_float, metavar='M',
                     help="MobileNet v2's channel multiplier, e.g. 0.5 (default 1)")
  group.add_argument('--aspp-convs-filters', type=_positive_int, metavar='N',
                     help='channels of the ASPP branches (default 256)')
  group.add_argument('--decoder-filters', type=_positive_int, metavar='N',
                     help='channels of the decoder (default 256)')


# The DeepLab options of the command line: (flag, ModelOptions field); given without --deeplab they are usage errors.
_DEEPLAB_FLAGS = (('--atrous-rates', 'atrous_rates'), ('--decoder-output-stride', 'decoder_output_stride'),
                  ('--no-image-pooling', None), ('--depth-multiplier', 'depth_multiplier'),
                  ('--aspp-convs-filters', 'aspp_convs_filters'), ('--decoder-filters', 'decoder_filters'))


def _positive_float(text: str) -> float:
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a number > 0, got {text!r}') from None
  if not value > 0:
    raise argparse.ArgumentTypeError(f'must be > 0, got {text!r}')
  return value


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog='slimnets', description='TF-Slim style backbones for classification and dense prediction.')
  parser.add_argument('--debug', action='store_true', help='show tracebacks of failures')
  commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
  listing = commands.add_parser('list', help='the networks, with default image size, parameters and stride')
  listing.add_argument('--num-classes', type=_non_negative_int, default=1000,
                       help='classes of the head counted in the parameters (0: features only; default 1000)')
  listing.add_argument('--json', action='store_true', help='print a JSON list instead of a table')
  listing.add_argument('--quiet', action='store_true', help='no progress bar (none is shown off a terminal)')
  listing.set_defaults(parser=listing, run=_cmd_list)
  describing = commands.add_parser(
      'describe', help='end points with shapes, strides and receptive fields; feature levels; parameters; FLOPs')
  describing.add_argument('network', help='a network name (see `slimnets list`)')
  describing.add_argument('--input-size', type=_input_size, metavar='H[,W]',
                          help="input height and width (default: the network's default image size)")
  describing.add_argument('--output-stride', type=_positive_int, metavar='N',
                          help='output stride of the features, one the network reaches, e.g. 8 or 16 '
                               '(default: nominal)')
  describing.add_argument('--multi-grid', type=_int_list, metavar='A,B,C',
                          help="multi-grid rates of the last block's units, e.g. 1,2,4 (ResNets, Xception)")
  describing.add_argument('--in-channels', type=_positive_int, default=3, metavar='C',
                          help='input channels (default 3)')
  describing.add_argument('--num-classes', type=_non_negative_int, metavar='K',
                          help='add a classification head of K classes, pooled globally (default: features only); '
                               + _DEEPLAB_CLASSES_HELP)
  describing.add_argument('--json', action='store_true', help='print one JSON object instead of tables')
  _add_deeplab_arguments(describing)
  describing.set_defaults(parser=describing, run=_cmd_describe)
  adapting = commands.add_parser(
      'adapt-checkpoint', help='rewrite a checkpoint for other input channels or another number of classes')
  adapting.add_argument('--network', required=True, help='the network the checkpoint belongs to')
  adapting.add_argument('--input', required=True, metavar='CKPT', help='checkpoint prefix, file or directory')
  adapting.add_argument('--output', required=True, metavar='CKPT', help='prefix of the checkpoint to write')
  adapting.add_argument('--in-channels', type=_positive_int, default=3, metavar='C', help='input channels (default 3)')
  adapting.add_argument('--channel-mode', choices=('repeat', 'sum', 'zeros'), default='repeat',
                        help='how the RGB kernels of the first convolution become C channels (default repeat)')
  adapting.add_argument('--num-classes', type=_non_negative_int, metavar='K',
                        help='classes of the adapted head; a head of another size is dropped (initialized afresh)')
  adapting.add_argument('--label-offset', type=int, choices=(0, 1), default=0,
                        help='1: drop the background class of a K+1-class head instead')
  adapting.add_argument('--overwrite', action='store_true', help='replace an existing output checkpoint')
  adapting.set_defaults(parser=adapting, run=_cmd_adapt_checkpoint)
  fetching = commands.add_parser('fetch-weights', help='download and verify a published TF-Slim checkpoint')
  fetching.add_argument('network', help='a network with a published checkpoint, e.g. resnet_v1_50')
  fetching.add_argument('--url', help='download from this address instead of the official one (a mirror of '
                                     'the published archive: its known size and checksum still apply)')
  fetching.add_argument('--cache-dir', help='cache directory (default ~/.cache/slimnets)')
  fetching.add_argument('--quiet', action='store_true', help='no progress bar')
  fetching.set_defaults(parser=fetching, run=_cmd_fetch_weights)
  exporting = commands.add_parser('export', help='write a SavedModel, OpenVINO IR or TFLite model: images -> output '
                                                 'and feature levels')
  exporting.add_argument('--network', required=True, help='a network name (see `slimnets list`)')
  _add_checkpoint_arguments(exporting)
  exporting.add_argument('--output', required=True, metavar='PATH',
                         help='SavedModel or OpenVINO directory, or .tflite file, to write')
  exporting.add_argument('--format', choices=('savedmodel', 'openvino', 'tflite'), default='savedmodel',
                         help="savedmodel (default); openvino (IR: model.xml and model.bin, needs "
                              "the openvino package); tflite (one input size)")
  exporting.add_argument('--output-stride', type=_positive_int, metavar='N',
                         help='output stride of the features (default: nominal)')
  exporting.add_argument('--multi-grid', type=_int_list, metavar='A,B,C',
                         help="multi-grid rates of the last block's units")
  exporting.add_argument('--in-channels', type=_positive_int, default=3, metavar='C', help='input channels (default 3)')
  exporting.add_argument('--num-classes', type=_non_negative_int, metavar='K',
                         help='output logits of K classes, pooled globally (default: dense features); '
                              + _DEEPLAB_CLASSES_HELP)
  exporting.add_argument('--features', type=_levels, default=(), metavar='C2,C5',
                         help='feature levels to add as outputs')
  exporting.add_argument('--precision', choices=precision.PRECISIONS, default='float32',
                         help='compute precision of the SavedModel, or OpenVINO\'s inference precision hint (inputs '
                              'and outputs are float32)')
  exporting.add_argument('--input-size', type=_input_size, metavar='H[,W]',
                         help="tflite: the input height and width (default: the network's default image size)")
  exporting.add_argument('--batch', type=_positive_int, default=1, metavar='B', help='tflite: the batch (default 1)')
  exporting.add_argument('--quantization', choices=precision.QUANTIZATIONS, default='float32',
                         help='tflite: float32 (default), float16 weights, or int8 post-training quantization')
  exporting.add_argument('--calibration-images', metavar='DIR',
                         help='tflite int8: a folder of JPEG/PNG images to calibrate on (the network\'s '
                              'preprocessing)')
  exporting.add_argument('--calibration-count', type=_positive_int, default=100, metavar='N',
                         help='tflite int8: calibrate on the first N images (default 100)')
  exporting.add_argument('--overwrite', action='store_true', help='replace an existing output directory')
  exporting.add_argument('--quiet', action='store_true', help='no status lines (none are shown off a terminal)')
  _add_deeplab_arguments(exporting)
  exporting.set_defaults(parser=exporting, run=_cmd_export)
  benchmarking = commands.add_parser('benchmark', help='inference speed (images/s) in float32 or bfloat16')
  _add_inference_arguments(benchmarking, batch=1)
  benchmarking.add_argument('--runs', type=_positive_int, default=20, metavar='N', help='timed runs (default 20)')
  benchmarking.add_argument('--warmup', type=_non_negative_int, default=3, metavar='N',
                            help='untimed runs after the first (default 3)')
  benchmarking.add_argument('--num-classes', type=_non_negative_int, metavar='K',
                            help='time logits of K classes, pooled globally (default: dense features); '
                                 + _DEEPLAB_CLASSES_HELP)
  benchmarking.add_argument('--backend', choices=precision.BACKENDS, default='tensorflow',
                            help="tensorflow (Predictor, default) or openvino (needs the openvino package)")
  benchmarking.add_argument('--json', action='store_true', help='print one JSON object')
  benchmarking.add_argument('--quiet', action='store_true', help='no status lines (none are shown off a terminal)')
  _add_deeplab_arguments(benchmarking)
  benchmarking.set_defaults(parser=benchmarking, run=_cmd_benchmark)
  extracting = commands.add_parser('extract', help='features of a folder of JPEG/PNG images, resumable')
  _add_inference_arguments(extracting, batch=8)
  extracting.add_argument('--images', required=True, metavar='DIR', help='folder of .jpg/.jpeg/.png images')
  extracting.add_argument('--output', required=True, metavar='FILE.npz|DIR',
                          help='one .npz file, or a directory for one .npz per image')
  keep = extracting.add_mutually_exclusive_group()
  keep.add_argument('--features', type=_levels, default=(), metavar='C4,C5', help='feature levels to keep')
  keep.add_argument('--pooled', action='store_true',
                    help='keep the global average of the last level (the default)')
  extracting.add_argument('--num-classes', type=_positive_int, metavar='K',
                          help=_DEEPLAB_CLASSES_HELP + '; extract keeps features, not logits, of a backbone')
  extracting.add_argument('--overwrite', action='store_true',
                          help='replace an existing output, or discard an interrupted run with other settings')
  extracting.add_argument('--quiet', action='store_true', help='no progress bar')
  _add_deeplab_arguments(extracting)
  extracting.set_defaults(parser=extracting, run=_cmd_extract)
  return parser


def _add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--checkpoint', metavar='CKPT', help='TF-Slim checkpoint to load (default: random weights)')
  parser.add_argument('--allow-unused', action='store_true',
                      help="accept checkpoint variables under the model's scopes that the model does not build "
                           '(by default an error: the model was built with other options than the checkpoint\'s)')


def _add_inference_arguments(parser: argparse.ArgumentParser, batch: int) -> None:
  parser.add_argument('--network', required=True, help='a network name (see `slimnets list`)')
  _add_checkpoint_arguments(parser)
  parser.add_argument('--input-size', type=_input_size, metavar='H[,W]',
                      help="input height and width (default: the network's default image size)")
  parser.add_argument('--batch', type=_positive_int, default=batch, metavar='B',
                      help=f'images per batch (default {batch})')
  parser.add_argument('--output-stride', type=_positive_int, metavar='N',
                      help='output stride of the features (default: nominal)')
  parser.add_argument('--multi-grid', type=_int_list, metavar='A,B,C',
                      help="multi-grid rates of the last block's units")
  parser.add_argument('--precision', choices=precision.PRECISIONS, default='float32',
                      help='bfloat16 needs bf16 instructions (else it runs float32, with a warning)')
  parser.add_argument('--threads', type=_positive_int, metavar='N',
                      help="threads per operation (default: TensorFlow's, all cores)")


def _check_export_options(args: argparse.Namespace) -> None:
  """The options of one export format are refused with another, and int8 needs its calibration images."""
  lite_only = {'--input-size': args.input_size, '--batch': args.batch != 1,
               '--quantization': args.quantization != 'float32', '--calibration-images': args.calibration_images}
  given = [option for option, value in lite_only.items() if value]
  if args.format != 'tflite' and given:
    raise ValueError(f'{", ".join(given)} {"is" if len(given) == 1 else "are"} for --format tflite, not '
                     f'{args.format}')
  if args.format == 'tflite' and args.precision != 'float32':
    raise ValueError('--precision is for savedmodel and openvino; a TFLite model computes in float32 '
                     '(--quantization float16 or int8 makes it smaller)')
  if (args.quantization == 'int8') != bool(args.calibration_images):
    raise ValueError('--quantization int8 needs --calibration-images DIR, and --calibration-images is for int8 '
                     'only')


def _check_usage(args: argparse.Namespace) -> None:
  """Usage errors (exit status 2, one line) for what the arguments alone refute, before TensorFlow loads:
  an unknown network, an output stride or multi-grid it does not take, an input size below its minimum, a
  network without a published checkpoint to fetch, an output that exists without --overwrite."""
  from nets import nets_factory  # pylint: disable=import-outside-toplevel
  if not getattr(args, 'network', None):
    return
  try:
    spec = nets_factory.get_spec(args.network)
    spec.check_usage(getattr(args, 'output_stride', None), getattr(args, 'multi_grid', None))
    if hasattr(args, 'deeplab'):
      _check_deeplab_usage(args, spec)
    _check_input_size(args, spec)
    if args.command == 'fetch-weights':
      spec.published()
    if args.command == 'export':
      _check_export_options(args)
    if args.command in ('export', 'adapt-checkpoint'):
      files.check_output(os.path.abspath(args.output), args.overwrite)
    if args.command == 'extract':
      if args.num_classes and not args.deeplab:
        raise ValueError('--num-classes is for --deeplab segmenters: extract keeps features, not logits, of a '
                         'backbone')
      files.check_file_or_folder(args.output, '.npz')
      if args.output.endswith('.npz'):
        files.check_output(os.path.abspath(args.output), args.overwrite)
    if getattr(args, 'allow_unused', False) and not args.checkpoint:
      raise ValueError('--allow-unused is for --checkpoint')
  except (ValueError, FileExistsError) as error:
    args.parser.error(str(error))


def main(argv: Optional[Sequence[str]] = None) -> int:
  args = build_parser().parse_args(argv)
  _check_usage(args)
  if not args.debug:
    _quiet_tensorflow()
  with warnings.catch_warnings():
    warnings.showwarning = _show_warning
    try:
      args.run(args)
    except FileExistsError as error:  # an existing output: a usage error, as _check_usage finds most of them
      if args.debug:
        raise
      args.parser.error(str(error))
    except (ValueError, TypeError, OSError, ImportError) as error:
      if args.debug:
        raise
      print(f'slimnets: error: {error}', file=sys.stderr)
      return 1
    except KeyboardInterrupt as interrupt:
      if args.debug:
        raise
      kept = getattr(interrupt, 'kept', 'nothing half-written is left')
      print(f'slimnets: interrupted; {kept}', file=sys.stderr)
      return 130  # as a shell reports SIGINT
  return 0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
  """Warnings as one line `slimnets: warning: ...` on stderr, above a progress bar if one is shown."""
  del category, filename, lineno, file, line
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  tqdm.write(f'slimnets: warning: {message}', file=sys.stderr)


if __name__ == '__main__':
  sys.exit(main())
