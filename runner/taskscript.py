"""Task scripts: small Python files the operator submits as tasks.

Format
------
A task script is a Python file with three parts::

    \"\"\"Sleep for a while (an I/O-bound task that holds its slot).

    Anything after the first line is extra help text.
    \"\"\"

    import time

    PARAMS = {"seconds": 0.5}


    def run(seconds):
        time.sleep(seconds)
        return seconds

* the module **docstring**: its first line is the description shown to the
  operator;
* ``PARAMS``: a dict of parameter names to **default values** (optional; no
  ``PARAMS`` means no parameters). The type of each default drives the
  conversion of what the operator types: ``int``, ``float`` (an integer is
  accepted), ``bool`` (``true/false``, ``yes/no``, ``on/off``, ``1/0``),
  ``str`` (taken as typed). Any other default (``None``, a list...) takes a
  Python literal (``ast.literal_eval``) of the same type (any type for
  ``None``);
* the entry point ``run(**params)``: called with every parameter (the
  defaults merged with what the operator gave). A plain function runs as a
  thread task or, through ``run_script``, as a process-pool (mp) task; an
  ``async def run`` runs only as a coroutine task on an aloop. Its return
  value is the task's result; an exception fails the task.

Scripts shipped with the app live in ``resources/tasks``; any other ``.py``
file can be loaded by path.

API
---
* ``load_task_script(ref)`` → ``TaskScript`` (``name``, ``path``,
  ``description``, ``params``, ``run``, ``is_async``); ``ref`` is a path or
  the name of a built-in script. A file that does not exist, has a syntax
  error, fails to import, has no callable ``run``, a ``PARAMS`` that is not
  a dict, or a ``run`` that cannot take its ``PARAMS`` raises
  ``TaskScriptError``: ``str(error)`` is a one-line readable message and
  ``error.details`` the formatted traceback (for structural errors, a
  traceback-style pointer to the file and line). Scripts are untrusted
  input: *anything* raised while importing or inspecting one -- ``SystemExit``
  from a ``sys.exit()`` at module level and ``KeyboardInterrupt`` included --
  becomes a ``TaskScriptError`` naming the original exception.
* ``TaskScript.bind(text_or_dict)`` → the validated keyword arguments for
  ``run``: a dict (values given as text are converted, typed values are
  checked) or a text of ``key=value`` pairs separated by spaces or newlines
  (shell quoting: ``message='disk full, again'``). An unknown parameter or a
  value of the wrong type raises ``TaskScriptError`` naming both.
* ``builtin_task_scripts()`` → the names of the scripts in ``resources/tasks``.
* ``run_script(path, params, _task_id=None)`` → loads the script in the
  current process and returns ``run(**bind(params))`` (an ``async`` entry
  point is run to completion with ``asyncio.run``). A script loaded from a
  path cannot be pickled, but this importable function and the path string
  can: it is the target of mp tasks. Child processes keep loaded scripts
  cached by path and modification time. An exception whose class is defined
  in the script itself is re-raised as ``TaskScriptRunError`` (its text and
  traceback kept), since the parent process could not unpickle it; so is a
  ``BaseException`` that is not an ``Exception`` (``SystemExit``,
  ``KeyboardInterrupt``), which would otherwise end the worker process.
* ``describe_error(exc)`` → ``"Type: message"`` for any exception, even one
  whose ``__str__`` raises; ``format_user_traceback(exc, path)`` → the
  traceback from the script's first frame on, also never raising.

This module has no Qt and no output; it may be used from any thread.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import importlib.util
import inspect
import shlex
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from engine import safe_repr

from . import files

TASK_DIR = files.RESOURCES / "tasks"

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


class TaskScriptError(Exception):
    """A task script cannot be loaded, or a parameter value is wrong.

    ``str(error)`` is the readable message; ``details`` the formatted traceback
    (empty for parameter errors, which are the operator's, not the script's).
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message, details)  # both in args: the error pickles
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class TaskScriptRunError(Exception):
    """A script's own exception class, re-raised from a child process as text."""


@dataclass(frozen=True)
class TaskScript:
    name: str
    path: Path
    description: str
    params: dict[str, Any]
    run: Callable[..., Any] = field(repr=False)
    is_async: bool

    def bind(self, values: str | Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keyword arguments for ``run``: defaults updated with ``values``."""
        if values is None:
            given: Mapping[str, Any] = {}
        elif isinstance(values, str):
            given = self._parse_pairs(values)
        elif isinstance(values, Mapping):
            given = values
        else:
            raise TaskScriptError(f"{self.name}: parameters must be a dict or 'key=value' "
                                  f"text, got {safe_repr(values)}")
        kwargs = dict(self.params)
        for key, value in given.items():
            if key not in self.params:
                known = ", ".join(self.params) or "none"
                raise TaskScriptError(f"{self.name}: unknown parameter {safe_repr(key)} = "
                                      f"{safe_repr(value)} (parameters: {known})")
            kwargs[key] = convert(self.name, key, value, self.params[key])
        return kwargs

    def _parse_pairs(self, text: str) -> dict[str, str]:
        try:
            tokens = shlex.split(text)
        except ValueError as exc:
            raise TaskScriptError(f"{self.name}: cannot read parameters {text!r}: {exc}") from None
        pairs: dict[str, str] = {}
        for token in tokens:
            key, sep, value = token.partition("=")
            if not sep or not key:
                raise TaskScriptError(f"{self.name}: parameter {token!r} is not key=value")
            pairs[key.strip()] = value
        return pairs


def convert(script: str, key: str, value: Any, default: Any) -> Any:
    """``value`` (text or typed) as the type of ``default``; ``TaskScriptError`` if not."""
    kind = type(default)

    def bad(why: str = "") -> TaskScriptError:
        expected = "any Python literal" if default is None else kind.__name__
        return TaskScriptError(f"{script}: parameter {key!r} = {safe_repr(value)} is not a "
                               f"valid {expected}{why}")

    if isinstance(value, str) and kind is not str:
        text = value.strip()
        if kind is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise bad(" (use true or false)")
        if kind is int:
            try:
                return int(text.replace("_", ""))
            except ValueError:
                raise bad() from None
        if kind is float:
            try:
                return float(text)
            except ValueError:
                raise bad() from None
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise bad() from None
    # a typed value (given as such, or a literal just read)
    if default is None:
        return value
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is not bool and isinstance(value, bool):
        raise bad()
    if not isinstance(value, kind):
        raise bad()
    return value


# -- loading -------------------------------------------------------------------
def builtin_task_scripts() -> list[str]:
    """Names of the task scripts shipped in ``resources/tasks``."""
    return files.builtin_names(TASK_DIR)


def resolve(ref: str | Path) -> Path:
    """A built-in script name or a path to a file → its absolute path."""
    return files.resolve(ref, TASK_DIR, "task script", TaskScriptError)


def load_task_script(ref: str | Path) -> TaskScript:
    """Import a task script (fresh each call); ``TaskScriptError`` if it is broken."""
    path = resolve(ref)
    module = _import(path)
    try:
        return _inspect(path, module)
    except TaskScriptError:
        raise
    except BaseException as exc:  # noqa: BLE001 - a script is untrusted input
        # Reading the module runs its code again (properties, __signature__,
        # a dict subclass's methods): whatever that raises is the script's fault.
        raise TaskScriptError(f"{path.name} cannot be read: {describe_error(exc)}",
                              format_user_traceback(exc, path)) from None


def _inspect(path: Path, module: ModuleType) -> TaskScript:
    # The module's own namespace, not getattr(): a module-level __getattr__
    # would run script code for every name it lacks.
    namespace = vars(module)
    run = namespace.get("run")
    if run is None:
        raise TaskScriptError(
            f"{path.name} has no entry point: define 'def run(**params)' or "
            f"'async def run(**params)'",
            _pointer(path, None, "AttributeError: the module defines no 'run'"))
    if not callable(run):
        raise TaskScriptError(
            f"{path.name}: 'run' must be a function, got {type(run).__name__} "
            f"{safe_repr(run)}",
            _pointer(path, _assignment_line(path, "run"),
                     f"TypeError: 'run' = {safe_repr(run)} is not a function"))
    params = namespace.get("PARAMS", {})
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise TaskScriptError(
            f"{path.name}: PARAMS must be a dict of parameter names to defaults, "
            f"got {safe_repr(params)}",
            _pointer(path, _assignment_line(path, "PARAMS"),
                     f"TypeError: PARAMS = {safe_repr(params)} is not a dict"))
    params = dict(params)
    try:
        inspect.signature(run).bind(**params)
    except TypeError as exc:
        raise TaskScriptError(f"{path.name}: run() cannot take its PARAMS "
                              f"({', '.join(params) or 'none'}): {exc}",
                              _pointer(path, _def_line(run), f"TypeError: {exc}")) from None
    except ValueError:  # no signature (a builtin): take it on trust
        pass
    doc = namespace.get("__doc__")
    doc = doc.strip() if isinstance(doc, str) else ""
    return TaskScript(name=path.stem, path=path,
                      description=doc.splitlines()[0].strip() if doc else "",
                      params=params, run=run, is_async=inspect.iscoroutinefunction(run))


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"taskscript_{stem}_{digest}"


def _import(path: Path) -> ModuleType:
    name = _module_name(path)
    try:
        spec = importlib.util.spec_from_file_location(name, path)
    except Exception as exc:
        raise TaskScriptError(f"cannot load {path}: {exc}") from None
    if spec is None or spec.loader is None:
        raise TaskScriptError(f"cannot load {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(name)
    sys.modules[name] = module  # dataclasses and the like look their module up
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - sys.exit() in a script must not end us
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        if isinstance(exc, SyntaxError):
            message = (f"{path.name} has a syntax error (line {exc.lineno}): "
                       f"{type(exc).__name__}: {exc.msg}")
        else:
            message = f"{path.name} failed to import: {describe_error(exc)}"
        raise TaskScriptError(message, format_user_traceback(exc, path)) from None
    return module


def describe_error(exc: BaseException) -> str:
    """``"Type: message"`` (or just ``"Type"``) on one line; never raises, even
    when the exception's ``__str__`` does (it is user code)."""
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - user __str__
        message = "<str() of the exception raised>"
    if isinstance(exc, SystemExit):  # str(SystemExit(3)) is just "3"
        message = f"sys.exit({safe_repr(exc.code)})"
    message = " ".join(message.split())
    name = type(exc).__qualname__
    return f"{name}: {message}" if message else name


def format_user_traceback(exc: BaseException, path: Path | str) -> str:
    """The traceback of ``exc`` from the first frame in ``path`` on (the loader's
    own frames are noise to the operator); all of it if no frame is there, just
    the pointer into the file for a ``SyntaxError``. Never raises: if the
    exception cannot be formatted (its ``__str__`` raises), a one-line note."""
    path = str(path)
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != path:
        tb = tb.tb_next
    try:
        if tb is None:
            if isinstance(exc, SyntaxError):  # the file and line are in the exception
                return "".join(traceback.format_exception_only(type(exc), exc))
            tb = exc.__traceback__
        return "".join(traceback.format_exception(type(exc), exc, tb))
    except BaseException:  # noqa: BLE001 - formatting calls the exception's own code
        return f"{type(exc).__name__} (its traceback cannot be formatted)\n"


def _pointer(path: Path, line: int | None, error: str) -> str:
    """A traceback-style pointer to a place in the script for a structural error."""
    text = f'  File "{path}"'
    if line:
        text += f", line {line}, in <module>"
        try:
            source = path.read_text(encoding="utf-8").splitlines()[line - 1].strip()
            text += f"\n    {source}"
        except (OSError, IndexError, UnicodeDecodeError):
            pass
    return f"{text}\n{error}\n"


def _assignment_line(path: Path, name: str) -> int | None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign) else [])
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return node.lineno
    return None


def _def_line(fn: Callable[..., Any]) -> int | None:
    code = getattr(fn, "__code__", None)
    return code.co_firstlineno if code is not None else None


# -- running in another process ---------------------------------------------
# Guards _CACHE: path → (mtime_ns, TaskScript); a pool process may run tasks
# in several threads (a thread pool executor), so loads are serialized.
_CACHE_LOCK = threading.Lock()
_CACHE: dict[str, tuple[int, TaskScript]] = {}


def _cached(path: str) -> TaskScript:
    mtime = Path(path).stat().st_mtime_ns
    with _CACHE_LOCK:
        hit = _CACHE.get(path)
        if hit is None or hit[0] != mtime:
            hit = (mtime, load_task_script(path))
            _CACHE[path] = hit
    return hit[1]


def run_script(path: str, params: Mapping[str, Any] | str | None = None,
               _task_id: Any = None) -> Any:
    """Load the script at ``path`` in this process and run it with ``params``.

    The target of mp tasks: submit ``run_script, str(script.path), kwargs``.
    """
    script = _cached(str(path))
    kwargs = script.bind(params)
    module = script.run.__module__
    try:
        if script.is_async:
            result = asyncio.run(script.run(**kwargs))
        else:
            result = script.run(**kwargs)
    except Exception as exc:
        if type(exc).__module__ == module:  # not importable in the parent
            raise TaskScriptRunError(describe_error(exc)) from exc
        raise
    except BaseException as exc:  # noqa: BLE001 - sys.exit() in run() must not end the worker
        raise TaskScriptRunError(describe_error(exc)) from exc
    if type(result).__module__ == module:
        return safe_repr(result)
    return result
