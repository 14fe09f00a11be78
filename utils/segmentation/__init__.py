"""Segmentation: DeepLab's loss and learning-rate schedule (`losses`), mean IoU (`metrics`), label checks
(`labels`); the workflow on them: datasets in DeepLab's TFRecord format (`datasets`), DeepLab's input
preprocessing (`preprocessing`), training (`training`), a run's folder (`runs`), evaluation and pictures
(`evaluation`, `visualization`). The loss and metric names are here: `segmentation.softmax_cross_entropy`,
`segmentation.MeanIoU`, ..."""

from slimnets.segmentation.labels import IGNORE_LABEL
from slimnets.segmentation.losses import add_softmax_cross_entropy_loss_for_each_scale
from slimnets.segmentation.losses import learning_rate
from slimnets.segmentation.losses import poly_learning_rate
from slimnets.segmentation.losses import softmax_cross_entropy
from slimnets.segmentation.metrics import MeanIoU
from slimnets.segmentation.metrics import confusion_matrix
from slimnets.segmentation.metrics import mean_iou_from_confusion
