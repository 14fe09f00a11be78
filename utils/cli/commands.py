"""The commands, thin over the library; imported by `slimnets.cli.main` once the arguments are checked (it loads
TensorFlow). `RUN` maps each command to its function."""

import argparse
import contextlib
import json
import os
import sys

import tensorflow as tf
from tqdm import tqdm

from nets import deeplab
from nets import nets_factory
from slimnets import folders
from slimnets import models
from slimnets import tables
from slimnets.analysis import describe
from slimnets.analysis import features
from slimnets.analysis import parameters
from slimnets.cli import arguments
from slimnets.cli import terminal
from slimnets.deploy import backends
from slimnets.deploy import export
from slimnets.deploy import extract
from slimnets.deploy import formats
from slimnets.deploy import inference
from slimnets.deploy import precision
from slimnets.deploy import serving
from slimnets.weights import checkpoints
from slimnets.weights import fetch


def _cmd_list(args: argparse.Namespace) -> None:
  specs = tqdm(nets_factory.REGISTRY.values(), desc='slimnets: counting parameters', unit=' networks',
               leave=False, file=sys.stderr, disable=not terminal.shows_progress(args))
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
  output = os.path.abspath(args.output)  # the network and the output were checked by _check_usage
  values = checkpoints.read(args.input)
  adapted = checkpoints.adapt(values, args.network, in_channels=args.in_channels, channel_mode=args.channel_mode,
                              num_classes=args.num_classes, label_offset=args.label_offset)
  checkpoints.write(adapted, output, overwrite=args.overwrite)
  changed = sum(1 for name in adapted if adapted[name].shape != values[name].shape)
  print(f'wrote {output}: {len(adapted)} variables ({changed} reshaped, {len(values) - len(adapted)} dropped)')


def _cmd_fetch_weights(args: argparse.Namespace) -> None:
  path = fetch.fetch(args.network, url=args.url, cache_dir=args.cache_dir, progress=terminal.shows_progress(args))
  print(path)


def _cmd_export(args: argparse.Namespace) -> None:
  features.check_levels(args.network, args.features)
  output = os.path.abspath(args.output)  # an existing one was refused by usage.check_usage
  if formats.get_format(args.format).package == 'openvino':
    backends.import_openvino()  # missing: one line before the slow build
  if args.quantization == 'int8':
    folders.check_folder(args.calibration_images)
  backbone = _backbone(args, random_weights_warning=True)
  outputs = 'logits, labels' if args.deeplab else ', '.join(['output', *args.features])
  _EXPORTERS[args.format](args, backbone, output, outputs)


def _export_saved_model(args: argparse.Namespace, backbone, output: str, outputs: str) -> None:
  terminal.status(args, f'tracing and writing the SavedModel ({args.precision}, batch norm folded)')
  export.export_saved_model(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision)
  print(f"wrote {output}: serving_default(images: float32 [batch, height, width, {args.in_channels}]) -> {outputs}")


def _export_openvino(args: argparse.Namespace, backbone, output: str, outputs: str) -> None:
  terminal.status(args, f'converting to OpenVINO IR ({args.precision} inference hint, batch norm folded)')
  export.export_openvino(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision)
  print(f"wrote {output}/model.xml, model.bin: images: float32 [batch, height, width, {args.in_channels}] -> "
        f"{outputs}")


def _export_tflite(args: argparse.Namespace, backbone, output: str, outputs: str) -> None:
  size = args.input_size or serving.default_input_size(backbone)
  calibration = None
  if args.quantization == 'int8':  # a segmenter takes [0, 255] images and preprocesses them itself
    calibration = extract.preprocessed_images(args.calibration_images, None if args.deeplab else args.network,
                                              size, limit=args.calibration_count)
  terminal.status(args, f'converting to TFLite ({args.quantization}, {size[0]}x{size[1]}, batch {args.batch})')
  with contextlib.nullcontext() if args.debug else terminal.native_stderr_silenced():  # the converter's own lines
    export.export_tflite(backbone, output, size, batch_size=args.batch, levels=args.features,
                         quantization=args.quantization, representative=calibration, overwrite=args.overwrite)
  print(f"wrote {output}: serving_default(images: float32 [{args.batch}, {size[0]}, {size[1]}, "
        f"{args.in_channels}]) -> {outputs} ({args.quantization})")
  if calibration:
    found = backends.agreement(inference.Predictor(backbone), backends.TFLitePredictor(output), calibration,
                               args.batch)
    top1 = (f", top-1 agreement {100 * found['top1_agreement']:.1f}%" if found['top1_agreement'] is not None
            else '')
    if found['pixel_agreement'] is not None:
      top1 = f", labels agree on {100 * found['pixel_agreement']:.1f}% of the pixels"
    print(f"int8 against float32 on {found['images']} calibration images: largest difference "
          f"{100 * found['max_rel_error']:.2f}% of the output's range{top1}")


# The writer of each format of `formats.FORMATS` (tests/test_package.py checks that the keys are its names).
_EXPORTERS = {'savedmodel': _export_saved_model, 'openvino': _export_openvino, 'tflite': _export_tflite}


def _deeplab_options(args: argparse.Namespace):
  """The `deeplab.ModelOptions` of --deeplab and its options (--atrous-rates, --decoder-output-stride, ...)."""
  given = {field: getattr(args, field) for _, field in arguments.DEEPLAB_FLAGS
           if field and getattr(args, field) is not None}
  return deeplab.ModelOptions(
      {'semantic': getattr(args, 'num_classes', None) or arguments.DEEPLAB_CLASSES},
      output_stride=args.output_stride or arguments.DEEPLAB_OUTPUT_STRIDE, model_variant=args.network,
      multi_grid=args.multi_grid, add_image_level_feature=not args.no_image_pooling, **given)


def _backbone(args: argparse.Namespace, random_weights_warning: bool = False):
  """The backbone of a command's --network (and --output-stride, ...), restored from --checkpoint if given."""
  num_classes = getattr(args, 'num_classes', 0) or None
  restoring = f' and restoring {args.checkpoint}' if args.checkpoint else ''
  if getattr(args, 'deeplab', False):
    model_options = _deeplab_options(args)
    terminal.status(args, f'building DeepLab {"v3+" if model_options.decoder_output_stride else "v3"} on {args.network}'
            + restoring)
    backbone = models.Segmenter(model_options, in_channels=getattr(args, 'in_channels', 3)).build()
  else:
    options = nets_factory.get_spec(args.network).build_options(num_classes, args.output_stride, args.multi_grid)
    terminal.status(args, f'building {args.network}' + restoring)
    backbone = models.Backbone(args.network, num_classes, in_channels=getattr(args, 'in_channels', 3), **options)
  if not args.checkpoint and random_weights_warning:
    print('slimnets: warning: no --checkpoint given: the network has random weights', file=sys.stderr)
  if args.checkpoint:
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
  if args.threads:
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)


def _cmd_benchmark(args: argparse.Namespace) -> None:
  _configure_threads(args)
  backbone = _backbone(args)
  if not args.checkpoint:
    inference.randomize_batch_norm(backbone)  # fresh batch norm would time a network no training leaves
  size = args.input_size or serving.default_input_size(backbone)
  terminal.status(args, f'timing {args.runs} runs of batch {args.batch} at {size[0]}x{size[1]} after {args.warmup} '
                        'warm-up '
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
  _configure_threads(args)
  precision.resolve_precision(args.precision, None)  # a bad value fails before the slow build
  folders.check_folder(args.images)
  backbone = _backbone(args, random_weights_warning=True)
  checkpoint = os.path.abspath(args.checkpoint) if args.checkpoint else None
  try:
    with contextlib.nullcontext() if args.debug else terminal.native_stderr_silenced():
      report = extract.extract(
          backbone, args.images, args.output, levels=args.features, pooled=args.pooled, input_size=args.input_size,
          batch_size=args.batch, precision=args.precision, overwrite=args.overwrite,
          progress=terminal.shows_progress(args),
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


RUN = {'list': _cmd_list, 'describe': _cmd_describe, 'adapt-checkpoint': _cmd_adapt_checkpoint,
       'fetch-weights': _cmd_fetch_weights, 'export': _cmd_export, 'benchmark': _cmd_benchmark,
       'extract': _cmd_extract}
