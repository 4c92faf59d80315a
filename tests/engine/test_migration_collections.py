"""FunctionCollection and TaskCollection, as the original library documented
them (``doc/collections.rst``, its ``tests/test.py``), with only the import
changed; and the edges: priorities, errors, containment, bad arguments."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest
from engine_testkit import WAIT

from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, FunctionCollection, TaskCollection

MOD = __name__


def test_documented_function_collection_example() -> None:
    """doc/collections.rst, verbatim but for the import."""
    errors = []

    def error(**kwargs):
        import traceback
        errors.append(traceback.format_exc())

    startup = FunctionCollection(on_error=error)

    @startup
    def f1():
        return 1

    @startup(priority=TASK_HIGH)
    def f2():
        return 2

    @startup(priority=TASK_LOW)
    def f3():
        return 3

    result, all_ok = startup.execute()
    assert result == {f"{MOD}.f1": 1, f"{MOD}.f2": 2, f"{MOD}.f3": 3}
    assert list(result) == [f"{MOD}.f2", f"{MOD}.f1", f"{MOD}.f3"]  # priority order
    assert all_ok and errors == []
    assert f2() == 2  # the decorator returns the function (the library's returned None)


def test_library_tests_function_and_task_collection(sup) -> None:
    """The library's test_function_collection / test_task_collection."""
    result = SimpleNamespace(function_collection=0, task_collection=0)
    f = FunctionCollection()

    @f
    def f1():
        result.function_collection += 1

    @f
    def f2():
        result.function_collection += 2

    f.run()
    assert result.function_collection == 3

    lock = threading.Lock()
    t = TaskCollection(supervisor=sup)

    @t
    def t1():
        with lock:
            result.task_collection += 1

    @t
    def t2():
        with lock:
            result.task_collection += 2

    t.run()
    assert result.task_collection == 3


def test_calling_a_collection_runs_it() -> None:
    c = FunctionCollection()
    c.append(lambda: 5)
    assert list(c().values()) == [5]


def test_priority_zero_is_critical_not_default() -> None:
    order = []
    c = FunctionCollection()
    c.append(lambda: order.append("normal"))
    c.append(lambda: order.append("critical"), priority=TASK_CRITICAL)
    c.append(lambda: order.append("ten"), priority=10)
    c.run()
    assert order == ["critical", "ten", "normal"]


def test_append_twice_and_remove() -> None:
    c = FunctionCollection()

    def f():
        return 1

    c.append(f)
    c.append(f, priority=TASK_HIGH)  # already there: kept once, as it was
    assert c.functions == [f]
    c.remove(f)
    assert c.run() == {}
    with pytest.raises(ValueError, match="not in the collection"):
        c.remove(f)
    called = []
    d = FunctionCollection(on_error=lambda **kw: called.append(kw), on_error_kwargs={"a": 1})
    d.remove(f)  # with on_error, the library's error() calls it instead of raising
    assert called == [{"a": 1}]


def test_errors_without_on_error_are_raised_at_once() -> None:
    ran = []
    c = FunctionCollection()
    c.append(lambda: 1 / 0, priority=TASK_HIGH)
    c.append(lambda: ran.append(1))
    with pytest.raises(ZeroDivisionError):
        c.execute()
    assert ran == []


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit, ValueError])
def test_errors_with_on_error_are_contained(exc: type) -> None:
    calls = []

    def bad():
        raise exc("x")

    def on_error(**kwargs):
        calls.append(kwargs)
        raise SystemExit("on_error itself fails")  # contained too

    c = FunctionCollection(on_error=on_error, on_error_kwargs={"k": 1}, include_exceptions=True)
    c.append(bad)
    c.append(lambda: 2)
    if exc is KeyboardInterrupt:  # on the main thread: Ctrl+C still reaches the caller
        with pytest.raises(KeyboardInterrupt):
            c.execute()
        return
    result, all_ok = c.execute()
    assert not all_ok and calls == [{"k": 1}]
    error, text = result[f"{MOD}.bad"]
    assert isinstance(error, exc) and "bad" in text
    assert list(result.values())[1] == 2


def test_task_collection_runs_in_pool_threads_with_priorities(sup) -> None:
    threads = []
    c = TaskCollection(supervisor=sup)

    @c(priority=TASK_CRITICAL)
    def critical():
        threads.append(threading.current_thread().name)
        return "c"

    @c
    def normal():
        threads.append(threading.current_thread().name)
        return "n"

    result, all_ok = c.execute()
    assert all_ok and result == {f"{MOD}.critical": "c", f"{MOD}.normal": "n"}
    assert all(name.startswith(f"supervisor_{sup.id}_pool_") for name in threads)
    names = {e.name for e in sup.events_since(0) if e.kind == "completed"}
    assert {f"{MOD}.critical", f"{MOD}.normal"} <= names
    priorities = {e.name: e.priority for e in sup.events_since(0) if e.kind == "started"}
    assert priorities[f"{MOD}.critical"] == TASK_CRITICAL


@pytest.mark.parametrize("exc", [SystemExit, KeyboardInterrupt, GeneratorExit, ValueError])
def test_task_collection_contains_user_exceptions(sup, exc: type) -> None:
    calls = []
    c = TaskCollection(supervisor=sup, on_error=lambda: calls.append(1),
                       include_exceptions=True)

    @c
    def bad():
        raise exc("in a pool thread")

    @c
    def good():
        return 1

    result, all_ok = c.execute()
    assert not all_ok and calls == [1]
    assert isinstance(result[f"{MOD}.bad"][0], exc) and result[f"{MOD}.good"] == 1
    # without on_error: every task ends, then the first exception is raised here
    d = TaskCollection(supervisor=sup)
    d.append(bad)
    d.append(good)
    with pytest.raises(exc):
        d.execute()
    assert sup.stats().thread.failed == 0  # contained in the task: the pool saw no failure
    assert sup.submit(lambda: 7).wait(WAIT)


def test_bad_arguments() -> None:
    with pytest.raises(TypeError, match="on_error"):
        FunctionCollection(on_error=5)
    with pytest.raises(TypeError, match="on_error_kwargs"):
        FunctionCollection(on_error_kwargs=[1])
    with pytest.raises(TypeError, match="include_exceptions"):
        FunctionCollection(include_exceptions="yes")
    with pytest.raises(TypeError):
        FunctionCollection(unknown=1)
    c = FunctionCollection()
    for bad in (float("nan"), float("inf"), "high", None, True):
        with pytest.raises(TypeError, match="priority"):
            c(priority=bad)
    with pytest.raises(TypeError, match="f must be callable"):
        c.append(3)
    with pytest.raises(TypeError, match="unknown"):
        c(prio=1)
    assert c.functions == []
    t = TaskCollection()
    for bad in (10, -1, 10**100, "x"):
        with pytest.raises(ValueError, match="TASK_|LOW|priority"):
            t.append(lambda: 1, priority=bad)
    with pytest.raises(ValueError, match="poll_delay"):
        TaskCollection(poll_delay=-1)
    with pytest.raises(TypeError, match="supervisor"):
        TaskCollection(supervisor="default")
    assert t.functions == []


def test_task_collection_on_an_inactive_supervisor(make_supervisor) -> None:
    sup = make_supervisor(start=False)
    c = TaskCollection(supervisor=sup)
    c.append(lambda: 1)
    with pytest.raises(RuntimeError, match="not active"):
        c.execute()


def test_on_error_runs_while_the_exception_is_handled(sup) -> None:
    """The library called ``on_error`` inside its ``except``: ``sys.exc_info()``
    (and ``traceback.print_exc()``, as its documentation's example does) see
    the function's exception, in a function collection and in a task collection."""
    import sys

    from engine import FunctionCollection, TaskCollection

    seen = []

    def error(**kwargs):
        seen.append(sys.exc_info()[1])

    for collection in (FunctionCollection(on_error=error),
                       TaskCollection(on_error=error, supervisor=sup)):
        @collection
        def fails():
            raise ValueError("seen")

        _, all_ok = collection.execute()
        assert not all_ok
    assert [type(e) for e in seen] == [ValueError, ValueError]
    assert all(str(e) == "seen" for e in seen)
