"""The slimnets command line."""

import io
import json
import os
import subprocess
import sys

import pytest

from slimnets import cli


@pytest.mark.once  # the registry's facts: the same in both TF behaviours
def test_list_json(capsys):
  assert cli.main(['list', '--json']) == 0
  rows = {row['network']: row for row in json.loads(capsys.readouterr().out)}
  assert list(rows)[0] == 'inception_v3' and len(rows) == 40
  levels = rows['resnet_v1_50'].pop('levels')
  assert rows['resnet_v1_50'] == {
      'network': 'resnet_v1_50', 'default_image_size': 224, 'parameters': 25557032, 'nominal_stride': 32,
      'preprocessing': 'vgg', 'output_strides': [4, 8, 16, 32],
      'published_checkpoint': 'https://download.tensorflow.org/models/resnet_v1_50_2016_08_28.tar.gz'}
  assert levels['C2'] == {'end_point': 'resnet_v1_50/block1/unit_2/bottleneck_v1', 'stride': 4, 'channels': 256}
  assert rows['mobilenet_v1_025']['levels']['C5'] == {'end_point': 'Conv2d_13_pointwise', 'stride': 32,
                                                       'channels': 256}
  assert rows['mobilenet_v1']['parameters'] == 4231976 and rows['inception_v3']['output_strides'] == []
  assert rows['inception_v3']['parameters'] == 27143152
  assert rows['mobilenet_v2']['parameters'] == 3504872 and rows['mobilenet_v2']['output_strides'] == [1, 2, 4, 8, 16, 32]
  assert rows['mobilenet_v2']['published_checkpoint'] == (
      'https://storage.googleapis.com/mobilenet_v2/checkpoints/mobilenet_v2_1.0_224.tgz')
  assert rows['resnet_v2_50']['preprocessing'] == 'inception'
  # the manifests' trainable parameters, at list's 1000 classes (AlexNet v2's manifest has 1001: 4097 more)
  assert (rows['vgg_16']['parameters'], rows['alexnet_v2']['parameters']) == (138357544, 50308009 - 4097)
  assert rows['vgg_19']['published_checkpoint'].endswith('/vgg_19_2016_08_28.tar.gz')
  assert rows['overfeat']['levels']['C2'] == {'end_point': 'overfeat/conv1', 'stride': 4, 'channels': 64}
  # MobileNet v3 large: its manifest's 5484313 trainable parameters less one class of the 1280-channel logits
  assert rows['mobilenet_v3_large']['parameters'] == 5484313 - 1281
  assert rows['mobilenet_v3_large']['levels']['C5'] == {'end_point': 'layer_17', 'stride': 32, 'channels': 960}
  assert rows['mobilenet_v3_large']['published_checkpoint'] == (
      'https://storage.googleapis.com/mobilenet_v3/checkpoints/v3-large_224_1.0_float.tgz')
  assert rows['mobilenet_edgetpu']['published_checkpoint'] is None
  assert rows['nasnet_large']['levels']['C5'] == {'end_point': 'Cell_17', 'stride': 32, 'channels': 4032}


@pytest.mark.once  # the registry's facts: the same in both TF behaviours
def test_list_table_without_classes_of_the_networks_matching_patterns(capsys):
  assert cli.main(['list', 'vgg_1?', 'resnet_v1_50', '--num-classes', '0']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].split() == ['network', 'image', 'size', 'parameters', '(no', 'classes)', 'stride', 'preprocessing']
  assert [line.split()[0] for line in lines[1:]] == ['resnet_v1_50', 'vgg_16', 'vgg_19']  # the registry's order
  assert lines[1].split() == ['resnet_v1_50', '224', '23,508,032', '32', 'vgg']
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['list', 'resnet_v1_5*', 'resnet_v3*'])
  assert exit_info.value.code == 2
  assert "no network matches 'resnet_v3*'; the networks are inception_v3, " in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['list', '--num-classes', '-3'])
  assert exit_info.value.code == 2
  assert 'must be >= 0, got -3' in capsys.readouterr().err


def test_describe_json(capsys):
  assert cli.main(['describe', 'resnet_v1_50', '--input-size', '513', '--output-stride', '16', '--json']) == 0
  d = json.loads(capsys.readouterr().out)
  assert {'network', 'input_shape', 'output_stride', 'parameters', 'flops', 'end_points', 'features'} <= set(d)
  assert d['end_points'][-1] == {'name': 'resnet_v1_50/block4', 'shape': [1, 33, 33, 2048], 'stride': [16, 16],
                                 'receptive_field': [483, 483], 'channels': 2048}
  assert d['features'][1] == {'level': 'C2', 'end_point': 'resnet_v1_50/block1/unit_2/bottleneck_v1',
                              'stride': [4, 4], 'channels': 256}


def test_describe_table(capsys):
  assert cli.main(['describe', 'resnet_v2_50', '--input-size', '64,96', '--multi-grid', '1,2,4',
                   '--output-stride', '8', '--num-classes', '10']) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0] == 'resnet_v2_50: input 64x96x3, output stride 8, multi-grid 1,2,4, 10 classes'
  assert lines[2].split() == ['end', 'point', 'shape', 'stride', 'receptive', 'field', 'channels']
  assert lines[3].split() == ['resnet_v2_50/conv1', '32x48x64', '2', '7', '64']
  assert 'C5     resnet_v2_50/postnorm                          8      2048' in lines  # v2: the normalized block4
  assert 'trainable parameters: 23,539,850' in lines  # 23,519,360 features + 2048 * 10 + 10 logits


@pytest.mark.parametrize('argv,code,message', [
    (['describe', 'resnet_v1_50', '--output-stride', '12'], 2,
     'slimnets describe: error: resnet_v1_50: output_stride must be None (nominal, 32) or one of [4, 8, 16, 32], '
     'got 12 (see --help)\n'),
    (['describe', 'inception_v3', '--input-size', '74'], 2,
     'slimnets describe: error: inception_v3: inputs of 74x74 are too small: the minimum is 75x75 (the VALID '
     'convolutions and pools of the stem, Mixed_6a and Mixed_7a need 75x75 for a 1x1 Mixed_7c); resize or pad the '
     'images (see --help)\n'),
    (['describe', 'resnet_v1_50', '--multi-grid', '1,x'], 2,
     "slimnets describe: error: argument --multi-grid: expected comma-separated integers, got '1,x' (see --help)\n"),
    (['describe', 'resnet_v1_50', '--input-size', '1,2,3'], 2,
     "slimnets describe: error: argument --input-size: expected 1 or 2 comma-separated integers, got '1,2,3' "
     '(see --help)\n'),
])
def test_describe_errors_are_one_line(capsys, argv, code, message):
  if code == 2:
    with pytest.raises(SystemExit) as exit_info:
      cli.main(argv)
    assert exit_info.value.code == 2
  else:
    assert cli.main(argv) == code
  captured = capsys.readouterr()
  assert captured.err == message and captured.out == ''


@pytest.mark.eager
def test_benchmark_json(capsys):
  argv = ['benchmark', '--network', 'resnet_v1_50', '--input-size', '33,41', '--batch', '2', '--output-stride', '16',
          '--runs', '2', '--warmup', '0', '--json']
  assert cli.main(argv) == 0
  result = json.loads(capsys.readouterr().out)
  assert {'images_per_second', 'ms_per_batch_median', 'precision', 'ms_per_batch_p10', 'ms_per_batch_p90'} <= set(result)
  assert (result['network'], result['input_size'], result['batch'], result['output_stride'], result['precision'],
          result['runs']) == ('resnet_v1_50', [33, 41], 2, 16, 'float32', 2)
  assert result['images_per_second'] == pytest.approx(2000 / result['ms_per_batch_median'])
  with pytest.raises(SystemExit) as exit_info:
    cli.main(['benchmark', '--network', 'resnet_v1_50', '--precision', 'float16'])
  assert exit_info.value.code == 2
  assert "argument --precision: invalid choice: 'float16'" in capsys.readouterr().err


@pytest.mark.parametrize('network, c4, c5', [
    ('mobilenet_v1_025', {'level': 'C4', 'end_point': 'Conv2d_11_pointwise', 'stride': [8, 8], 'channels': 128},
     {'level': 'C5', 'end_point': 'Conv2d_13_pointwise', 'stride': [8, 8], 'channels': 256}),
    ('mobilenet_v2_035', {'level': 'C4', 'end_point': 'layer_14', 'stride': [8, 8], 'channels': 32},
     {'level': 'C5', 'end_point': 'layer_19', 'stride': [8, 8], 'channels': 1280}),
    ('xception_65', {'level': 'C4', 'end_point': 'xception_65/middle_flow/block1', 'stride': [8, 8], 'channels': 728},
     {'level': 'C5', 'end_point': 'xception_65/exit_flow/block2', 'stride': [8, 8], 'channels': 2048}),
    ('resnet_v1_101_beta', {'level': 'C4', 'end_point': 'resnet_v1_101/block3/unit_22/bottleneck_v1',
                            'stride': [8, 8], 'channels': 1024},
     {'level': 'C5', 'end_point': 'resnet_v1_101/block4', 'stride': [8, 8], 'channels': 2048}),
])
def test_describe_the_dense_prediction_backbones_at_output_stride_8(capsys, network, c4, c5):
  assert cli.main(['describe', network, '--input-size', '65', '--output-stride', '8', '--json']) == 0
  d = json.loads(capsys.readouterr().out)
  assert d['features'][3:] == [c4, c5]
  last = next(point for point in d['end_points'] if point['name'] == c5['end_point'])
  assert last['shape'] == [1, 9, 9, c5['channels']]


@pytest.mark.parametrize('argv, message', [
    (['describe', 'resnet_v1_5'], "slimnets describe: error: Unknown network name 'resnet_v1_5'. Did you mean "
                                  "'resnet_v1_50'?"),
    (['benchmark', '--network', 'mobilenet_v1', '--output-stride', '4'],
     'slimnets benchmark: error: mobilenet_v1: output_stride must be None (nominal, 32) or one of [8, 16, 32], '
     'got 4'),
    (['export', '--network', 'xception_65', '--output', '.', '--multi-grid', '1,2'],
     'slimnets export: error: xception_65: multi_grid must be None or 3 int rates >= 1, one per unit of its last '
     'block, got (1, 2)'),
    (['describe', 'inception_v3', '--output-stride', '16'],
     'slimnets describe: error: inception_v3 has no output_stride option (it runs at its nominal stride 32); '
     'networks with it: resnet_v1_50,'),
    (['fetch-weights', 'resnet_v2_200'], 'slimnets fetch-weights: error: resnet_v2_200 has no published TF-Slim '
                                        'checkpoint; networks with one: inception_v3,'),
    (['export', '--network', 'resnet_v1_50', '--output', 'README.md'],
     "slimnets export: error: output '"),
    (['benchmark', '--network', 'inception_v3', '--input-size', '50'],
     'slimnets benchmark: error: inception_v3: inputs of 50x50 are too small: the minimum is 75x75 (the VALID '
     'convolutions and pools of the stem, Mixed_6a and Mixed_7a need 75x75 for a 1x1 Mixed_7c); resize or pad'),
    (['describe', 'inception_v4', '--input-size', '100,120', '--num-classes', '5'],
     'slimnets describe: error: inception_v4: inputs of 100x120 are too small: the minimum is 107x107 (the VALID '
     'convolutions and pools of the stem, Mixed_6a and Mixed_7a need 75x75 for a 1x1 Mixed_7d; the auxiliary head '
     '(create_aux_logits=True) needs 107x107 for its 5x5/3 VALID pool on Mixed_6h)'),
    (['benchmark', '--network', 'vgg_16', '--input-size', '200'],
     'slimnets benchmark: error: vgg_16: inputs of 200x200 are too small: the minimum is 224x224'),
])
def test_usage_errors_exit_2_before_tensorflow_loads(argv, message):
  # In a fresh interpreter: the check must come before anything imports TensorFlow.
  code = ('import sys\nfrom slimnets import cli\ntry:\n  cli.main(sys.argv[1:])\nexcept SystemExit as e:\n'
          "  print('exit', e.code, 'tensorflow' in sys.modules)\n")
  root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
  done = subprocess.run([sys.executable, '-c', code, *argv], capture_output=True, text=True, cwd=root, timeout=120)
  assert done.stdout == 'exit 2 False\n'
  assert done.stderr.startswith(message) and done.stderr.endswith('(see --help)\n') and done.stderr.count('\n') == 1


class _Terminal(io.StringIO):
  """A stand-in for stderr on a terminal."""

  def isatty(self):
    return True


@pytest.mark.eager
@pytest.mark.parametrize('terminal, quiet', [(True, False), (True, True), (False, False)])
def test_slow_commands_show_progress_on_a_terminal_only(monkeypatch, capsys, tmp_path, terminal, quiet):
  stderr = _Terminal() if terminal else io.StringIO()
  monkeypatch.setattr(sys, 'stderr', stderr)
  flags = ['--quiet'] if quiet else []
  argv = ['benchmark', '--network', 'mobilenet_v1_025', '--input-size', '32', '--runs', '2', '--warmup', '1']
  assert cli.main(argv + flags) == 0
  assert cli.main(['export', '--network', 'mobilenet_v1_025', '--output', str(tmp_path / 'served')] + flags) == 0
  out = capsys.readouterr().out
  assert out.startswith('mobilenet_v1_025, 32x32, batch 1, float32: ') and f'wrote {tmp_path / "served"}' in out
  lines = stderr.getvalue().splitlines()
  warning = 'slimnets: warning: no --checkpoint given: the network has random weights'
  if terminal and not quiet:
    assert lines == ['slimnets: building mobilenet_v1_025 ...',
                     'slimnets: timing 2 runs of batch 1 at 32x32 after 1 warm-up runs ...',
                     'slimnets: building mobilenet_v1_025 ...', warning,
                     'slimnets: tracing and writing the SavedModel (float32, batch norm folded) ...']
  else:
    assert lines == [warning]  # what must be said is said; progress is not


def test_list_shows_a_progress_bar_on_a_terminal_only(monkeypatch, capsys):
  for stderr, flags, shown in ((_Terminal(), [], True), (_Terminal(), ['--quiet'], False), (io.StringIO(), [], False)):
    monkeypatch.setattr(sys, 'stderr', stderr)
    assert cli.main(['list', 'mobilenet_v1_025', 'resnet_v1_50', '--num-classes', '0'] + flags) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3  # the header and two networks
    assert ('slimnets: counting parameters' in stderr.getvalue()) == shown, stderr.getvalue()


@pytest.mark.parametrize('command', ['describe', 'export', 'benchmark'])
def test_num_classes_help_says_what_it_means_with_deeplab(capsys, command):
  with pytest.raises(SystemExit):
    cli.main([command, '--help'])
  text = ' '.join(capsys.readouterr().out.split())
  assert "pooled globally (default: features only); with --deeplab: the segmenter's classes (default 21)" in text \
      or "pooled globally (default: dense features); with --deeplab: the segmenter's classes (default 21)" in text
