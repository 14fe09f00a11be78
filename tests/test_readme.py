"""The README's copy-paste commands are the ones CI runs."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ci_runs_the_readme_test_command():
  with open(os.path.join(ROOT, 'README.md')) as f:
    readme = f.read().splitlines()
  with open(os.path.join(ROOT, '.ci', 'run')) as f:
    ci_command = f.read().strip().splitlines()[-1]
  assert readme[0] == '# slimnets'
  commands = [line for line in readme[:12] if line.startswith('python3 -m venv')]
  assert len(commands) == 2
  assert commands[0].endswith('slimnets list')
  assert commands[1] == ci_command
