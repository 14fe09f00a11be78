"""Models in TF2 code, with the graph networks' variable names: `Backbone` (a registry network), `Segmenter` (a
DeepLab model), both `NetworkModule`s (the getter, variables, checkpoints and output contract they share), and
`update_batch_norm_statistics` (precise batch norm after training)."""

from slimnets.models.backbone import Backbone
from slimnets.models.batch_norm_statistics import update_batch_norm_statistics
from slimnets.models.module import NetworkModule
from slimnets.models.segmenter import Segmenter
