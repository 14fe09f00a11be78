"""The README's copy-paste commands are the ones CI runs."""

import os

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ci_runs_the_readme_test_command():
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read().splitlines()
  with open(os.path.join(ROOT, '.ci', 'run')) as f:
    ci_command = f.read().strip().splitlines()[-1]
  assert readme[0] == '# slimnets'
  commands = [line for line in readme[:12] if line.startswith('python3 -m venv')]
  assert len(commands) == 2
  assert commands[0].endswith('slimnets describe resnet_v1_50 --input-size 513 --output-stride 16')
  assert commands[1] == ci_command


def _quoted_outputs(readme: str):
  """(argv, expected lines) for each output block of the README, with the command quoted just before it or
  given on `$ slimnets ...` lines inside it."""
  parts = readme.split('```')
  for i in range(1, len(parts), 2):
    block = parts[i]
    if not block.startswith('\n'):
      continue  # a block with a language (sh, python) is not an output
    lines = [line.rstrip() for line in block.strip('\n').splitlines()]
    if lines and lines[0].startswith('$ slimnets '):
      command = None
      for line in lines:
        if line.startswith('$ slimnets '):
          if command:
            yield command, expected
          command, expected = line[len('$ slimnets '):].split(), []
        elif line:
          expected.append(line)
      yield command, expected
    else:
      before = parts[i - 1]
      quoted = before[before.rindex('`slimnets describe ') + len('`slimnets '):]
      yield quoted[:quoted.index('`')].split(), [line for line in lines if line]


def test_readme_outputs_are_the_tools_own(capsys):
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'README.md')) as f:
    quoted = list(_quoted_outputs(f.read()))
  assert len(quoted) == 7
  for argv, expected in quoted:
    try:
      cli.main(argv)
    except SystemExit as usage_error:  # the README quotes usage errors too
      assert usage_error.code == 2, argv
    captured = capsys.readouterr()
    printed = set(line.rstrip() for line in (captured.out + captured.err).splitlines())
    assert [line for line in expected if line not in printed] == [], argv


@pytest.mark.eager
def test_the_tf2_example_runs_as_written(tmp_path):
  from slimnets import models  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'README.md')) as f:
    section = f.read().split('## TF2:', 1)[1]
  code = section.split('```python\n', 1)[1].split('```', 1)[0]
  models.Backbone('resnet_v1_50', 1000).save(str(tmp_path / 'rgb' / 'model.ckpt'))  # the checkpoint it restores
  namespace = {}
  os.chdir(tmp_path)  # the example's relative checkpoint path; back to the repository after, whatever the cwd was
  try:
    exec(compile(code, 'README.md', 'exec'), namespace)  # pylint: disable=exec-used
  finally:
    os.chdir(ROOT)
  assert namespace['net'].shape == (2, 9, 9, 21)
  assert sorted(namespace['levels']) == ['C1', 'C2', 'C3', 'C4', 'C5']
  first = float(namespace['loss'])
  assert np.isfinite(first) and float(namespace['train_step'](namespace['images'], namespace['labels'])) < first


@pytest.mark.eager
def test_the_training_walkthrough_runs_as_written(tmp_path, monkeypatch, capsys):
  """The README's "Training a DeepLab model" commands, run as written on a folder of 6 small images."""
  import shlex  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from slimnets import cli  # pylint: disable=import-outside-toplevel
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read()
  section = readme[readme.index('## Training a DeepLab model'):]
  start = section.index('```sh\n') + 6
  block = section[start:section.index('\n```', start)]
  commands = [shlex.split(line) for line in block.replace('\\\n', ' ').splitlines()]
  assert [c[:2] for c in commands] == [['slimnets', 'build-dataset']] * 2 + [
      ['slimnets', 'train'], ['slimnets', 'evaluate'], ['slimnets', 'visualize'], ['slimnets', 'export']]
  rng = np.random.RandomState(0)
  for folder in ('images', 'masks'):
    os.makedirs(tmp_path / folder)
  for i in range(6):
    Image.fromarray(rng.randint(0, 256, (36, 40, 3)).astype(np.uint8)).save(tmp_path / 'images' / f'{i}.jpg')
    Image.fromarray(rng.randint(0, 3, (36, 40)).astype(np.uint8), mode='L').save(tmp_path / 'masks' / f'{i}.png')
  monkeypatch.chdir(tmp_path)
  for command in commands:
    assert cli.main(command[1:] + ['--quiet'] * (command[1] != 'export')) == 0, command
  printed = capsys.readouterr()
  assert 'trained run to step 6' in printed.out
  assert 'output stride 8 (trained at 16): atrous rates 6, 12, 18 become 12, 24, 36' in printed.err
  assert 'mean IoU' in printed.out and 'wrote the pictures of 6 images' in printed.out
  assert sorted(os.listdir(tmp_path / 'served')) == ['assets', 'fingerprint.pb', 'saved_model.pb', 'variables']


@pytest.mark.eager
def test_the_keras_example_runs_as_written(capsys):
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read()
  section = readme[readme.index('## Keras 3: `slimnets.keras.Backbone` and `Segmenter`'):]
  section = section[:section.index('\n## ')]
  blocks = [block.split('\n```')[0] for block in section.split('```python\n')[1:]]
  assert len(blocks) == 3  # the backbone, keras-hub's DeepLab on it, then the segmenter, in one namespace
  namespace = {}
  for block in blocks:
    exec(compile(block, 'README.md', 'exec'), namespace)  # pylint: disable=exec-used
  assert capsys.readouterr().out.strip().splitlines() == [
      '[2, 4, 8, 16, 16]', "['P1', 'P2', 'P3', 'P4']", '2', '(4, 64, 64, 3)', "['loss', 'mean_iou']"]
