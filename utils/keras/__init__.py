"""Keras 3 models of the networks: `slimnets.keras.Backbone` (a `keras.Model` whose weights are Keras variables
with the TF-Slim names), for `fit`, the functional API and `.keras` files."""

from slimnets.keras.backbone import Backbone
