"""The commands, thin over the library; imported by `slimnets.cli.main` once the arguments are checked (it loads
TensorFlow). `RUN` maps each command to its function."""

import argparse
import contextlib
import dataclasses
import json
import os
import sys

import tensorflow as tf
from tqdm import tqdm

from nets import deeplab
from nets import nets_factory
from slimnets import folders
from slimnets import models
from slimnets import staging
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
from slimnets.segmentation import datasets
from slimnets.segmentation import evaluation
from slimnets.segmentation import runs
from slimnets.segmentation import training
from slimnets.segmentation import visualization
from slimnets.weights import checkpoints
from slimnets.weights import fetch


def _cmd_list(args: argparse.Namespace) -> None:
  specs = tqdm([nets_factory.get_spec(name) for name in nets_factory.list_networks(args.patterns)],
               desc='slimnets: counting parameters', unit=' networks', leave=False, file=sys.stderr,
               disable=not terminal.shows_progress(args))
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
  export.export_saved_model(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision,
                            input_size=args.input_size)
  size = ', '.join(map(str, args.input_size)) if args.input_size else 'height, width'
  print(f"wrote {output}: serving_default(images: float32 [batch, {size}, {args.in_channels}]) -> {outputs}")


def _export_openvino(args: argparse.Namespace, backbone, output: str, outputs: str) -> None:
  terminal.status(args, f'converting to OpenVINO IR ({args.precision} inference hint, batch norm folded)')
  export.export_openvino(backbone, output, args.features, overwrite=args.overwrite, precision=args.precision)
  print(f"wrote {output}/model.xml, model.bin: images: float32 [batch, height, width, {args.in_channels}] -> "
        f"{outputs}")


def _export_tflite(args: argparse.Namespace, backbone, output: str, outputs: str) -> None:
  size = args.input_size or backbone.default_input_size()
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
  """The `deeplab.ModelOptions` of --deeplab and its options (--atrous-rates, --decoder-output-stride, ...), or
  those of the run folder given as --checkpoint (at --output-stride, the atrous rates following it)."""
  if getattr(args, 'run_options', None):
    options, note = runs.at_output_stride(deeplab.ModelOptions(**args.run_options).checked(), args.output_stride)
    if note:
      print(f'slimnets: {note}', file=sys.stderr)
    return options.checked()
  given = {field: getattr(args, field) for _, field in arguments.DEEPLAB_FLAGS
           if field and getattr(args, field) is not None}
  return deeplab.ModelOptions(
      {'semantic': getattr(args, 'num_classes', None) or arguments.DEEPLAB_CLASSES},
      output_stride=args.output_stride or arguments.DEEPLAB_OUTPUT_STRIDE, model_variant=args.network,
      multi_grid=args.multi_grid, add_image_level_feature=not args.no_image_pooling, **given).checked()


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
  size = args.input_size or backbone.default_input_size()
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


def _cmd_build_dataset(args: argparse.Namespace) -> None:
  descriptor = datasets.describe_dataset(args.dataset, None, args.num_classes, args.ignore_label)
  try:
    result = datasets.build_dataset(args.images_dir, args.labels_dir, args.output, args.split,
                                    num_classes=descriptor.num_classes, ignore_label=descriptor.ignore_label,
                                    shards=args.shards, overwrite=args.overwrite,
                                    progress=terminal.shows_progress(args))
  except KeyboardInterrupt as interrupt:
    interrupt.kept = 'no shard was written; nothing half-written is left'
    raise
  print(f"wrote {result['examples']} examples of split {args.split} in {args.shards} shards to {args.output} "
        f"({descriptor.num_classes} classes, ignore label {descriptor.ignore_label})")


def _split_cpu(replicas: int) -> None:
  """`replicas` logical CPU devices when there is no GPU, before TensorFlow starts its runtime."""
  if replicas > 1 and not tf.config.list_physical_devices('GPU'):
    cpu = tf.config.list_physical_devices('CPU')[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * replicas)


def _cmd_train(args: argparse.Namespace) -> None:
  _split_cpu(args.num_replicas)
  descriptor = datasets.describe_dataset(args.dataset, args.dataset_dir, args.num_classes, args.ignore_label)
  args.num_classes = descriptor.num_classes
  model_options = _deeplab_options(args)
  options = training.TrainingOptions(
      train_logdir=args.train_logdir, dataset_dir=args.dataset_dir, dataset=args.dataset,
      train_split=args.train_split, num_classes=descriptor.num_classes, ignore_label=descriptor.ignore_label,
      **{field.name: getattr(args, field.name) for field in dataclasses.fields(training.TrainingOptions)
         if field.name not in ('train_logdir', 'dataset_dir', 'dataset', 'train_split', 'num_classes',
                               'ignore_label') and hasattr(args, field.name)})
  log = lambda line: tqdm.write(f'slimnets: {line}', file=sys.stderr)
  try:
    result = training.train(model_options, options, progress=terminal.shows_progress(args), log=log)
  except checkpoints.RestoreError as error:
    raise ValueError(f'{error.problem}. Give the model options the checkpoint was trained with, or '
                     '--no-initialize-last-layer for another class count') from None
  except training.NonFiniteLossError as error:
    raise ValueError(str(error)) from None
  if result.stopped_by:
    print(f'stopped by {result.stopped_by} at step {result.step}: {result.checkpoint}; the same command resumes')
    # 143 / 130 as for the signal itself; 75 (EX_TEMPFAIL) where another worker's signal stopped the job
    raise SystemExit({'SIGTERM': 143, 'SIGINT': 130, training.STOPPED_BY_ANOTHER_WORKER: 75}[result.stopped_by])
  if args.update_batch_norm_statistics and result.step > result.started_at:
    _update_statistics(args, options, result)
  speed = f', {result.images_per_second:.1f} images/s' if result.images_per_second else ''
  print(f'trained {args.train_logdir} to step {result.step}{speed}: {result.checkpoint}')


def _update_statistics(args: argparse.Namespace, options, result) -> None:
  count, path = training.update_batch_norm_statistics(result.checkpoint, options, args.update_batch_norm_statistics)
  print(f'batch norm statistics of {count} batches: {path} (evaluate or export that checkpoint)')


def _evaluation_setup(args: argparse.Namespace, path: str):
  """(loaded segmenter, dataset descriptor) of evaluate / visualize: the model of the run folder or checkpoint
  `path`, the dataset's classes from the arguments, the named dataset, the dataset folder or the run."""
  loaded = evaluation.load_segmenter(path, args.output_stride)
  trained = runs.read_training(path if os.path.isdir(path) else os.path.dirname(loaded.checkpoint)) or {}
  classes = args.num_classes or (None if args.dataset else trained.get('num_classes'))
  ignore = args.ignore_label if args.ignore_label is not None else (
      None if args.dataset else trained.get('ignore_label'))
  descriptor = datasets.describe_dataset(args.dataset, args.dataset_dir, classes, ignore)
  print(f'restored {len(loaded.report.restored)} variables from {loaded.checkpoint}', file=sys.stderr)
  if loaded.note:
    print(f'slimnets: {loaded.note}', file=sys.stderr)
  return loaded, descriptor


def _cmd_evaluate(args: argparse.Namespace) -> None:
  if not args.watch:
    _evaluate_once(args, args.checkpoint_dir)
    return
  for checkpoint in tf.train.checkpoints_iterator(args.checkpoint_dir, timeout=args.watch_timeout):
    _evaluate_once(args, checkpoint)


def _evaluate_once(args: argparse.Namespace, path: str) -> None:
  loaded, descriptor = _evaluation_setup(args, path)
  result = evaluation.evaluate(loaded.segmenter, args.dataset_dir, args.eval_split, descriptor.num_classes,
                               descriptor.ignore_label, eval_crop_size=args.eval_crop_size,
                               eval_scales=args.eval_scales, add_flipped_images=args.add_flipped_images,
                               progress=terminal.shows_progress(args))
  step = runs.checkpoint_step(loaded.checkpoint)
  summary = {'checkpoint': loaded.checkpoint, 'step': step, 'split': args.eval_split, 'images': result.images,
             'output_stride': loaded.segmenter.model_options.output_stride,
             'atrous_rates': loaded.segmenter.model_options.atrous_rates, 'eval_scales': list(args.eval_scales),
             'add_flipped_images': args.add_flipped_images, 'mean_iou': result.mean_iou,
             'per_class_iou': result.per_class_iou, 'confusion_matrix': result.confusion_matrix.astype(int).tolist()}
  if args.eval_logdir:
    os.makedirs(args.eval_logdir, exist_ok=True)
    path = os.path.join(args.eval_logdir, f'evaluation-{step if step is not None else "final"}.json')
    with staging.staged(path) as temporary:
      with open(temporary, 'w', encoding='utf-8') as handle:
        json.dump(summary, handle, indent=1)
    with tf.summary.create_file_writer(args.eval_logdir).as_default():
      tf.summary.scalar(f'miou_1.0_{args.eval_split}', result.mean_iou, step=step or 0)
  if args.json:
    print(json.dumps(summary))
    return
  rows = [(str(k), '-' if v is None else f'{100 * v:.2f}') for k, v in enumerate(result.per_class_iou)]
  for line in tables.table(('class', 'IoU %'), rows):
    print(line)
  print(f'mean IoU {100 * result.mean_iou:.2f}% over {result.images} images of {args.eval_split} '
        f'({loaded.checkpoint}, output stride {loaded.segmenter.model_options.output_stride}, scales '
        f'{",".join(str(s) for s in args.eval_scales)}{", flipped" if args.add_flipped_images else ""})')


def _cmd_visualize(args: argparse.Namespace) -> None:
  loaded, _ = _evaluation_setup(args, args.checkpoint_dir)
  colormap = args.colormap or {'cityscapes': 'cityscapes', 'ade20k': 'ade20k'}.get(args.dataset, 'pascal')
  label_ids = visualization.CITYSCAPES_LABEL_IDS if args.dataset == 'cityscapes' else None
  count = evaluation.visualize(loaded.segmenter, args.dataset_dir, args.vis_split, args.vis_logdir,
                               colormap_name=colormap, eval_crop_size=args.eval_crop_size,
                               eval_scales=args.eval_scales, add_flipped_images=args.add_flipped_images,
                               also_save_raw_predictions=args.also_save_raw_predictions, raw_label_ids=label_ids,
                               max_images=args.max_number_of_images, progress=terminal.shows_progress(args))
  print(f'wrote the pictures of {count} images to {os.path.join(args.vis_logdir, "segmentation_results")}')


RUN = {'list': _cmd_list, 'describe': _cmd_describe, 'adapt-checkpoint': _cmd_adapt_checkpoint,
       'fetch-weights': _cmd_fetch_weights, 'export': _cmd_export, 'benchmark': _cmd_benchmark,
       'extract': _cmd_extract, 'build-dataset': _cmd_build_dataset, 'train': _cmd_train,
       'evaluate': _cmd_evaluate, 'visualize': _cmd_visualize}
