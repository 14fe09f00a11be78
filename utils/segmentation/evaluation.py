"""Evaluating and visualizing trained DeepLab models: research/deeplab's eval.py and vis.py in TF2 code.

    segmenter, restored = load_segmenter('runs/voc', output_stride=8)     # a run folder or a checkpoint
    result = evaluate(segmenter, 'data/voc', 'val', num_classes=21, eval_scales=(0.75, 1.0, 1.25))
    visualize(segmenter, 'data/voc', 'val', 'pictures/', colormap_name='pascal')

`load_segmenter` reads the model's options from the run folder (`model_options.json`) and restores every variable
of the model (an error otherwise); at an output stride other than training's, the ASPP rates follow it (6, 12, 18 at
16 become 12, 24, 36 at 8), which `LoadedSegmenter.note` says. Predictions are `Segmenter.predict`'s: softmax of
the logits upsampled to the image size, averaged over the scales (and flips).
"""

import dataclasses
import os
from typing import Callable, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from slimnets import models
from slimnets.segmentation import datasets
from slimnets.segmentation import runs
from slimnets.segmentation import visualization
from slimnets.segmentation.metrics import MeanIoU
from slimnets.weights import checkpoints


@dataclasses.dataclass
class LoadedSegmenter:
  """A restored segmenter: the model, the checkpoint, the restore report and a line on the output stride (or
  None when it is training's)."""
  segmenter: models.Segmenter
  checkpoint: str
  report: checkpoints.RestoreReport
  note: Optional[str]


@dataclasses.dataclass
class EvaluationResult:
  """mean IoU (over the classes present in labels or predictions), per-class IoU (None for absent classes), the
  `[num_classes, num_classes]` confusion matrix (rows: labels, columns: predictions), the images evaluated."""
  mean_iou: float
  per_class_iou: List[Optional[float]]
  confusion_matrix: np.ndarray
  images: int


def load_segmenter(path: str, output_stride: Optional[int] = None, model_options=None) -> LoadedSegmenter:
  """The segmenter of a training run folder (its newest checkpoint) or of a checkpoint prefix in one, restored.

  Args:
    path: a `slimnets train` run folder, or a checkpoint prefix (its folder holds `model_options.json`).
    output_stride: evaluate at this output stride (default: training's); the atrous rates follow it.
    model_options: the model's options, for a checkpoint without a run folder.

  Raises:
    ValueError: without a checkpoint or options, or when the checkpoint does not hold every variable of the model
      with its shape (`checkpoints.RestoreError`).
  """
  checkpoint = runs.latest_checkpoint(path)
  if checkpoint is None:
    raise ValueError(f'{path!r} is neither a checkpoint prefix nor a folder with checkpoints')
  if model_options is None:
    model_options = runs.read_model_options(path if os.path.isdir(path) else os.path.dirname(checkpoint))
  options, note = runs.at_output_stride(model_options, output_stride)
  segmenter = models.Segmenter(options._replace(crop_size=None))
  report = segmenter.restore(checkpoint, allow_missing=False)
  return LoadedSegmenter(segmenter, checkpoint, report, note)


def _predictions(segmenter: models.Segmenter, eval_scales: Sequence[float], add_flipped_images: bool,
                 eval_crop_size: Optional[Sequence[int]]):
  """The traced prediction of batches: of any size, or padded to `eval_crop_size`, which is then the model's crop
  size (DeepLab's eval.py builds its model with `crop_size=eval_crop_size`: its image-level pooling windows)."""
  crop = tuple(eval_crop_size) if eval_crop_size else None
  return tf.function(lambda images: segmenter.predict(images, eval_scales, add_flipped_images, crop_size=crop),
                     input_signature=[tf.TensorSpec([None, *(crop or (None, None)), segmenter.in_channels],
                                                    tf.float32)])


def evaluate(segmenter: models.Segmenter, dataset_dir: str, split: str, num_classes: int,
             ignore_label: int = 255, *, eval_crop_size: Optional[Sequence[int]] = None,
             eval_scales: Sequence[float] = (1.0,), add_flipped_images: bool = False, batch_size: int = 1,
             min_resize_value: Optional[int] = None, max_resize_value: Optional[int] = None,
             resize_factor: Optional[int] = None, progress: bool = False,
             on_batch: Optional[Callable[[dict, np.ndarray], None]] = None) -> EvaluationResult:
  """Mean IoU of `segmenter` on a split, as DeepLab's eval.py computes it (streaming confusion matrix).

  Args:
    segmenter: the model (e.g. `load_segmenter(...).segmenter`).
    dataset_dir, split: the dataset's shards.
    num_classes, ignore_label: the dataset's; pixels of `ignore_label` (and the padding) are not counted.
    eval_crop_size: pad every image to this size (DeepLab's eval_crop_size; larger images are refused), or None
      for whole images.
    eval_scales, add_flipped_images: see `Segmenter.predict`.
    batch_size: images per batch (1 for whole images of different sizes).
    min_resize_value, max_resize_value, resize_factor: DeepLab's resizing of the inputs.
    progress: show a progress bar.
    on_batch: called with each batch and its predictions (numpy), e.g. to keep them.

  Raises:
    ValueError: for bad arguments or a missing split; labels or predictions out of range (naming them).
  """
  metric = MeanIoU(num_classes, ignore_label)
  predict = _predictions(segmenter, eval_scales, add_flipped_images, eval_crop_size)
  batches = datasets.dataset(dataset_dir, split, batch_size, eval_crop_size, is_training=False,
                             ignore_label=ignore_label, model_variant=segmenter.model_options.model_variant,
                             min_resize_value=min_resize_value, max_resize_value=max_resize_value,
                             resize_factor=resize_factor)
  images = 0
  for batch in tqdm(batches, desc=f'slimnets: evaluating {split}', unit=' batches', disable=not progress,
                    leave=False):
    predictions = predict(batch[datasets.IMAGE])
    metric.update(batch[datasets.LABEL], predictions)
    images += int(batch[datasets.IMAGE].shape[0])
    if on_batch:
      on_batch(batch, predictions.numpy())
  mean, per_class = metric.result()
  return EvaluationResult(float(mean), [None if np.isnan(v) else float(v) for v in per_class.numpy()],
                          metric.total.numpy(), images)


def visualize(segmenter: models.Segmenter, dataset_dir: str, split: str, output_dir: str, *,
              colormap_name: str = 'pascal', eval_crop_size: Optional[Sequence[int]] = None,
              eval_scales: Sequence[float] = (1.0,), add_flipped_images: bool = False,
              also_save_raw_predictions: bool = False, raw_label_ids: Optional[Sequence[int]] = None,
              min_resize_value: Optional[int] = None, max_resize_value: Optional[int] = None,
              resize_factor: Optional[int] = None, max_images: Optional[int] = None, with_label: bool = True,
              progress: bool = False) -> int:
  """DeepLab's vis.py: for each image of the split, `<name>_image.png`, `<name>_prediction.png` (a palette PNG:
  values are the predicted labels, colours `colormap_name`'s) and `<name>_overlay.png` in
  `<output_dir>/segmentation_results`; with `also_save_raw_predictions`, `<output_dir>/raw_segmentation_results/
  <name>.png` (grayscale labels, mapped through `raw_label_ids`, e.g. `visualization.CITYSCAPES_LABEL_IDS`).

  Predictions are cut back to the image (without the padding of `eval_crop_size`). Returns the images written.
  """
  visualization.colormap(colormap_name)  # a bad name fails before the model runs
  predict = _predictions(segmenter, eval_scales, add_flipped_images, eval_crop_size)
  results = os.path.join(output_dir, 'segmentation_results')
  raw_dir = os.path.join(output_dir, 'raw_segmentation_results') if also_save_raw_predictions else None
  for folder in (results, raw_dir):
    if folder:
      os.makedirs(folder, exist_ok=True)
  batches = datasets.dataset(dataset_dir, split, 1, eval_crop_size, is_training=False, with_label=with_label,
                             model_variant=segmenter.model_options.model_variant,
                             min_resize_value=min_resize_value, max_resize_value=max_resize_value,
                             resize_factor=resize_factor)
  if max_images:
    batches = batches.take(max_images)
  written = 0
  for batch in tqdm(batches, desc=f'slimnets: visualizing {split}', unit=' images', disable=not progress,
                    leave=False):
    labels = predict(batch[datasets.IMAGE]).numpy()[0]
    original = batch[datasets.ORIGINAL_IMAGE].numpy()[0]
    labels = labels[:original.shape[0], :original.shape[1]]
    name = batch[datasets.IMAGE_NAME].numpy()[0].decode('utf-8') or f'{written:06d}'
    visualization.write_prediction(results, name, original, labels, colormap_name, raw_dir,
                                   None if raw_label_ids is None else np.asarray(raw_label_ids))
    written += 1
  return written
