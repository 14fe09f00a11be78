"""The command line's parser: commands, their arguments and argument types. Imports no TensorFlow."""

import argparse
from typing import Optional, Sequence

from slimnets.deploy import formats
from slimnets.deploy import precision


DEEPLAB_CLASSES = 21  # PASCAL VOC's, the default of DeepLab's model zoo and flags
DEEPLAB_OUTPUT_STRIDE = 16  # DeepLab's flag default
_DEEPLAB_CLASSES_HELP = f'with --deeplab: the segmenter\'s classes (default {DEEPLAB_CLASSES})'


# The DeepLab options of the command line: (flag, ModelOptions field); given without --deeplab they are usage errors.
DEEPLAB_FLAGS = (('--atrous-rates', 'atrous_rates'), ('--decoder-output-stride', 'decoder_output_stride'),
                  ('--no-image-pooling', None), ('--depth-multiplier', 'depth_multiplier'),
                  ('--aspp-convs-filters', 'aspp_convs_filters'), ('--decoder-filters', 'decoder_filters'))


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


def _float_list(text: str) -> tuple:
  try:
    values = tuple(float(part) for part in text.split(','))
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected comma-separated numbers, got {text!r}') from None
  if not all(v > 0 for v in values):
    raise argparse.ArgumentTypeError(f'values must be > 0, got {text!r}')
  return values


def _fraction(text: str) -> float:
  value = _positive_float(text)
  if value > 1:
    raise argparse.ArgumentTypeError(f'must be in (0, 1], got {text!r}')
  return value


def _number(text: str, strict: bool) -> float:
  """`text` as a number > 0 (`strict`) or >= 0, else an argparse error saying which."""
  bound = '> 0' if strict else '>= 0'
  try:
    value = float(text)
  except ValueError:
    raise argparse.ArgumentTypeError(f'expected a number {bound}, got {text!r}') from None
  if not (value > 0 if strict else value >= 0):
    raise argparse.ArgumentTypeError(f'must be {bound}, got {text!r}')
  return value


def _non_negative_float(text: str) -> float:
  return _number(text, strict=False)


def _positive_float(text: str) -> float:
  return _number(text, strict=True)


class _Parser(argparse.ArgumentParser):
  """An argument parser whose usage errors are one line on stderr (exit status 2)."""

  def error(self, message):
    self.exit(2, f'{self.prog}: error: {message} (see --help)\n')


def _add_deeplab_arguments(parser: argparse.ArgumentParser) -> None:
  group = parser.add_argument_group(
      'DeepLab segmenters', 'with --deeplab, the network is the backbone of a DeepLab v3 (v3+ with '
      '--decoder-output-stride) model with DeepLab\'s names; --output-stride defaults to 16 and --num-classes to 21')
  group.add_argument('--deeplab', action='store_true', help='a DeepLab segmenter on the network')
  _add_deeplab_options(group)


def _add_deeplab_options(group) -> None:
  """The flags of `DEEPLAB_FLAGS`: DeepLab's model options beyond the backbone and its stride."""
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


_NETWORK_HELP = ('a network name (see `slimnets list`); needed unless --checkpoint is a slimnets train run folder, '
                 'whose model it takes')


def _add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--checkpoint', metavar='CKPT|RUN',
                      help='TF-Slim checkpoint to load (default: random weights), or a slimnets train run folder: '
                           'its newest checkpoint and its model (DeepLab options and classes)')
  parser.add_argument('--allow-unused', action='store_true',
                      help="accept checkpoint variables under the model's scopes that the model does not build "
                           '(by default an error: the model was built with other options than the checkpoint\'s)')


def _add_inference_arguments(parser: argparse.ArgumentParser, batch: int) -> None:
  parser.add_argument('--network', help=_NETWORK_HELP)
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


DATASETS = ('pascal_voc_seg', 'cityscapes', 'ade20k')  # DeepLab's descriptors (slimnets.segmentation.datasets)
COLORMAPS = ('pascal', 'cityscapes', 'ade20k')


def _add_dataset_arguments(parser: argparse.ArgumentParser, split_flag: str, split_default: str) -> None:
  group = parser.add_argument_group('dataset', "a folder of DeepLab TFRecords (slimnets build-dataset writes them)")
  group.add_argument('--dataset-dir', required=True, metavar='DIR', help='the folder of the shards')
  group.add_argument('--dataset', choices=DATASETS,
                     help="one of DeepLab's datasets (its classes and ignore label); default: the folder's own "
                          '(slimnets_dataset.json) or --num-classes')
  group.add_argument(split_flag, default=split_default, metavar='NAME', help=f'the split (default {split_default})')
  group.add_argument('--ignore-label', type=_non_negative_int, metavar='L',
                     help="the label of pixels without ground truth (default: the dataset's, else 255)")


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
  group = parser.add_argument_group('model', "DeepLab's model options (research/deeplab common.py flags)")
  group.add_argument('--model-variant', dest='network', default='mobilenet_v2',
                     help='the backbone, one of DeepLab\'s model variants (default mobilenet_v2)')
  group.add_argument('--output-stride', type=_positive_int, metavar='N',
                     help=f'the backbone\'s output stride (default {DEEPLAB_OUTPUT_STRIDE})')
  group.add_argument('--multi-grid', type=_int_list, metavar='A,B,C', help="unit rates of the last block")
  _add_deeplab_options(group)
  parser.set_defaults(deeplab=True)


def _add_evaluation_arguments(parser: argparse.ArgumentParser) -> None:
  parser.add_argument('--checkpoint-dir', required=True, metavar='DIR|CKPT',
                      help='a slimnets train --train-logdir (its newest checkpoint), or a checkpoint prefix in one')
  parser.add_argument('--output-stride', type=_positive_int, metavar='N',
                      help="evaluate at this output stride (default: training's); the atrous rates follow it")
  parser.add_argument('--eval-crop-size', type=_input_size, metavar='H,W',
                      help='pad every image to this size, as DeepLab (default: whole images)')
  parser.add_argument('--eval-scales', type=_float_list, default=(1.0,), metavar='S,S',
                      help='scales to average the predictions over (default 1.0)')
  parser.add_argument('--add-flipped-images', action='store_true', help='also average over mirrored images')
  parser.add_argument('--num-classes', type=_positive_int, metavar='K',
                      help="the dataset's classes (default: the named dataset's, the folder's, the run's)")
  parser.add_argument('--quiet', action='store_true', help='no progress bar')


def _add_training_parser(commands) -> None:
  training = commands.add_parser('train', help="train a DeepLab model on DeepLab TFRecords (research/deeplab "
                                               "train.py), resumable")
  training.add_argument('--train-logdir', required=True, metavar='DIR',
                        help='the run folder: checkpoints, model_options.json, TensorBoard events; one with '
                             'checkpoints resumes')
  _add_dataset_arguments(training, '--train-split', 'train')
  training.add_argument('--num-classes', type=_positive_int, metavar='K',
                        help="the dataset's classes (default: the named dataset's, or the folder's)")
  _add_model_arguments(training)
  group = training.add_argument_group('training', "research/deeplab train.py's flags, with its defaults")
  group.add_argument('--train-crop-size', type=_input_size, default=(513, 513), metavar='H,W',
                     help='training crop (default 513,513)')
  group.add_argument('--train-batch-size', type=_positive_int, default=8, metavar='B',
                     help='examples per step over all replicas (default 8)')
  group.add_argument('--training-number-of-steps', type=_positive_int, default=30000, metavar='N',
                     help='the step to stop at (default 30000)')
  group.add_argument('--base-learning-rate', type=_positive_float, default=0.0001, metavar='LR',
                     help='(default 0.0001)')
  group.add_argument('--learning-policy', choices=('poly', 'step'), default='poly', help='(default poly)')
  group.add_argument('--learning-power', type=_positive_float, default=0.9, metavar='P', help='(default 0.9)')
  group.add_argument('--end-learning-rate', type=_non_negative_float, default=0.0, metavar='LR',
                     help='poly: the rate at the last step (default 0)')
  group.add_argument('--learning-rate-decay-step', type=_positive_int, default=2000, metavar='N',
                     help='step: decay every N steps (default 2000)')
  group.add_argument('--learning-rate-decay-factor', type=_positive_float, default=0.1, metavar='F',
                     help='step: by this factor (default 0.1)')
  group.add_argument('--slow-start-step', type=_non_negative_int, default=0, metavar='N',
                     help='steps at --slow-start-learning-rate first (default 0)')
  group.add_argument('--slow-start-learning-rate', type=_positive_float, default=0.0001, metavar='LR')
  group.add_argument('--optimizer', choices=('momentum', 'adam'), default='momentum',
                     help='momentum (default; the learning rate policy above) or adam (a constant learning rate)')
  group.add_argument('--momentum', type=_non_negative_float, default=0.9, metavar='M', help='(default 0.9)')
  group.add_argument('--adam-learning-rate', type=_positive_float, default=0.001, metavar='LR',
                     help='(default 0.001)')
  group.add_argument('--adam-epsilon', type=_positive_float, default=1e-08, metavar='E', help='(default 1e-08)')
  group.add_argument('--weight-decay', type=_non_negative_float, default=0.00004, metavar='W',
                     help='(default 0.00004)')
  group.add_argument('--fine-tune-batch-norm', action=argparse.BooleanOptionalAction, default=True,
                     help='train batch norm with batch statistics (default on; off for small batches)')
  group.add_argument('--synchronized-batch-norm', action='store_true',
                     help='batch statistics over the global batch across replicas')
  group.add_argument('--upsample-logits', action=argparse.BooleanOptionalAction, default=True,
                     help="the loss at the labels' size (default), or at the logits' with --no-upsample-logits")
  group.add_argument('--top-k-percent-pixels', type=_fraction, default=1.0, metavar='F',
                     help='hard example mining: the fraction of pixels with the largest losses (default 1.0)')
  group.add_argument('--hard-example-mining-step', type=_non_negative_int, default=0, metavar='N',
                     help='steps over which the fraction goes from 1 to --top-k-percent-pixels (default 0)')
  group.add_argument('--tf-initial-checkpoint', metavar='CKPT',
                     help='start from this checkpoint (ImageNet backbone or DeepLab model) unless the run resumes')
  group.add_argument('--initialize-last-layer', action=argparse.BooleanOptionalAction, default=True,
                     help='restore the last layers too (--no-initialize-last-layer for another class count)')
  group.add_argument('--last-layers-contain-logits-only', action='store_true',
                     help='the last layers are the logits only (else also ASPP, image pooling and decoder)')
  group.add_argument('--min-resize-value', type=_positive_int, metavar='N')
  group.add_argument('--max-resize-value', type=_positive_int, metavar='N')
  group.add_argument('--resize-factor', type=_positive_int, metavar='N')
  group.add_argument('--min-scale-factor', type=_positive_float, default=0.5, metavar='S', help='(default 0.5)')
  group.add_argument('--max-scale-factor', type=_positive_float, default=2.0, metavar='S', help='(default 2.0)')
  group.add_argument('--scale-factor-step-size', type=_non_negative_float, default=0.25, metavar='S',
                     help='(default 0.25; 0: any scale)')
  group.add_argument('--num-replicas', type=_positive_int, default=1, metavar='N',
                     help='devices to train on in this process (on a CPU, it is split into N); for several workers, '
                          'set TF_CONFIG on each and leave N at 1')
  group.add_argument('--save-interval-secs', type=_positive_float, default=1200.0, metavar='S',
                     help='checkpoint every S seconds (default 1200), and at the end')
  group.add_argument('--save-interval-steps', type=_positive_int, metavar='N', help='also every N steps')
  group.add_argument('--max-to-keep', type=_positive_int, default=5, metavar='N', help='checkpoints kept (5)')
  group.add_argument('--save-summaries-steps', type=_positive_int, default=10, metavar='N',
                     help='TensorBoard scalars every N steps (default 10)')
  group.add_argument('--save-summaries-images', action='store_true',
                     help='with the scalars, images, labels and predictions of a batch')
  group.add_argument('--seed', type=_non_negative_int, default=0, help='data order, augmentation, weights (0)')
  group.add_argument('--deterministic', action='store_true',
                     help="TensorFlow's deterministic kernels: the same seed gives the same weights, resumed or not")
  group.add_argument('--update-batch-norm-statistics', type=_non_negative_int, default=0, metavar='N',
                     help='after training, set the batch norm statistics to their mean over N training batches')
  training.add_argument('--quiet', action='store_true', help='no progress bar')
  training.set_defaults(parser=training)


def _add_segmentation_parsers(commands) -> None:
  building = commands.add_parser('build-dataset', help='write DeepLab TFRecords from a folder of images and one of '
                                                       'label PNGs')
  building.add_argument('images_dir', metavar='IMAGES_DIR', help='JPEG/PNG images (any depth)')
  building.add_argument('labels_dir', metavar='LABELS_DIR',
                        help='label PNGs (grayscale or palette: the values are the classes), same names as the images')
  building.add_argument('--output', required=True, metavar='DIR', help='the dataset folder (other splits stay)')
  building.add_argument('--split', required=True, metavar='NAME', help='the split, e.g. train')
  building.add_argument('--shards', type=_positive_int, default=4, metavar='N', help='files (default 4)')
  building.add_argument('--dataset', choices=DATASETS, help="one of DeepLab's datasets (its classes and ignore label)")
  building.add_argument('--num-classes', type=_positive_int, metavar='K', help='the classes (without --dataset)')
  building.add_argument('--ignore-label', type=_non_negative_int, metavar='L',
                        help="the label of pixels without ground truth (default: the dataset's, else 255)")
  building.add_argument('--overwrite', action='store_true', help='replace the split if it exists')
  building.add_argument('--quiet', action='store_true', help='no progress bar')
  building.set_defaults(parser=building)
  _add_training_parser(commands)
  evaluating = commands.add_parser('evaluate', help='mean IoU of a trained DeepLab model (research/deeplab eval.py)')
  _add_evaluation_arguments(evaluating)
  _add_dataset_arguments(evaluating, '--eval-split', 'val')
  evaluating.add_argument('--eval-logdir', metavar='DIR',
                          help='write evaluation-<step>.json (IoUs, confusion matrix) and TensorBoard scalars here')
  evaluating.add_argument('--watch', action='store_true',
                          help='evaluate each new checkpoint of --checkpoint-dir once, until --watch-timeout')
  evaluating.add_argument('--watch-timeout', type=_positive_float, default=3600.0, metavar='S',
                          help='with --watch: stop after S seconds without a new checkpoint (default 3600)')
  evaluating.add_argument('--json', action='store_true', help='print one JSON object per evaluation')
  evaluating.set_defaults(parser=evaluating)
  visualizing = commands.add_parser('visualize', help='pictures of the predictions (research/deeplab vis.py)')
  _add_evaluation_arguments(visualizing)
  _add_dataset_arguments(visualizing, '--vis-split', 'val')
  visualizing.add_argument('--vis-logdir', required=True, metavar='DIR', help='where the pictures go')
  visualizing.add_argument('--colormap', choices=COLORMAPS,
                           help="DeepLab's colormap (default: the dataset's, else pascal)")
  visualizing.add_argument('--also-save-raw-predictions', action='store_true',
                           help='also the labels as grayscale PNGs (Cityscapes: its label ids, for its server)')
  visualizing.add_argument('--max-number-of-images', type=_positive_int, metavar='N', help='stop after N images')
  visualizing.set_defaults(parser=visualizing)


def build_parser() -> argparse.ArgumentParser:
  parser = _Parser(prog='slimnets', description='TF-Slim style backbones for classification and dense prediction.')
  parser.add_argument('--debug', action='store_true', help='show tracebacks of failures')
  commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
  listing = commands.add_parser('list', help='the networks, with default image size, parameters and stride')
  listing.add_argument('patterns', nargs='*', metavar='PATTERN',
                       help="only the networks matching a shell-style pattern, e.g. 'resnet_v1_*' (default: all)")
  listing.add_argument('--num-classes', type=_non_negative_int, default=1000,
                       help='classes of the head counted in the parameters (0: features only; default 1000)')
  listing.add_argument('--json', action='store_true', help='print a JSON list instead of a table')
  listing.add_argument('--quiet', action='store_true', help='no progress bar (none is shown off a terminal)')
  listing.set_defaults(parser=listing)
  describing = commands.add_parser(
      'describe', help='end points with shapes, strides and receptive fields; feature levels; parameters; FLOPs')
  describing.add_argument('network', help='a network name (see `slimnets list`), or a `slimnets train` run folder '
                                          '(its DeepLab model)')
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
  describing.set_defaults(parser=describing)
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
  adapting.set_defaults(parser=adapting)
  fetching = commands.add_parser('fetch-weights', help='download and verify a published TF-Slim checkpoint')
  fetching.add_argument('network', help='a network with a published checkpoint, e.g. resnet_v1_50, or a model of '
                                        "DeepLab's model zoo, e.g. xception_coco_voc_trainaug (its folder, with "
                                        'the checkpoint and model_options.json, is then what --checkpoint takes)')
  fetching.add_argument('--url', help='download from this address instead of the official one (a mirror of '
                                     'the published archive: its known size and checksum still apply)')
  fetching.add_argument('--cache-dir', help='cache directory (default ~/.cache/slimnets)')
  fetching.add_argument('--quiet', action='store_true', help='no progress bar')
  fetching.set_defaults(parser=fetching)
  exporting = commands.add_parser('export', help='write a SavedModel, OpenVINO IR or TFLite model: images -> output '
                                                 'and feature levels')
  exporting.add_argument('--network', help=_NETWORK_HELP)
  _add_checkpoint_arguments(exporting)
  exporting.add_argument('--output', required=True, metavar='PATH',
                         help='SavedModel or OpenVINO directory, or .tflite file, to write')
  exporting.add_argument('--format', choices=formats.NAMES, default=formats.NAMES[0],
                         help='; '.join(f'{f.name}: {f.help}' for f in formats.FORMATS))
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
                         help="tflite: the input height and width (default: the network's default image size); "
                              'savedmodel: the one height and width its signatures take (default: any; a fixed '
                              'size runs faster in bfloat16)')
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
  exporting.set_defaults(parser=exporting)
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
  benchmarking.set_defaults(parser=benchmarking)
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
  extracting.set_defaults(parser=extracting)
  _add_segmentation_parsers(commands)
  return parser
