"""Module-level helpers: the ``background_task`` decorator and ``wait_completed``.

They add no state of their own: ``background_task`` submits through a
supervisor's public ``submit`` and ``wait_completed`` waits on ``Task.wait``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from .constants import TASK_NORMAL, TASK_TYPE_NAMES, TT_THREAD, check_priority
from .supervisor import TaskSupervisor
from .task import Task


def _default_supervisor() -> TaskSupervisor:
    from . import task_supervisor
    return task_supervisor


def background_task(f: Callable[..., Any] | None = None, *, name: str | None = None,
                    priority: int = TASK_NORMAL, tt: int = TT_THREAD,
                    delay: float | None = None, callback: Callable[[Any], Any] | None = None,
                    loop: Any = None, supervisor: TaskSupervisor | None = None) -> Any:
    """Make ``f`` submit itself as a task each time it is called.

    Use as ``@background_task``, ``@background_task(priority=TASK_HIGH)`` or
    ``background_task(f, name='x')(args...)``. Each call returns the ``Task``;
    the task completes when ``f`` returns (its result) or fails when it raises.
    """
    if f is None:
        return functools.partial(background_task, name=name, priority=priority, tt=tt,
                                 delay=delay, callback=callback, loop=loop,
                                 supervisor=supervisor)
    if not callable(f):
        raise TypeError(f"background_task target must be callable, got {f!r}")
    check_priority(priority)
    if tt != TT_THREAD:
        raise ValueError(f"background_task: task type {TASK_TYPE_NAMES.get(tt, tt)!r} "
                         f"is not supported yet")
    if supervisor is not None and not isinstance(supervisor, TaskSupervisor):
        raise TypeError(f"supervisor must be a TaskSupervisor, got {supervisor!r}")
    task_name = name or getattr(f, "__qualname__", None) or repr(f)

    @functools.wraps(f)
    def submit(*args: Any, **kwargs: Any) -> Task:
        target = supervisor or _default_supervisor()
        return target.submit(f, *args, _priority=priority, _delay=delay, _name=task_name,
                             _callback=callback, **kwargs)

    return submit


def wait_completed(tasks: Task | Iterable[Task], timeout: float | None = None) -> Any:
    """Wait for one task or several; return the result or the list of results.

    Raises ``TimeoutError`` if they have not all finished within ``timeout``
    seconds, re-raises the exception of the first failed task (in the order
    given) and raises ``TaskCanceledError`` for a canceled one.
    """
    single = isinstance(tasks, Task)
    task_list = [tasks] if single else list(tasks)
    for task in task_list:
        if not isinstance(task, Task):
            raise TypeError(f"wait_completed expects Task objects, got {task!r}")
    deadline = None if timeout is None else time.monotonic() + timeout
    for task in task_list:
        remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not task.wait(remaining):
            raise TimeoutError(f"task {task.id!r} ({task.name}) did not finish "
                               f"within {timeout} s")
    results = [task.outcome() for task in task_list]
    return results[0] if single else results
