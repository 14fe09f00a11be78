"""The slimnets command line."""

import json

import pytest

from utils import cli


def test_list_json(capsys):
  assert cli.main(['list', '--json']) == 0
  rows = {row['network']: row for row in json.loads(capsys.readouterr().out)}
  assert list(rows)[0] == 'inception_v3' and len(rows) == 9
  assert rows['resnet_v1_50'] == {'network': 'resnet_v1_50', 'default_image_size': 224, 'parameters': 25557032,
                                  'nominal_stride': 32, 'preprocessing': 'vgg'}
  assert rows['inception_v3']['parameters'] == 27143152
  assert rows['resnet_v2_50']['preprocessing'] == 'inception'


def test_list_table_without_classes(capsys):
  assert cli.main(['list', '--num-classes', '0']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].split() == ['network', 'image', 'size', 'parameters', '(no', 'classes)', 'stride', 'preprocessing']
  assert lines[2].split() == ['resnet_v1_50', '224', '23,508,032', '32', 'vgg']


def test_usage_errors_exit_2(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['list', '--num-classes', '-3'])
  assert exit_info.value.code == 2
  assert 'must be >= 0, got -3' in capsys.readouterr().err
