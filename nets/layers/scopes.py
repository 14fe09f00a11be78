"""Arg scopes and builds: layers that share tf-slim's arg scope entries (`own_layer` maps a tf-slim layer to
its twin here), the build lock, and per-thread arg scope stacks where replica threads need them."""

import contextlib
import functools
import threading
from typing import Callable, Optional

import tensorflow as tf
import tf_slim as slim
from tf_slim.ops import arg_scope as slim_arg_scope

from nets.layers.context import build_options



class _PerThreadArgStack(list):
  """tf-slim's arg scope stack, one per thread, as TensorFlow keeps its variable and name scopes
  (`use_per_thread_arg_scopes`).

  tf-slim 1.1.0 keeps one module-level list (`tf_slim.ops.arg_scope._ARGSTACK`) for the whole process, and
  reads it only through its truthiness, `[-1]`, `append` and `pop`. This stand-in gives each thread its own
  list; a thread starts with a copy of the main thread's stack as it is then (a replica starts inside the scopes
  its `strategy.run` was called in).
  """

  def __init__(self, main_stack: list):
    super().__init__()
    self._main_stack = list(main_stack)
    self._main_thread = threading.main_thread()
    self._local = threading.local()

  def _stack(self) -> list:
    if threading.current_thread() is self._main_thread:
      return self._main_stack
    stack = getattr(self._local, 'stack', None)
    if stack is None:
      stack = self._local.stack = list(self._main_stack) or [{}]
    return stack

  def __len__(self) -> int:
    return len(self._stack())

  def __bool__(self) -> bool:
    return bool(self._stack())

  def __getitem__(self, index):
    return self._stack()[index]

  def __iter__(self):
    return iter(self._stack())

  def __repr__(self) -> str:
    return repr(self._stack())

  def append(self, scope: dict) -> None:
    self._stack().append(scope)

  def pop(self, index: int = -1) -> dict:
    return self._stack().pop(index)


def use_per_thread_arg_scopes() -> None:
  """Gives each thread of this process its own tf-slim arg scope stack from now on (idempotent).

  The one place this project changes tf-slim, and only when asked: under a `tf.distribute.MirroredStrategy`
  the replicas are threads that take turns at every cross-replica call inside the model (synchronized batch
  norm's all-reduce, where they let go of `BUILD_LOCK`), and with tf-slim's one stack they would pop each
  other's scopes. `slimnets.models.Backbone(..., synchronized_batch_norm=True)` calls it; graph code that uses
  `batch_norm(synchronized=True)` across replicas calls it once before `strategy.run` (batch norm says so
  otherwise). Nothing else needs it: other builds hold `BUILD_LOCK` from their first scope to their last.
  """
  if not per_thread_arg_scopes():
    slim_arg_scope._ARGSTACK = _PerThreadArgStack(slim_arg_scope._ARGSTACK)  # pylint: disable=protected-access


def per_thread_arg_scopes() -> bool:
  """Whether `use_per_thread_arg_scopes` is in effect."""
  return isinstance(slim_arg_scope._ARGSTACK, _PerThreadArgStack)  # pylint: disable=protected-access


class _BuildLock:
  """A re-entrant lock that can be let go of for a while by the thread holding it (`released`)."""

  def __init__(self):
    self._lock = threading.Lock()
    self._owner = None
    self._depth = 0

  def __enter__(self) -> '_BuildLock':
    me = threading.get_ident()
    if self._owner != me:
      self._lock.acquire()
      self._owner = me
    self._depth += 1
    return self

  def __exit__(self, *exc_info) -> None:
    self._depth -= 1
    if not self._depth:
      self._owner = None
      self._lock.release()

  @contextlib.contextmanager
  def released(self):
    """Lets go of the lock, however deeply this thread holds it, for the block; takes it back after."""
    if self._owner != threading.get_ident():
      yield
      return
    depth, self._depth, self._owner = self._depth, 0, None
    self._lock.release()
    try:
      yield
    finally:
      self._lock.acquire()
      self._owner, self._depth = threading.get_ident(), depth


# Held while a network is built, so that builds in several threads run one after another (Python runs one
# thread at a time anyway) and see consistent module state. This module's other build-time states are per
# thread (the arg scope stack too, with `use_per_thread_arg_scopes`); the network functions hold this lock from
# their first scope to the last, and the entry points that open scopes around them do so through `building`. A
# thread lets go of it while it waits for other replicas' threads in a cross-replica all-reduce (synchronized
# batch norm), which they must reach.
BUILD_LOCK = _BuildLock()


@contextlib.contextmanager
def building(arg_scope: Optional[dict] = None, custom_getter: Optional[Callable] = None, **options):
  """The one way into a build, for code that runs network functions: holds `BUILD_LOCK`, sets the build's
  `options` (fields of `context.BuildOptions`: `fold_batch_norm`, `moving_average_decay`,
  `regularizer_sink`), then (with `custom_getter`) opens a root variable scope whose variables come from the
  getter, then opens `arg_scope` (a network's arg scope, as `NetworkSpec.arg_scope()` gives it).
  `nets_factory.get_network_fn`, `slimnets.models.NetworkModule` (eager models) and `slimnets.analysis.dry_build`
  (builds without variables) build through it."""
  with contextlib.ExitStack() as stack:
    stack.enter_context(BUILD_LOCK)
    stack.enter_context(build_options(**options))
    if custom_getter is not None:
      stack.enter_context(tf.compat.v1.variable_scope(tf.compat.v1.VariableScope(False), custom_getter=custom_getter))
    stack.enter_context(slim.arg_scope(arg_scope or {}))
    yield


# tf-slim layer -> the layer of this module that replaces it, keyed by their shared arg scope key.
_TWINS = {}


def shares_arg_scope_with(slim_layer: Callable) -> Callable:
  """Makes the decorated layer read and write the arg_scope entry of `slim_layer`, and replace it when handed in.

  Arguments given explicitly at the call win over scoped ones, as with `slim.add_arg_scope`. The layer is also
  registered as `slim_layer`'s twin, so that `own_layer(slim_layer)` gives it (see there).
  """
  key = slim.arg_scope_func_key(slim_layer)

  def decorate(layer):
    @functools.wraps(layer)
    def scoped_layer(*args, **kwargs):
      scoped = slim.current_arg_scope().get(key)
      if scoped:
        kwargs = {**scoped, **kwargs}
      return layer(*args, **kwargs)

    scoped_layer._key_op = key  # read by slim.arg_scope_func_key; pylint: disable=protected-access
    _TWINS[key] = scoped_layer
    return scoped_layer

  return decorate


def own_layer(fn: Optional[Callable]) -> Optional[Callable]:
  """`fn`, or this module's twin of `fn` when `fn` is a tf-slim layer (or a `functools.partial` of one).

  Code written for tf-slim hands its own layers to ours, e.g. `slim.arg_scope([slim.conv2d],
  normalizer_fn=slim.batch_norm)` around one of these networks. tf-slim's `batch_norm` fails on TF 2.21 without
  tf-keras, so every callable argument that a layer here calls (`normalizer_fn`, `activation_fn`) goes through
  this first: the twin runs instead, with the same arguments, variable names and collections.
  """
  if isinstance(fn, functools.partial):
    twin = own_layer(fn.func)
    return fn if twin is fn.func else functools.partial(twin, *fn.args, **fn.keywords)
  if fn is None or not callable(fn):
    return fn
  return _TWINS.get(slim.arg_scope_func_key(fn), fn)
