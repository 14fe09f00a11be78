"""The package: `slimnets` beside a user's own `utils`, an explicit public API, imports that run one way."""

import ast
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.eager  # nothing here depends on the TF behaviour: run it once


def _python(code, cwd):
  """Runs `code` in a fresh interpreter in `cwd` (not the repository: its folders are not importable from there)."""
  result = subprocess.run([sys.executable, '-c', code], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', PYTHONPATH=''))
  return result.returncode, result.stdout.strip(), result.stderr


def test_slimnets_is_importable_and_claims_no_top_level_utils(tmp_path):
  code, out, err = _python('import importlib.util, sys\n'
                           'import slimnets\n'
                           'print(importlib.util.find_spec("utils") is None, "tensorflow" in sys.modules)\n'
                           'from nets import resnet_v1\n'
                           'print(callable(resnet_v1.resnet_v1_50))', str(tmp_path))
  assert code == 0, err
  assert out.split() == ['True', 'False', 'True']  # no `utils` installed; `import slimnets` loads no TensorFlow


def test_a_users_own_utils_package_lives_beside_slimnets(tmp_path):
  (tmp_path / 'utils').mkdir()
  (tmp_path / 'utils' / '__init__.py').write_text('WHOSE = "the user\'s"\n')
  code, out, err = _python('import utils\n'
                           'from slimnets import models\n'
                           'from slimnets.deploy import inference\n'
                           'print(utils.WHOSE, models.Backbone.__module__, inference.Predictor.__name__)',
                           str(tmp_path))
  assert code == 0, err
  assert out == "the user's slimnets.models.backbone Predictor"


def test_every_public_name_resolves():
  import slimnets  # pylint: disable=import-outside-toplevel
  assert slimnets.__all__ and all(getattr(slimnets, name) is not None for name in slimnets.__all__)
  assert slimnets.Backbone.__module__ == 'slimnets.models.backbone'
  with pytest.raises(AttributeError, match="module 'slimnets' has no attribute 'tf2'"):
    slimnets.tf2  # pylint: disable=pointless-statement


def _modules():
  """{module name: file} of nets/ and of utils/ (the `slimnets` package)."""
  found = {}
  for folder, package in (('nets', 'nets'), ('utils', 'slimnets')):
    for directory, _, names in os.walk(os.path.join(ROOT, folder)):
      for name in names:
        if name.endswith('.py'):
          relative = os.path.relpath(os.path.join(directory, name), os.path.join(ROOT, folder))[:-3].split(os.sep)
          parts = [package] + [p for p in relative if p != '__init__']
          found['.'.join(parts)] = os.path.join(directory, name)
  return found


def _imports(path, modules):
  """The project modules `path` imports, at the top or inside functions: (module, line, inside a function)."""
  tree = ast.parse(open(path, encoding='utf-8').read())
  functions = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
               for n in ast.walk(f)}
  for node in ast.walk(tree):
    names = []
    if isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names = [f'{node.module}.{alias.name}' if f'{node.module}.{alias.name}' in modules else node.module
               for alias in node.names]
    for name in names:
      if name in modules:
        yield name, node.lineno, id(node) in functions


def test_imports_run_one_way_without_cycles_or_hidden_imports():
  modules = _modules()
  graph = {name: set() for name in modules}
  hidden = []
  for name, path in modules.items():
    for imported, line, inside in _imports(path, modules):
      graph[name].add(imported)
      if inside and name != 'slimnets.cli':  # the CLI imports its commands once the arguments are checked
        hidden.append(f'{name} imports {imported} inside a function (line {line})')
  state, cycles = {}, []

  def visit(node, path):
    state[node] = 'open'
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        cycles.append(' -> '.join(path[path.index(nxt):] + [nxt]))
      elif nxt not in state:
        visit(nxt, path + [nxt])
    state[node] = 'done'

  for name in sorted(graph):
    if name not in state:
      visit(name, [name])
  assert cycles == []
  # nets_factory imports the networks' layers when a network function is made, to stay TF-free for the CLI
  assert [text.partition(' (line')[0] for text in hidden] == ['nets.nets_factory imports nets.layers inside a function']
  assert not any(name.startswith('nets') and imported.startswith('slimnets')
                 for name in graph for imported in graph[name])  # the networks know nothing of the product


def test_importing_every_module_changes_nothing_in_tf_slim(tmp_path):
  """No action at a distance: tf-slim's modules hold the same objects before and after every project module is
  imported (the per-thread arg scope stack is installed only when asked for, `use_per_thread_arg_scopes`)."""
  modules = sorted(_modules())
  code, out, err = _python(
      'import importlib, json, sys\n'
      'import tf_slim\n'
      'def snapshot():\n'
      '  return {name: {key: id(value) for key, value in vars(module).items()}\n'
      '          for name, module in sorted(sys.modules.items()) if name.split(".")[0] == "tf_slim"}\n'
      'before = snapshot()\n'
      f'for name in {modules!r}:\n'
      '  importlib.import_module(name)\n'
      'after = snapshot()\n'
      'changed = sorted(f"{m}.{k}" for m in before for k in set(before[m]) | set(after.get(m, {}))\n'
      '                 if before[m].get(k) != after.get(m, {}).get(k))\n'
      'print(json.dumps([len(before), changed]))', str(tmp_path))
  assert code == 0, err
  count, changed = json.loads(out.splitlines()[-1])
  assert count > 10 and changed == []


def test_every_export_format_of_the_table_has_a_writer():
  from slimnets.cli import commands  # pylint: disable=import-outside-toplevel
  from slimnets.deploy import formats  # pylint: disable=import-outside-toplevel
  assert tuple(commands._EXPORTERS) == formats.NAMES  # pylint: disable=protected-access
  with pytest.raises(ValueError, match=r"format must be one of savedmodel, openvino, tflite, got 'onnx'"):
    formats.get_format('onnx')


def test_every_package_folder_is_installed():
  """setup.cfg lists its packages one by one: a new folder of `nets/` or `utils/` missing there would be left out
  of an installed slimnets (tests run from the repository would still find it)."""
  import configparser  # pylint: disable=import-outside-toplevel
  config = configparser.ConfigParser()
  config.read(os.path.join(ROOT, 'setup.cfg'))
  listed = set(config['options']['packages'].split())
  folders = set()
  for top, installed_as in (('nets', 'nets'), ('utils', 'slimnets')):
    for folder, _, files in os.walk(os.path.join(ROOT, top)):
      if '__init__.py' in files:
        relative = os.path.relpath(folder, os.path.join(ROOT, top))
        folders.add(installed_as if relative == '.' else installed_as + '.' + relative.replace(os.sep, '.'))
  assert listed == folders
