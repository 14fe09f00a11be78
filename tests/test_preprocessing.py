"""slimnets.weights.preprocessing: each network's checkpoint convention, exact on constructed images, in tf.data."""

import numpy as np
import pytest
import tensorflow as tf

from tests.conftest import evaluate
from tests.conftest import first_batch
from slimnets.weights import preprocessing


def test_each_network_gets_its_checkpoints_convention():
  assert preprocessing.get_preprocessing('resnet_v1_101') is preprocessing.vgg_preprocess
  assert preprocessing.get_preprocessing('resnet_v2_50') is preprocessing.inception_preprocess
  assert preprocessing.get_preprocessing('inception_v3') is preprocessing.inception_preprocess
  with pytest.raises(ValueError, match=r"Unknown network name 'resnet_v3_50'"):
    preprocessing.get_preprocessing('resnet_v3_50')


def test_vgg_eval_subtracts_the_means_of_the_central_crop():
  rows, cols = np.meshgrid(np.arange(256), np.arange(320), indexing='ij')
  image = np.stack([rows % 256, cols % 256, (rows + cols) % 256], axis=-1).astype(np.uint8)
  out = evaluate(preprocessing.vgg_preprocess(image, 224, 224))
  assert out.shape == (224, 224, 3) and out.dtype == np.float32
  # the smaller side is already 256, so no resize; the central 224x224 starts at row 16, column 48
  np.testing.assert_allclose(out, image[16:240, 48:272].astype(np.float32) - np.float32([123.68, 116.78, 103.94]),
                             atol=1e-4)


def test_vgg_means_follow_the_channels():
  out = evaluate(preprocessing.vgg_preprocess(np.full([300, 260, 4], 200, np.uint8), 224, 224))
  np.testing.assert_allclose(out[0, 0], [200 - 123.68, 200 - 116.78, 200 - 103.94, 200 - 123.68], atol=1e-4)
  out = evaluate(preprocessing.vgg_preprocess(np.full([256, 256, 1], 50, np.uint8), 224, 224, channel_means=[40]))
  np.testing.assert_allclose(out, 10.0, atol=1e-4)
  with pytest.raises(ValueError, match=r'channel_means must have one value per channel \(4\), got 3'):
    preprocessing.vgg_preprocess(np.zeros([256, 256, 4], np.uint8), 224, 224, channel_means=[1, 2, 3])


@pytest.mark.parametrize('value,expected', [(0, -1.0), (255, 1.0), (51, 51 / 127.5 - 1)])
def test_inception_eval_scales_to_minus_one_one(value, expected):
  out = evaluate(preprocessing.inception_preprocess(np.full([400, 300, 3], value, np.uint8), 299, 299))
  assert out.shape == (299, 299, 3)
  np.testing.assert_allclose(out, expected, atol=1e-5)


def test_inception_eval_keeps_the_central_fraction():
  image = np.zeros([80, 80, 1], np.float32)
  image[5:75, 5:75] = 1.0  # the central 87.5% is rows and columns 5..74
  out = evaluate(preprocessing.inception_preprocess(image, 70, 70))
  np.testing.assert_allclose(out, 1.0, atol=1e-6)


@pytest.mark.parametrize('name', ['resnet_v1_50', 'inception_v3'])
def test_training_in_tf_data(name):
  preprocess = preprocessing.get_preprocessing(name)
  images = np.random.RandomState(0).randint(0, 256, [3, 180, 240, 3]).astype(np.uint8)
  dataset = tf.data.Dataset.from_tensor_slices(images).map(lambda im: preprocess(im, 128, 96, is_training=True))
  batch = first_batch(dataset.batch(3))
  assert batch.shape == (3, 128, 96, 3) and np.isfinite(batch).all()
  if name == 'inception_v3':
    assert batch.min() >= -1.0 and batch.max() <= 1.0


def test_bad_arguments():
  with pytest.raises(ValueError, match=r'height must be a positive int, got 0'):
    preprocessing.inception_preprocess(np.zeros([10, 10, 3], np.uint8), 0, 10)
  with pytest.raises(ValueError, match=r'image must be \[height, width, channels\] with a known channel count, got '
                                       r'shape \(2, 10, 10, 3\)'):
    preprocessing.vgg_preprocess(np.zeros([2, 10, 10, 3], np.uint8), 8, 8)
  with pytest.raises(ValueError, match=r'central_fraction must be in \(0, 1\], got 0'):
    preprocessing.inception_preprocess(np.zeros([10, 10, 3], np.uint8), 8, 8, central_fraction=0)
