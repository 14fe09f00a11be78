"""slimnets.deploy.backends and the TFLite / OpenVINO exports: the TensorFlow path's outputs, through the CLI too."""

import contextlib
import json
import os
import sys

import numpy as np
import pytest
import tensorflow as tf

from slimnets.deploy import backends
from slimnets import cli
from slimnets.deploy import export
from slimnets.deploy import extract
from slimnets.deploy import inference
from slimnets.deploy import serving
from slimnets.deploy import precision
from slimnets import models

pytestmark = pytest.mark.eager

THIN = {'depth_multiplier': 0.125}


@pytest.fixture(scope='module')
def backbone():
  net = models.Backbone('resnet_v1_50', output_stride=16, global_pool=False, **THIN)
  inference.randomize_batch_norm(net.build(), seed=1)  # trained-like statistics, not the identity
  return net


@pytest.fixture(scope='module')
def images_folder(tmp_path_factory):
  folder = tmp_path_factory.mktemp('calibration')
  for index in range(8):
    pixels = np.random.RandomState(index).randint(0, 256, [40 + index, 52, 3]).astype(np.uint8)
    tf.io.write_file(str(folder / f'{index}.png'), tf.io.encode_png(pixels))
  return str(folder)


def _images(batch=2, height=33, width=35, seed=0):
  return np.random.RandomState(seed).uniform(-1, 1, [batch, height, width, 3]).astype(np.float32)


def test_tflite_float32_float16_int8_follow_the_tensorflow_path(backbone, images_folder, tmp_path):
  calibration = extract.preprocessed_images(images_folder, 'resnet_v1_50', (33, 35))  # VGG means subtracted
  assert len(calibration) == 8 and calibration[0].shape == (33, 35, 3) and calibration[0].dtype == np.float32
  images = np.stack(calibration[6:])  # of the range int8 was calibrated for
  reference = inference.Predictor(backbone, levels=['C2'])(images)
  sizes, errors = {}, {}
  for quantization in precision.QUANTIZATIONS:
    path = export.export_tflite(backbone, str(tmp_path / f'{quantization}.tflite'), (33, 35), batch_size=2,
                                levels=['C2'], quantization=quantization, representative=calibration)
    written = precision.QUANTIZATIONS[:len(sizes) + 1]
    assert sorted(os.listdir(tmp_path)) == sorted(f'{q}.tflite' for q in written)  # nothing staged left behind
    lite = backends.TFLitePredictor(path)
    assert lite.input_shape == (2, 33, 35, 3)
    outputs = lite(images)
    assert {name: value.shape for name, value in outputs.items()} == {'output': (2, 3, 3, 256), 'C2': (2, 9, 9, 32)}
    errors[quantization] = max(serving.max_relative_error(outputs[k], reference[k]) for k in ('output', 'C2'))
    sizes[quantization] = os.path.getsize(path)
  assert errors['float32'] < 1e-5
  assert 1e-5 < errors['float16'] < 0.01
  assert 1e-3 < errors['int8'] < 0.15  # measured 0.036 at this depth
  assert 0.45 < sizes['float16'] / sizes['float32'] < 0.6  # float16 weights
  assert sizes['int8'] / sizes['float32'] < 0.4  # int8 weights
  with pytest.raises(ValueError, match=r'takes images of shape \[2, 33, 35, 3\], got \[1, 33, 35, 3\]'):
    lite(_images(batch=1))


def test_tflite_arguments_are_checked_before_any_conversion(backbone, tmp_path):
  with pytest.raises(ValueError, match=r"quantization must be one of float32, float16, int8, got 'int4'"):
    export.export_tflite(backbone, str(tmp_path / 'a.tflite'), (33, 33), quantization='int4')
  with pytest.raises(ValueError, match=r"quantization='int8' needs representative images to calibrate on"):
    export.export_tflite(backbone, str(tmp_path / 'a.tflite'), (33, 33), quantization='int8')
  with pytest.raises(ValueError, match=r'input_size must be \(height, width\) of positive ints, got 33'):
    export.export_tflite(backbone, str(tmp_path / 'a.tflite'), 33)
  assert os.listdir(tmp_path) == []


def test_agreement_reports_error_and_top1_of_logits():
  reference = lambda batch: {'output': np.array([[1.0, 2.0, 0.0]] * len(batch))}  # class 1
  flipped = lambda batch: {'output': np.array([[1.0, 0.5, 1.5]] * len(batch))}  # class 2, off by 2 of 2
  found = backends.agreement(reference, flipped, [np.zeros([4, 4, 3])] * 5, batch_size=2)
  assert found == {'images': 4, 'max_rel_error': 0.75, 'top1_agreement': 0.0, 'pixel_agreement': None}
  dense = lambda batch: {'output': np.ones([len(batch), 2, 2, 3])}
  assert backends.agreement(dense, dense, [np.zeros([4, 4, 3])] * 2)['top1_agreement'] is None
  # A segmenter's per-pixel logits: the labels of 1 pixel in 4 differ.
  logits = np.zeros([1, 2, 2, 3])
  logits[..., 0] = 1.0
  other = logits.copy()
  other[0, 1, 1] = [0.0, 2.0, 0.0]
  found = backends.agreement(lambda batch: {'logits': logits}, lambda batch: {'logits': other}, [np.zeros([2, 2, 3])])
  assert found == {'images': 1, 'max_rel_error': 2.0, 'top1_agreement': None, 'pixel_agreement': 0.75}


def test_a_deeplab_segmenter_runs_on_tflite_and_openvino(tmp_path, images_folder):
  from nets import deeplab  # pylint: disable=import-outside-toplevel
  options = deeplab.ModelOptions({'semantic': 4}, atrous_rates=(2,), output_stride=16, model_variant='mobilenet_v2',
                                 depth_multiplier=0.25, decoder_output_stride=(4,))
  segmenter = models.Segmenter(options).build()
  inference.randomize_batch_norm(segmenter, seed=2)
  images = np.random.RandomState(4).uniform(0, 255, [1, 33, 41, 3]).astype(np.float32)
  reference = inference.Predictor(segmenter)(images)
  logits, _ = segmenter(images)  # not folded, eager: the Predictor's outputs are the export's
  np.testing.assert_allclose(reference['logits'], deeplab.resize_bilinear(logits, [33, 41]).numpy(), rtol=1e-4,
                             atol=1e-4)
  assert reference['labels'].shape == (1, 33, 41) and reference['labels'].dtype == np.int64
  with pytest.raises(ValueError, match=r"a Segmenter gives its logits and labels, not feature levels; got "
                                       r"levels=\['C5'\]"):
    inference.Predictor(segmenter, levels=['C5'])(images)
  path = export.export_tflite(segmenter, str(tmp_path / 'segmenter.tflite'), (33, 41))
  lite = backends.TFLitePredictor(path)(images)
  assert serving.max_relative_error(lite['logits'], reference['logits']) < 1e-5
  np.testing.assert_array_equal(lite['labels'], reference['labels'])
  calibration = extract.preprocessed_images(images_folder, None, (33, 41), limit=2)  # [0, 255], resized only
  assert 100 < max(image.max() for image in calibration) <= 255 and calibration[0].shape == (33, 41, 3)
  pytest.importorskip('openvino')
  found = backends.agreement(inference.Predictor(segmenter), backends.OpenVINOPredictor(segmenter), calibration)
  assert found['max_rel_error'] < 1e-4 and found['pixel_agreement'] > 0.999 and found['top1_agreement'] is None


def test_openvino_in_memory_and_exported_ir_follow_the_tensorflow_path(backbone, tmp_path):
  ov = pytest.importorskip('openvino')
  images = _images(height=47, width=41)  # dynamic sizes: not the size it was converted at
  reference = inference.Predictor(backbone, levels=['C2'])(images)
  in_memory = backends.OpenVINOPredictor(backbone, levels=['C2'])(images)
  path = export.export_openvino(backbone, str(tmp_path / 'ir'), levels=['C2'], precision='bfloat16')
  assert sorted(os.listdir(tmp_path)) == ['ir'] and sorted(os.listdir(path)) == ['model.bin', 'model.xml']
  model = ov.Core().read_model(os.path.join(path, 'model.xml'))
  assert model.get_rt_info(['runtime_options', 'INFERENCE_PRECISION_HINT']).astype(str) == 'bf16'
  exported = backends.OpenVINOPredictor(path, 'float32')(images)
  for outputs in (in_memory, exported):
    assert sorted(outputs) == ['C2', 'output']
    for name in ('output', 'C2'):
      assert serving.max_relative_error(outputs[name], reference[name]) < 1e-4
  unsupported = precision.bfloat16_unsupported_reason()
  with pytest.warns(RuntimeWarning) if unsupported else contextlib.nullcontext():
    bf16 = backends.OpenVINOPredictor(path)  # the precision it was exported with
  assert bf16.precision == ('float32' if unsupported else 'bfloat16')
  assert serving.max_relative_error(bf16(images)['output'], reference['output']) < 0.05
  with pytest.raises(ValueError, match='levels= is for a backbone'):
    backends.OpenVINOPredictor(path, levels=['C2'])


def test_cli_exports_tflite_int8_with_its_report_and_openvino(images_folder, tmp_path, capfd):
  capsys = capfd  # at the file descriptors: the quantizer's own lines would show here
  output = tmp_path / 'model.tflite'
  assert cli.main(['export', '--network', 'mobilenet_v2_035', '--output', str(output), '--format', 'tflite',
                   '--quantization', 'int8', '--calibration-images', images_folder, '--input-size', '33',
                   '--num-classes', '5', '--quiet']) == 0
  captured = capsys.readouterr()
  assert captured.err == 'slimnets: warning: no --checkpoint given: the network has random weights\n'
  out = captured.out.splitlines()
  assert out[0] == f'wrote {output}: serving_default(images: float32 [1, 33, 33, 3]) -> output (int8)'
  assert out[1].startswith('int8 against float32 on 8 calibration images: largest difference ')
  assert ', top-1 agreement ' in out[1]
  assert backends.TFLitePredictor(str(output))(_images(1, 33, 33))['output'].shape == (1, 5)
  pytest.importorskip('openvino')
  assert cli.main(['export', '--network', 'mobilenet_v2_035', '--output', str(tmp_path / 'ir'), '--format',
                   'openvino', '--features', 'C4', '--quiet']) == 0
  assert capsys.readouterr().out.strip() == (
      f"wrote {tmp_path / 'ir'}/model.xml, model.bin: images: float32 [batch, height, width, 3] -> output, C4")
  assert cli.main(['benchmark', '--network', 'mobilenet_v2_035', '--backend', 'openvino', '--input-size', '65',
                   '--runs', '2', '--warmup', '0', '--json', '--quiet']) == 0
  result = json.loads(capsys.readouterr().out)
  assert result['backend'] == 'openvino' and result['runs'] == 2 and result['input_size'] == [65, 65]


@pytest.mark.parametrize('arguments, message', [
    (['--quantization', 'int8'], '--quantization is for --format tflite, not savedmodel'),
    (['--input-size', '65', '--batch', '2'], '--batch is for --format tflite, not savedmodel'),
    (['--format', 'openvino', '--input-size', '65'], '--input-size is for --format savedmodel, tflite, not openvino '
                                                     '(which takes any size)'),
    (['--format', 'openvino', '--calibration-images', 'x'], '--calibration-images is for --format tflite, not '
                                                            'openvino'),
    (['--format', 'tflite', '--quantization', 'int8'], '--quantization int8 needs --calibration-images DIR'),
    (['--format', 'tflite', '--calibration-images', 'x'], '--quantization int8 needs --calibration-images DIR'),
    (['--format', 'tflite', '--precision', 'bfloat16'], '--precision is for savedmodel and openvino'),
])
def test_cli_export_options_of_another_format_are_usage_errors(tmp_path, capsys, arguments, message):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['export', '--network', 'mobilenet_v2', '--output', str(tmp_path / 'out'), *arguments])
  assert exit_info.value.code == 2
  assert f'slimnets export: error: {message}' in capsys.readouterr().err
  assert os.listdir(tmp_path) == []


def test_without_openvino_the_error_says_how_to_install_it(monkeypatch):
  monkeypatch.setitem(sys.modules, 'openvino', None)  # an import of it fails, as where it is not installed
  with pytest.raises(ImportError, match=(r"^the OpenVINO backend needs the openvino package: pip install openvino "
                                         r"\(or, in a slimnets checkout, pip install '\.\[openvino\]', the project's "
                                         r"extra\)$")):
    backends.import_openvino()
