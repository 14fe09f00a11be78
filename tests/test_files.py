"""slimnets.staging.staged: every output is written beside its target and renamed into place, or not at all."""

import os
import stat

import pytest

from slimnets import staging


def _mode(path):
  return stat.S_IMODE(os.stat(path).st_mode)


def test_a_staged_file_replaces_the_target_with_plain_permissions(tmp_path):
  target = tmp_path / 'out' / 'features.npz'
  old = os.umask(0o027)
  try:
    with staging.staged(str(target)) as staged:
      assert os.path.dirname(staged) == str(tmp_path / 'out') and not os.path.exists(target)
      with open(staged, 'w', encoding='utf-8') as file:
        file.write('new')
  finally:
    os.umask(old)
  assert target.read_text() == 'new' and _mode(target) == 0o640
  assert os.listdir(tmp_path / 'out') == ['features.npz']


def test_a_failure_leaves_the_previous_output_and_nothing_else(tmp_path):
  target = tmp_path / 'model'
  target.mkdir()
  (target / 'saved_model.pb').write_text('previous')
  with pytest.raises(RuntimeError, match='disk full'):
    with staging.staged(str(target), directory=True) as staged:
      (tmp_path / os.path.basename(staged) / 'variables').mkdir()
      raise RuntimeError('disk full')
  assert os.listdir(tmp_path) == ['model'] and (target / 'saved_model.pb').read_text() == 'previous'


def test_a_staged_folder_replaces_a_previous_one_whole(tmp_path):
  target = tmp_path / 'model'
  target.mkdir()
  (target / 'stale.txt').write_text('old')
  with staging.staged(str(target), directory=True) as staged:
    with open(os.path.join(staged, 'saved_model.pb'), 'w', encoding='utf-8') as file:
      file.write('new')
  assert os.listdir(target) == ['saved_model.pb'] and os.listdir(tmp_path) == ['model']
  assert _mode(target) == 0o777 & ~_umask()


def _umask():
  mask = os.umask(0o022)
  os.umask(mask)
  return mask
