"""Usage errors (exit status 2, one line) for what the arguments alone refute, before TensorFlow loads."""

import argparse
import json
import os

from nets import nets_factory
from slimnets import staging
from slimnets.cli import arguments
from slimnets.deploy import formats


def _check_deeplab_usage(args: argparse.Namespace, spec) -> None:
  """DeepLab's options need --deeplab and one of its model variants, a decoder stride below the output stride."""
  given = [flag for flag, _ in arguments.DEEPLAB_FLAGS
           if getattr(args, flag[2:].replace('-', '_')) not in (None, False)]
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
  stride = args.output_stride or arguments.DEEPLAB_OUTPUT_STRIDE
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


def _check_export_options(args: argparse.Namespace) -> None:
  """The options of one export format are refused with another, and int8 needs its calibration images."""
  chosen = formats.get_format(args.format)
  if args.input_size and not chosen.sized:
    owners = ', '.join(f.name for f in formats.FORMATS if f.sized)
    raise ValueError(f'--input-size is for --format {owners}, not {args.format} (which takes any size)')
  fixed_shape = {'--batch': args.batch != 1, '--quantization': args.quantization != 'float32',
                 '--calibration-images': args.calibration_images}
  given = [option for option, value in fixed_shape.items() if value]
  if not chosen.fixed_shape and given:
    owners = ', '.join(f.name for f in formats.FORMATS if f.fixed_shape)
    raise ValueError(f'{", ".join(given)} {"is" if len(given) == 1 else "are"} for --format {owners}, not '
                     f'{args.format}')
  if not chosen.precision and args.precision != 'float32':
    takers = ' and '.join(f.name for f in formats.FORMATS if f.precision)
    raise ValueError(f'--precision is for {takers}; a {args.format} model computes in float32 '
                     '(--quantization float16 or int8 makes it smaller)')
  if (args.quantization == 'int8') != bool(args.calibration_images):
    raise ValueError('--quantization int8 needs --calibration-images DIR, and --calibration-images is for int8 '
                     'only')


# The model options file of a `slimnets train` run folder (slimnets.segmentation.runs.MODEL_OPTIONS_FILE, which
# loads TensorFlow; tests/test_segmentation_workflow.py checks the two are the same).
RUN_MODEL_OPTIONS = 'model_options.json'


def _take_run_model(args: argparse.Namespace) -> None:
  """With --checkpoint a `slimnets train` run folder, its model: --network and --deeplab from its options, which
  `commands` builds the segmenter from (`args.run_options`); flags that would say otherwise are refused."""
  checkpoint = getattr(args, 'checkpoint', None)
  path = os.path.join(checkpoint, RUN_MODEL_OPTIONS) if checkpoint else ''
  if not (path and os.path.isfile(path)):
    args.run_options = None
    if hasattr(args, 'checkpoint') and not args.network:
      args.parser.error('--network is required (or --checkpoint a slimnets train run folder, whose model it takes)')
    return
  with open(path, encoding='utf-8') as handle:
    options = json.load(handle)
  flags = [flag for flag, _ in arguments.DEEPLAB_FLAGS] + ['--deeplab', '--multi-grid', '--num-classes']
  given = [flag for flag in flags if getattr(args, flag[2:].replace('-', '_'), None) not in (None, False)]
  if args.network and args.network != options['model_variant']:
    given.append(f'--network {args.network}')
  if given:
    args.parser.error(f'--checkpoint {checkpoint} is a training run of its own model ({path}): leave out '
                      f'{", ".join(given)} (--output-stride may change; the atrous rates then follow it)')
  args.network, args.deeplab, args.run_options = options['model_variant'], True, options
  args.num_classes = sorted(options['outputs_to_num_classes'].items())[0][1]


def check_usage(args: argparse.Namespace) -> None:
  """Usage errors (exit status 2, one line) for what the arguments alone refute, before TensorFlow loads:
  an unknown network (or a `list` pattern matching none), an output stride or multi-grid it does not take, an
  input size below its minimum, a
  network without a published checkpoint to fetch, an output that exists without --overwrite."""
  if args.command == 'list':
    try:
      nets_factory.list_networks(args.patterns)
    except ValueError as error:
      args.parser.error(str(error))
  if args.command in ('export', 'benchmark', 'extract'):
    _take_run_model(args)
  if args.command == 'describe' and os.path.isfile(os.path.join(args.network, RUN_MODEL_OPTIONS)):
    args.checkpoint, args.network = args.network, None  # a `slimnets train` run folder: its model
    _take_run_model(args)
  if not getattr(args, 'network', None):
    return
  if args.command == 'fetch-weights' and args.network not in nets_factory.REGISTRY:
    try:
      nets_factory.published(args.network)  # a model of DeepLab's model zoo, or an error naming them
    except ValueError as error:
      args.parser.error(str(error))
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
      staging.check_output(os.path.abspath(args.output), args.overwrite)
    if args.command == 'extract':
      if args.num_classes and not args.deeplab:
        raise ValueError('--num-classes is for --deeplab segmenters: extract keeps features, not logits, of a '
                         'backbone')
      staging.check_file_or_folder(args.output, '.npz')
      if args.output.endswith('.npz'):
        staging.check_output(os.path.abspath(args.output), args.overwrite)
    if getattr(args, 'allow_unused', False) and not args.checkpoint:
      raise ValueError('--allow-unused is for --checkpoint')
  except (ValueError, FileExistsError) as error:
    args.parser.error(str(error))
