"""The original library's arguments and calls on the supervisor and the workers:
each does what its documentation says, or warns that it has no effect here."""

from __future__ import annotations

import asyncio
import queue
import threading
import warnings

import pytest
from engine_testkit import StartLog, wait_until

from engine import (
    TT_MP,
    TT_THREAD,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    BackgroundWorker,
    background_task,
    background_worker,
    wait_completed,
)

WAIT = 5.0


def deprecation(fn, *args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    messages = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    return result, messages


# -- the supervisor --------------------------------------------------------------------
def test_start_daemon_warns_and_starts(make_supervisor) -> None:
    sup = make_supervisor(start=False)
    _, messages = deprecation(sup.start, daemon=True)
    assert sup.is_active()
    assert messages and "daemon=True" in messages[0] and "no effect" in messages[0]
    sup.stop()
    with pytest.raises(TypeError, match="daemon"):
        sup.start(daemon="yes")
    assert not sup.is_active()  # refused before it started


def test_get_info_has_the_librarys_fields(sup) -> None:
    gate = threading.Event()
    running = sup.submit(gate.wait, WAIT)
    wait_until(lambda: running.is_started())
    queued = sup.submit(lambda: None, _delay=60)
    info = sup.get_info()
    assert info.id == sup.id and info.started is True
    assert info.thread_tasks == [running.id] and info.mp_tasks == []
    assert set(info.tasks) == {running.id, queued.id} and info.tasks[running.id] is running
    assert info.mp_pool_size is None  # no process pool yet
    only_threads = sup.get_info(tt=TT_THREAD)
    assert only_threads.mp_tasks is None and set(only_threads.tasks) == {running.id, queued.id}
    assert set(sup.get_info(tt=TT_MP).tasks) == set()
    counts = sup.get_info(tt=False, aloops=False, schedulers=False)
    assert counts.tasks is None and counts.thread_tasks is None
    assert counts.thread_tasks_count == 1
    with pytest.raises(ValueError, match="tt must be"):
        sup.get_info(tt=7)
    with pytest.raises(TypeError, match="aloops"):
        sup.get_info(aloops="no")
    gate.set()
    sup.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    assert sup.get_info().mp_pool_size == 1


def test_default_aloop_attribute_reads_and_sets(sup) -> None:
    assert sup.default_aloop is None
    first = sup.create_aloop("first", daemon=True)
    sup.create_aloop("second", daemon=True)
    sup.default_aloop = "second"
    assert sup.default_aloop is sup.get_aloop("second")
    sup.default_aloop = first
    assert sup.default_aloop is first
    sup.default_aloop = None  # the library ignored this: here it clears the default
    assert sup.default_aloop is None and sup.stats().default_aloop is None
    with pytest.raises(LookupError):
        sup.default_aloop = "third"
    aloops = sup.get_aloops()
    assert set(aloops) == {"first", "second"} and aloops["first"] is first
    aloops.clear()  # a copy
    assert set(sup.get_aloops()) == {"first", "second"}


def test_put_task_worker_names_the_task(sup) -> None:
    worker = BackgroundWorker("named-worker", lambda **kw: False, supervisor=sup)
    task = sup.put_task(lambda _task_id: sup.mark_task_completed(task_id=_task_id),
                        worker=worker)
    wait_completed(task, timeout=WAIT)
    assert task.name == "named-worker"
    with pytest.raises(TypeError, match="worker"):
        sup.put_task(lambda _task_id: None, worker=object())
    assert sup.mark_task_started(task) is True


def test_spawn_thread_runs_outside_the_pool(sup) -> None:
    future = sup.spawn_thread(lambda a, b=0: a + b, (40,), {"b": 2})
    assert future.result(WAIT) == 42
    names = []
    sup.spawn_thread(lambda: names.append(threading.current_thread().name)).result(WAIT)
    assert names[0].startswith(f"supervisor_{sup.id}_spawn_")

    def leave():
        raise SystemExit(3)

    failed = sup.spawn_thread(leave)
    assert isinstance(failed.exception(WAIT), SystemExit)
    with pytest.raises(TypeError, match="target"):
        sup.spawn_thread(None)
    with pytest.raises(TypeError, match="args"):
        sup.spawn_thread(print, 5)


def test_background_task_daemon_warns(sup) -> None:
    submit, messages = deprecation(background_task, lambda: 7, daemon=False, supervisor=sup)
    assert messages and "daemon=False" in messages[0]
    assert wait_completed(submit(), timeout=WAIT) == 7
    with pytest.raises(TypeError, match="daemon"):
        background_task(lambda: 7, daemon=1)


# -- workers -----------------------------------------------------------------------------
def test_on_error_kwargs_is_the_librarys_convention(sup) -> None:
    calls = StartLog()

    def fail(**kw):
        raise ValueError("boom")

    worker = BackgroundIntervalWorker("errs", fail, interval=0.01, supervisor=sup,
                                      on_error=lambda **kw: calls.record(kw),
                                      on_error_kwargs={"source": "errs"})
    worker.start()
    assert calls.wait_for_count(2)
    worker.stop()
    assert calls.order[0] == {"source": "errs"}
    with pytest.raises(TypeError, match="on_error_kwargs= needs on_error="):
        BackgroundWorker("x", fail, on_error_kwargs={}, supervisor=sup)
    with pytest.raises(TypeError, match="on_error_kwargs must be a dict"):
        BackgroundWorker("x", fail, on_error=print, on_error_kwargs=[1], supervisor=sup)


def test_daemon_and_poll_delay_warn(sup) -> None:
    _, messages = deprecation(BackgroundWorker, "w", lambda **kw: None, daemon=True,
                              poll_delay=0.5, supervisor=sup)
    assert len(messages) == 2
    assert "daemon=True" in messages[0] and "poll_delay=0.5" in messages[1]
    with pytest.raises(ValueError, match="poll_delay"):
        BackgroundWorker("w", lambda **kw: None, poll_delay=-1, supervisor=sup)


def test_hooks_run_around_start_and_stop(sup) -> None:
    calls = StartLog()

    class Hooked(BackgroundEventWorker):
        def run(self, **kw):
            calls.record("run")

        def before_start(self):
            calls.record("before_start")

        def after_start(self):
            calls.record("after_start")

        def before_stop(self):
            calls.record("before_stop")

        def after_stop(self):
            calls.record("after_stop")

    worker = Hooked("hooked", supervisor=sup)
    assert worker.is_stopped() and not worker.is_started()
    worker.start()
    assert worker.is_started() and not worker.is_stopped()
    worker.trigger_threadsafe()
    assert calls.wait_for_count(3)
    worker.stop()
    assert worker.is_stopped()
    assert calls.order == ["before_start", "after_start", "run", "before_stop", "after_stop"]


def test_a_raising_before_start_refuses_the_start_and_later_hooks_are_contained(sup) -> None:
    class Refuses(BackgroundEventWorker):
        def run(self, **kw):
            pass

        def before_start(self):
            raise RuntimeError("not now")

    worker = Refuses("refuses", supervisor=sup)
    with pytest.raises(RuntimeError, match="not now"):
        worker.start()
    assert not worker.is_active()

    class Noisy(BackgroundEventWorker):
        def run(self, **kw):
            pass

        def after_start(self):
            raise SystemExit(1)

        def after_stop(self):
            raise ValueError("after")

    noisy = Noisy("noisy", supervisor=sup)
    noisy.start()
    assert noisy.is_active() and noisy.errors == 1
    noisy.stop()
    assert noisy.is_stopped() and noisy.errors == 2


def test_restart_with_new_arguments_and_the_delay_before_override(sup) -> None:
    calls = StartLog()
    worker = BackgroundEventWorker("args", lambda *a, **kw: calls.record(a), supervisor=sup)
    worker.start(1)
    worker.trigger_threadsafe()
    assert calls.wait_for_count(1)
    worker.restart(2, wait=WAIT)
    worker.trigger_threadsafe()
    assert calls.wait_for_count(2)
    worker.restart(wait=WAIT)  # no arguments: the last start's
    worker.trigger_threadsafe()
    assert calls.wait_for_count(3)
    worker.stop()
    assert calls.order == [(1,), (2,), (2,)]
    ticker = BackgroundIntervalWorker("late", lambda **kw: calls.record("tick"), interval=0.01,
                                      supervisor=sup)
    ticker.start(_delay_before=30)
    assert ticker.delay_before == 30
    assert not calls.wait_for_count(4, timeout=0.3)  # nothing before the delay
    ticker.stop()
    with pytest.raises(ValueError, match="_delay_before"):
        ticker.start(_delay_before=-1)


def test_executors_receive_their_task_id(sup) -> None:
    calls = StartLog()
    worker = BackgroundEventWorker("ids", lambda **kw: calls.record(kw["_task_id"]),
                                   supervisor=sup)
    worker.start()
    worker.trigger_threadsafe()
    assert calls.wait_for_count(1)
    worker.stop()
    assert sup.get_task(calls.order[0]).name == "ids"
    queued = BackgroundQueueWorker("qids", lambda item, **kw: calls.record(kw["_task_id"]),
                                   supervisor=sup)
    queued.start()
    queued.put_threadsafe("x")
    assert calls.wait_for_count(2)
    queued.stop()
    assert sup.get_task(calls.order[1]).name == "qids"
    with pytest.raises(TypeError, match="_task_id"):
        worker.start(_task_id=5)


@pytest.mark.parametrize("q, order", [
    (queue.PriorityQueue, [5, 1, 2, 3, 4]), (asyncio.PriorityQueue, [5, 1, 2, 3, 4]),
    (queue.LifoQueue, [5, 3, 2, 4, 1]), (queue.Queue, [5, 1, 4, 2, 3]), (True, [5, 1, 4, 2, 3]),
])
def test_the_queue_class_orders_the_items(sup, q, order) -> None:
    calls = StartLog()
    gate = threading.Event()

    def run(item, **kw):
        gate.wait(WAIT)
        calls.record(item)

    worker = background_worker(run, q=q, supervisor=sup)
    worker.start()
    worker.put_threadsafe(5)  # taken at once: the executor holds it until the gate opens
    wait_until(lambda: worker.qsize == 0)
    for item in (1, 4, 2, 3):
        worker.put_threadsafe(item)
    gate.set()
    assert calls.wait_for_count(5)
    worker.stop()
    assert calls.order == order


def test_bad_queue_classes_are_refused(sup) -> None:
    for bad in (dict, "fifo", 3, None):
        with pytest.raises(TypeError, match="q must be True or a queue class"):
            background_worker(lambda item, **kw: None, q=bad, supervisor=sup)
    with pytest.raises(TypeError, match="q must be True or a queue class"):
        BackgroundQueueWorker("x", lambda item, **kw: None, q=list, supervisor=sup)


def test_get_queue_obj_and_get_event_obj_feed_the_worker(sup) -> None:
    calls = StartLog()
    queued = BackgroundQueueWorker("qo", lambda item, **kw: calls.record(item), supervisor=sup)
    queued.start()
    q = queued.get_queue_obj()
    q.put_nowait("a")
    asyncio.run(q.put("b"))
    assert calls.wait_for_count(2) and q.empty() and q.qsize() == 0
    queued.stop()
    evented = BackgroundEventWorker("eo", lambda **kw: calls.record("e"), supervisor=sup)
    evented.start()
    evented.get_event_obj().set()
    assert calls.wait_for_count(3)
    evented.stop()
    assert calls.order == ["a", "b", "e"]


def test_an_interval_worker_can_be_triggered_between_ticks(sup) -> None:
    calls = StartLog()
    worker = BackgroundIntervalWorker("slow", lambda **kw: calls.record("run"), interval=3600,
                                      supervisor=sup)
    worker.start()
    assert calls.wait_for_count(1)  # the first tick is at once
    worker.trigger_threadsafe()
    assert calls.wait_for_count(2, timeout=2)  # not an hour later
    asyncio.run(worker.trigger())
    assert calls.wait_for_count(3, timeout=2)
    worker.stop()


# -- every public signature ----------------------------------------------------------------
def _documented_parameters(module_name: str = "engine") -> list[str]:
    """``name(parameter)`` for every parameter of a public call of the module
    (``engine``, ``engine.compat``) that neither its docstring, its class's or
    its module's, nor the README names."""
    import dataclasses
    import importlib
    import inspect
    import re
    import sys
    from pathlib import Path

    module = importlib.import_module(module_name)

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    missing = []

    def check(fn, label: str, owner=None) -> None:
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):
            return
        places = [fn, *(owner.__mro__ if owner else ())]  # a method's own class, its bases
        def module_doc(obj) -> str | None:
            module = sys.modules.get(getattr(obj, "__module__", None) or "")
            return module.__doc__ if module else None

        text = "\n".join(filter(None, [inspect.getdoc(fn), module_doc(fn)] + [
            doc for place in places[1:] for doc in (inspect.getdoc(place), module_doc(place))]))
        for p in signature.parameters.values():
            if p.name in ("self", "cls") or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            word = re.compile(rf"\b{re.escape(p.name)}\b")
            if not word.search(text) and not re.search(rf"`[^`]*\b{re.escape(p.name)}\b", readme):
                missing.append(f"{label}({p.name})")

    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj):
            if dataclasses.is_dataclass(obj) or issubclass(obj, tuple):
                continue  # records the engine builds: their fields are their attributes
            check(obj.__init__, f"{name}.__init__", obj)
            for member, fn in inspect.getmembers(obj, inspect.isfunction):
                if not member.startswith("_"):
                    check(fn, f"{name}.{member}", obj)
        elif callable(obj):
            check(obj, name)
    return missing


@pytest.mark.parametrize("module_name", ["engine", "engine.compat"])
def test_every_parameter_of_the_public_api_is_documented(module_name) -> None:
    assert _documented_parameters(module_name) == []


def test_set_debug_shows_the_engines_debug_messages() -> None:
    import logging

    from engine import set_debug

    logger = logging.getLogger("engine")
    before = logger.level
    try:
        set_debug()
        assert logger.isEnabledFor(logging.DEBUG)
        set_debug(False)
        assert logger.level == logging.NOTSET
        with pytest.raises(TypeError, match="mode"):
            set_debug("on")
    finally:
        set_debug(False)
        logger.setLevel(before)
