"""Keras 3 models of the networks and of DeepLab: `slimnets.keras.Backbone` and `slimnets.keras.Segmenter`
(`keras.Model`s whose weights are Keras variables with the TF-Slim / DeepLab names), for `fit`, the functional
API and `.keras` files; DeepLab's loss, mean IoU and learning rate as Keras objects."""

from slimnets.keras.backbone import Backbone
from slimnets.keras.segmenter import DeepLabLearningRate
from slimnets.keras.segmenter import DeepLabLoss
from slimnets.keras.segmenter import MeanIoU
from slimnets.keras.segmenter import Segmenter
