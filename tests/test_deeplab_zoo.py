"""DeepLab's model zoo by name: every model's options build, `fetch-weights NAME` from a local server gives a
folder the commands take as `--checkpoint` without architecture flags."""

import json
import os
import tarfile

import numpy as np
import pytest

from nets import dense_prediction_cell
from nets import nets_factory
from slimnets import cli
from slimnets.analysis import dry_build
from slimnets.weights import checkpoints
from slimnets.weights import fetch

_MODELS = sorted({model.name for model in nets_factory.DEEPLAB_MODELS.values()})


@pytest.mark.once
def test_the_model_zoo_names_and_archives():
  assert len(_MODELS) == 13
  model = nets_factory.DEEPLAB_MODELS['xception_coco_voc_trainaug']
  assert nets_factory.DEEPLAB_MODELS['deeplabv3_pascal_train_aug'] is model  # by its archive's name too
  assert model.archive.url == 'https://download.tensorflow.org/models/deeplabv3_pascal_train_aug_2018_01_04.tar.gz'
  assert (model.archive.checkpoint, model.num_classes, model.dataset) == ('model.ckpt', 21, 'pascal_voc_seg')
  assert nets_factory.DEEPLAB_MODELS['xception65_ade20k_train'].num_classes == 151
  dpc = nets_factory.DEEPLAB_MODELS['xception71_dpc_cityscapes_trainfine'].model_options
  manifest = json.load(open(os.path.join(os.path.dirname(__file__), 'data', 'deeplab', 'deeplab_models_v3.json')))
  used = manifest['builds']['deeplab_v3_plus_xception_71_dpc_cityscapes']['model_options']
  # DeepLab's Cityscapes cell, as its own run of the model used it
  assert dpc['dense_prediction_cell_config'] == dense_prediction_cell.CITYSCAPES_BRANCH5_TOP1 == (
      used['dense_prediction_cell_config'])
  with pytest.raises(ValueError, match=r"'deeplabv3_pascal_trainaug' is neither a network nor a model of DeepLab's "
                                       r"model zoo\. Did you mean 'deeplabv3_pascal_train_aug'"):
    nets_factory.published('deeplabv3_pascal_trainaug')
  with pytest.raises(ValueError, match="mobilenet_v3_large_seg is a backbone of DeepLab's: its published weights are "
                                       r"DeepLab's trained models on it \(mobilenetv3_large_cityscapes_trainfine\)"):
    nets_factory.published('mobilenet_v3_large_seg')


@pytest.mark.once
@pytest.mark.parametrize('name', _MODELS)
def test_every_model_builds_from_its_options(name):
  model = nets_factory.DEEPLAB_MODELS[name]
  built = dry_build.build_segmenter(fetch.model_options(name), (129, 129))
  assert built.net.shape.as_list() == [1, 129, 129, model.num_classes]
  assert any(variable.startswith(('MobilenetV2/', 'MobilenetV3/', 'xception_')) for variable in built.variables)


@pytest.mark.eager
def test_fetch_weights_of_a_model_gives_a_folder_the_commands_take_without_architecture_flags(server, tmp_path,
                                                                                                 capsys):
  root, url = server
  name = 'mobilenetv2_dm05_coco_voc_trainaug'
  variables = dry_build.build_segmenter(fetch.model_options(name), (129, 129)).variables
  source = tmp_path / 'source' / 'deeplabv3_mnv2_dm05_pascal_trainaug'
  values = {variable: np.full(shape, 0.01, np.float32) for variable, (shape, _) in variables.items()}
  checkpoints.write(values, str(source / 'model.ckpt'))
  (source / 'frozen_inference_graph.pb').write_bytes(b'not read')
  with tarfile.open(root / 'zoo.tar.gz', 'w:gz', compresslevel=1) as tar:
    tar.add(source, arcname=source.name)
  cache = str(tmp_path / 'cache')
  argv = ['fetch-weights', 'deeplabv3_mnv2_dm05_pascal_trainaug', '--url', url + 'zoo.tar.gz', '--cache-dir', cache,
          '--quiet']
  assert cli.main(argv) == 0
  folder = capsys.readouterr().out.strip()
  assert folder == os.path.join(cache, name)
  assert sorted(os.listdir(folder)) == ['checkpoint', 'model.ckpt.data-00000-of-00001', 'model.ckpt.index',
                                        'model_options.json']
  options = json.load(open(os.path.join(folder, 'model_options.json')))
  assert (options['model_variant'], options['depth_multiplier'], options['outputs_to_num_classes']) == (
      'mobilenet_v2', 0.5, {'semantic': 21})
  output = str(tmp_path / 'exported')
  assert cli.main(['export', '--checkpoint', folder, '--output', output, '--quiet']) == 0
  printed = capsys.readouterr().out
  assert printed.startswith(f'wrote {output}: serving_default(images: float32 [batch, height, width, 3]) -> logits, '
                            'labels'), printed
  assert os.path.isfile(os.path.join(output, 'saved_model.pb'))
