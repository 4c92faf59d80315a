"""Bad input: the documented exception, naming the bad value, and no state change.

Also the architecture rule that the engine never imports Qt.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from engine_testkit import WAIT, timeless
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import TT_THREAD, TaskSupervisor

ROOT = pathlib.Path(__file__).resolve().parents[2]


def noop(_task_id=None):
    return None


def state(sup: TaskSupervisor):
    """Everything a user can observe, minus the clock."""
    stats = sup.stats()
    return (timeless(stats.thread), timeless(stats.mp), stats.active, stats.last_event_seq,
            stats.poll_delay, stats.timeout_warning, stats.timeout_critical, stats.run_warning,
            stats.run_critical, sup.get_info(), sup.is_active(),
            sorted((str(t.id), t.status) for t in sup.get_tasks()),
            sup.poll_delay, sup.timeout_warning, sup.timeout_critical)



@pytest.fixture
def busy(make_supervisor):
    """A started supervisor holding one live task with the id ``'dup'``."""
    sup = make_supervisor(pool_size=2, reserve_normal=1, reserve_high=1)
    gate = make_supervisor.gate()
    sup.put_task(gate, task_id="dup")
    assert gate.started.wait(WAIT)
    yield sup
    # put_task holds its slot until marked: end it so teardown's stop is instant.
    gate.release()
    task = sup.get_task("dup")
    if task is not None and not task.is_completed():
        sup.mark_task_completed(task=task)


def _set(attr, value):
    return lambda sup: setattr(sup, attr, value)


# (id, action, exception type(s), text that must appear in the message)
BAD_CALLS = [
    ("pool_size<0", lambda s: s.set_thread_pool(pool_size=-1), ValueError, "-1"),
    ("reserve_normal<0", lambda s: s.set_thread_pool(reserve_normal=-2), ValueError, "-2"),
    ("reserve_high<0", lambda s: s.set_thread_pool(reserve_high=-3), ValueError, "-3"),
    ("min_size<0", lambda s: s.set_thread_pool(min_size=-4), ValueError, "-4"),
    ("max_size<0", lambda s: s.set_thread_pool(max_size=-5), ValueError, "-5"),
    ("min>max", lambda s: s.set_thread_pool(min_size=9, max_size=4), ValueError, "9"),
    ("min>derived max", lambda s: s.set_thread_pool(min_size=11), ValueError, "11"),
    ("pool_size float", lambda s: s.set_thread_pool(pool_size=2.5), TypeError, "2.5"),
    ("min_size word", lambda s: s.set_thread_pool(min_size="min"), TypeError, "'min'"),
    ("priority 7", lambda s: s.submit(noop, _priority=7), ValueError, "7"),
    ("priority 'high'", lambda s: s.submit(noop, _priority="high"), ValueError, "'high'"),
    ("put_task priority 7", lambda s: s.put_task(noop, priority=7), ValueError, "7"),
    ("priority True", lambda s: s.put_task(noop, priority=True), ValueError, "True"),
    ("target not callable", lambda s: s.submit(42), TypeError, "42"),
    ("put_task target", lambda s: s.put_task("not callable"), TypeError, "'not callable'"),
    ("callback not callable", lambda s: s.submit(noop, _callback=5), TypeError, "5"),
    ("poll_delay 0", _set("poll_delay", 0), ValueError, "0"),
    ("poll_delay -1", _set("poll_delay", -1), ValueError, "-1"),
    ("delay<0", lambda s: s.submit(noop, _delay=-1), ValueError, "-1"),
    ("put_task delay<0", lambda s: s.put_task(noop, delay=-0.5), ValueError, "-0.5"),
    ("timeout_warning<0", _set("timeout_warning", -1), ValueError, "-1"),
    ("timeout_critical<0", _set("timeout_critical", -2.5), ValueError, "-2.5"),
    ("duplicate live task_id", lambda s: s.put_task(noop, task_id="dup"), ValueError, "'dup'"),
    ("unknown tt", lambda s: s.put_task(noop, tt=9), ValueError, "9"),
    ("args not a sequence", lambda s: s.put_task(noop, args=5), TypeError, "5"),
    ("kwargs not a dict", lambda s: s.put_task(noop, kwargs=[1]), TypeError, "[1]"),
    ("events_since seq<0", lambda s: s.events_since(-1), ValueError, "-1"),
    ("events_since seq type", lambda s: s.events_since("x"), (ValueError, TypeError), "'x'"),
    ("events_since limit 0", lambda s: s.events_since(0, limit=0), ValueError, "0"),
    ("events_since limit<0", lambda s: s.events_since(0, limit=-5), ValueError, "-5"),
    ("stop wait<0", lambda s: s.stop(wait=-1), ValueError, "-1"),
    ("start twice", lambda s: s.start(), RuntimeError, "already"),
    ("start bad loop", lambda s: s.start(loop="loop"), TypeError, "'loop'"),
    ("cancel unknown", lambda s: s.cancel_task("nope"), LookupError, "'nope'"),
    ("mark unknown", lambda s: s.mark_task_completed(task_id="nope"), LookupError, "'nope'"),
    ("mark outside a task", lambda s: s.mark_task_completed(), LookupError, ""),
]


@pytest.mark.parametrize("action, exc_type, needle",
                         [pytest.param(*case[1:], id=case[0]) for case in BAD_CALLS])
def test_bad_input_raises_names_the_value_and_changes_nothing(busy, action, exc_type,
                                                              needle):
    before = state(busy)
    with pytest.raises(exc_type) as info:
        action(busy)
    assert needle in str(info.value), f"message does not name {needle}: {info.value}"
    assert state(busy) == before
    # The supervisor still works normally afterwards.
    assert busy.submit(lambda: "ok").wait(WAIT)


def test_min_size_above_max_size_names_both(busy):
    with pytest.raises(ValueError) as info:
        busy.set_thread_pool(min_size=9, max_size=4)
    assert "9" in str(info.value) and "4" in str(info.value)


@pytest.mark.parametrize("kwargs, exc_type, needle", [
    ({"pool_size": -1}, ValueError, "-1"),
    ({"reserve_normal": -1}, ValueError, "-1"),
    ({"reserve_high": -7}, ValueError, "-7"),
    ({"min_size": -1}, ValueError, "-1"),
    ({"max_size": -3}, ValueError, "-3"),
    ({"min_size": 3, "max_size": 2}, ValueError, "3"),
    ({"poll_delay": 0}, ValueError, "0"),
    ({"poll_delay": -1}, ValueError, "-1"),
    ({"thread_idle_timeout": 0}, ValueError, "0"),
])
def test_bad_constructor_arguments(kwargs, exc_type, needle):
    with pytest.raises(exc_type) as info:
        TaskSupervisor(**kwargs)
    assert needle in str(info.value)


def test_submitting_to_an_inactive_supervisor_changes_nothing(make_supervisor):
    sup = make_supervisor(pool_size=2)
    assert sup.submit(lambda: None).wait(WAIT)
    sup.stop()
    before = state(sup)
    for submit in (lambda: sup.submit(noop), lambda: sup.put_task(noop),
                   lambda: sup.submit(noop, _delay=0.1)):
        with pytest.raises(RuntimeError, match=sup.id):
            submit()
    assert state(sup) == before
    assert sup.stats().thread.submitted == 1


def test_put_task_id_can_be_reused_once_the_task_finished(busy):
    with pytest.raises(ValueError):
        busy.put_task(noop, task_id="dup")
    busy.mark_task_completed(task_id="dup")
    again = busy.put_task(lambda _task_id: busy.mark_task_completed(), task_id="dup")
    assert again.wait(WAIT)
    assert again.id == "dup" and again.tt == TT_THREAD


CPU = os.cpu_count() or 1
sizes = st.one_of(st.none(), st.integers(-2, 6))
resizes = st.lists(
    st.fixed_dictionaries({
        "pool_size": sizes, "reserve_normal": sizes, "reserve_high": sizes,
        "min_size": st.one_of(st.none(), st.integers(-1, 14), st.just("max")),
        "max_size": st.one_of(st.none(), st.integers(-2, -1), st.integers(1, 12)),
    }),
    min_size=1, max_size=6,
)


@settings(max_examples=150, deadline=None)
@given(resizes)
def test_set_thread_pool_accepts_exactly_the_documented_settings(calls):
    # Not started: validation and the reported settings do not need threads.
    sup = TaskSupervisor(pool_size=2, reserve_normal=1, reserve_high=1)
    current = {"pool_size": 2, "reserve_normal": 1, "reserve_high": 1, "min_size": 0,
               "max_size": None}
    for call in calls:
        proposed = {**current, **{k: v for k, v in call.items() if v is not None}}
        pool, rn, rh = proposed["pool_size"], proposed["reserve_normal"], \
            proposed["reserve_high"]
        max_size = proposed["max_size"]
        effective_max = max_size if max_size is not None else (
            pool + rn + rh if pool else CPU * 5)
        min_size = proposed["min_size"]
        valid = (min(pool, rn, rh) >= 0 and (max_size is None or max_size >= 1)
                 and (min_size == "max" or 0 <= min_size <= effective_max))
        before = timeless(sup.stats().thread)
        if valid:
            sup.set_thread_pool(**call)
            current = proposed
            t = sup.stats().thread
            assert (t.pool_size, t.reserve_normal, t.reserve_high) == (pool, rn, rh)
            assert t.max_size == effective_max
            assert t.min_size == (effective_max if min_size == "max" else min_size)
        else:
            with pytest.raises(ValueError):
                sup.set_thread_pool(**call)
            assert timeless(sup.stats().thread) == before, f"refused {call} but changed settings"


def test_engine_never_imports_qt():
    code = ("import engine, sys; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'qasync', "
            "'pyqtgraph'))]; "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
