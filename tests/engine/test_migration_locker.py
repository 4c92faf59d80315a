"""Locker and the thread-local ``g``, as the original library documented them
(``doc/locker.rst``, ``doc/localproxy.rst``, its ``tests/test.py``) with only
the import changed; and the edges."""

from __future__ import annotations

import logging
import math
import threading
from types import SimpleNamespace

import pytest
from engine_testkit import WAIT

from engine import LocalProxy, Locker, background_task, g, wait_completed


def test_library_test_g(default_supervisor) -> None:
    """The library's test_g: a task in another thread does not see this one's g."""
    result = SimpleNamespace(g=None)

    @background_task
    def f():
        result.g = g.get("test", 222)
        g.set("ttt", 333)

    g.set("test", 1)
    g.clear("test")
    g.set("test_is", g.has("test"))
    assert g.get("test_is") is False
    g.set("test", 999)
    wait_completed(f())
    assert g.get("ttt") is None
    assert result.g == 222
    g.clear("test")
    g.clear("test_is")


def test_documented_g_example() -> None:
    """doc/localproxy.rst."""
    opened = []
    if not g.has("db"):
        g.set("db", "<new_db_connection>")
        opened.append(1)
    if not g.has("db"):
        opened.append(2)
    assert opened == [1] and g.db == "<new_db_connection>"
    assert g.clear("db") is None and g.clear("db") is True  # the library's returns


def test_g_is_per_thread() -> None:
    local = LocalProxy()
    local.set("x", "main")
    seen = []
    t = threading.Thread(target=lambda: (seen.append(local.get("x", "unset")),
                                         local.set("x", "other")))
    t.start()
    t.join(WAIT)
    assert seen == ["unset"] and local.get("x") == "main"


def test_g_refuses_bad_names() -> None:
    local = LocalProxy()
    for name in ("get", "set", "has", "clear", "__class__"):
        with pytest.raises(ValueError, match="reserved"):
            local.set(name, 1)
    for bad in (1, None, b"x"):
        with pytest.raises(TypeError, match="attr"):
            local.get(bad)
    assert local.get("anything", 5) == 5  # the methods still work


def test_library_test_locker(caplog: pytest.LogCaptureFixture) -> None:
    """The library's test_locker: a broken lock calls critical(), the function
    does not run and the call returns None."""
    result = SimpleNamespace(locker_failed=False, locker_success=False)
    with_lock = Locker(mod="test (broken is fine!)", relative=False, timeout=0.05)

    @with_lock
    def test_locker():
        result.locker_failed = True

    def locker_ok():
        result.locker_success = True

    with_lock.critical = locker_ok
    with_lock.lock.acquire()
    with caplog.at_level(logging.CRITICAL, logger="engine.locker"):
        assert test_locker() is None
    assert result.locker_success and not result.locker_failed
    assert "test (broken is fine!)/test_locker locking broken" in caplog.text
    with pytest.raises(TimeoutError, match="test \\(broken"):
        with with_lock:
            pass
    with_lock.lock.release()
    assert test_locker() is None and result.locker_failed  # free again: it runs


def test_documented_locker_example() -> None:
    """doc/locker.rst: decorator and ``with`` on one re-entrant lock."""
    criticals = []
    lock1 = Locker(mod="main", timeout=5)
    lock1.critical = lambda: criticals.append(1)
    inside = []

    @lock1
    def test():
        with lock1:  # re-entrant (relative=True, the default)
            inside.append(threading.current_thread().name)
            return "ok"

    assert test() == "ok" and inside and criticals == []
    assert test.__name__ == "test"


def test_locker_excludes_other_threads() -> None:
    lock = Locker(timeout=WAIT)
    holding, release, entered = threading.Event(), threading.Event(), threading.Event()

    def holder():
        with lock:
            holding.set()
            release.wait(WAIT)

    t = threading.Thread(target=holder)
    t.start()
    assert holding.wait(WAIT)
    t2 = threading.Thread(target=lambda: (lock.__enter__(), entered.set(), lock.__exit__()))
    t2.start()
    assert not entered.wait(0.05)  # held elsewhere: waits
    release.set()
    assert entered.wait(WAIT)
    t.join(WAIT)
    t2.join(WAIT)


@pytest.mark.parametrize("exc", [SystemExit, GeneratorExit, ValueError])
def test_critical_that_raises_is_contained(exc: type) -> None:
    lock = Locker(relative=False, timeout=0)

    def critical():
        raise exc("from critical")

    lock.critical = critical
    lock.lock.acquire()
    try:
        assert lock(lambda: 1)() is None
        with pytest.raises(TimeoutError):
            with lock:
                pass
    finally:
        lock.lock.release()


def test_critical_keyboard_interrupt_reaches_the_main_thread() -> None:
    lock = Locker(relative=False, timeout=0)

    def critical():
        raise KeyboardInterrupt

    lock.critical = critical
    lock.lock.acquire()
    try:
        with pytest.raises(KeyboardInterrupt):
            lock(lambda: 1)()
    finally:
        lock.lock.release()


def test_locker_bad_arguments() -> None:
    for kwargs, error in ((dict(timeout=-1), ValueError), (dict(timeout=math.nan), ValueError),
                          (dict(timeout=math.inf), ValueError), (dict(timeout="5"), TypeError),
                          (dict(timeout=10**400), ValueError), (dict(relative=1), TypeError),
                          (dict(mod=None), TypeError)):
        with pytest.raises(error):
            Locker(**kwargs)
    lock = Locker()
    with pytest.raises(TypeError, match="callable"):
        lock(5)

    async def coro():
        pass

    with pytest.raises(TypeError, match="coroutine"):
        lock(coro)
