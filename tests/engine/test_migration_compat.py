"""``engine.compat``: the original library's return conventions, on the same
supervisor as ``engine``, without changing what plain ``engine`` does."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest
from engine_testkit import WAIT, StartLog, wait_until

import engine
import engine.compat as compat
from engine import TASK_STATUS_CANCELED, TASK_STATUS_FAILED, TT_MP, TT_THREAD


@pytest.fixture
def face(sup):
    """The compat face of the started test supervisor."""
    return compat.TaskSupervisor.wrap(sup)


# -- one supervisor, two faces -----------------------------------------------------------------
def test_the_default_face_is_the_default_supervisor(default_supervisor) -> None:
    ts = compat.task_supervisor
    assert ts.engine_supervisor is engine.task_supervisor is default_supervisor
    before = default_supervisor.stats().thread.submitted
    gate = threading.Event()
    task = ts.put_task(lambda _task_id: (gate.wait(WAIT),
                                         ts.mark_task_completed(task_id=_task_id)))
    assert default_supervisor.get_task(task.id) is task  # one table of tasks
    assert default_supervisor.stats().thread.submitted == before + 1  # one pool
    gate.set()
    assert task.wait(WAIT)
    ts.poll_delay = 0.05  # an attribute of the engine's is written to the engine
    assert default_supervisor.poll_delay == 0.05
    ts.poll_delay = 0.1
    t = compat.background_task(threading.current_thread)()
    assert compat.wait_completed(t, WAIT).name.startswith("supervisor_default_pool_")


def test_plain_engine_keeps_its_errors_while_compat_answers_none() -> None:
    assert not engine.task_supervisor.is_active()
    assert compat.task_supervisor.put_task(print) is None
    assert compat.background_task(print)() is None
    with pytest.raises(RuntimeError, match="not active"):  # no switch was flipped
        engine.task_supervisor.put_task(print)
    with pytest.raises(RuntimeError, match="not active"):
        engine.background_task(print)()


# -- the supervisor ----------------------------------------------------------------------------
def test_submitting_to_a_supervisor_that_is_not_active_gives_none(make_supervisor) -> None:
    sup = make_supervisor(start=False)
    face = compat.TaskSupervisor.wrap(sup)
    assert face.put_task(print) is None
    assert face.submit(print) is None
    assert face.submit_many(print, [(1,)]) is None
    assert compat.background_task(print, supervisor=face)() is None
    assert compat.background_task(print, supervisor=sup, priority=engine.TASK_HIGH)() is None
    assert face.register_scheduler(object()) is False
    assert asyncio.run(compat.co_mp_apply(print, supervisor=face)) is None
    sup.start()
    assert face.put_task(None) is None  # the library's: no target, no task
    task = face.submit(lambda: 5)
    assert compat.wait_completed(task, WAIT) == 5
    sup.stop()
    assert face.submit(print) is None and face.put_task(print) is None


def test_bad_input_is_still_refused(face) -> None:
    with pytest.raises(ValueError, match="priority"):
        face.put_task(print, priority=7)
    with pytest.raises(ValueError, match="aloop name"):
        face.create_aloop("")
    with pytest.raises(TypeError, match="name"):
        face.get_aloop(5)
    with pytest.raises(TypeError, match="name"):
        face.start_aloop(None)
    with pytest.raises(TypeError, match="async_job_schedulers"):
        face.get_info(async_job_schedulers="yes")
    with pytest.raises(ValueError, match="tt must be"):
        face.get_info(tt=9)
    with pytest.raises(TypeError, match="supervisor"):
        compat.background_task(print, supervisor="default")
    with pytest.raises(TypeError, match="supervisor"):
        compat.BackgroundWorker("w", print, supervisor=object())
    with pytest.raises(TypeError, match="engine TaskSupervisor"):
        compat.TaskSupervisor.wrap(face)


def test_completing_and_looking_tasks_up(face, sup) -> None:
    gate = threading.Event()
    task = face.put_task(lambda _task_id: gate.wait(WAIT))
    assert wait_until(task.is_started)
    assert face.get_task(task.id) is task
    assert face.get_tasks() == {task.id: task} and face.get_tasks(TT_MP) == {}
    gate.set()
    assert face.mark_task_completed(task) is True
    assert face.mark_task_completed(task) is True  # already done: nothing to do, as there
    assert face.get_task(task.id) is None  # finished: forgotten, as in the library
    assert sup.get_task(task.id) is not None  # the engine's history still has it
    with pytest.raises(LookupError):
        face.mark_task_completed(task_id="no-such-task")


def test_wait_completed_gives_none_for_failed_and_canceled_tasks(face, sup) -> None:
    def fail():
        raise ValueError("boom")

    failed = compat.background_task(fail, supervisor=face)()
    ok = compat.background_task(lambda: 3, supervisor=face)()
    later = face.submit(print, _delay=60)
    sup.cancel_task(later.id)
    assert compat.wait_completed([failed, ok, later], WAIT) == [None, 3, None]
    assert failed.status == TASK_STATUS_FAILED and later.status == TASK_STATUS_CANCELED
    with pytest.raises(ValueError):  # the engine's own keeps re-raising
        engine.wait_completed(failed)
    gate = threading.Event()
    slow = face.submit(gate.wait, WAIT)
    with pytest.raises(TimeoutError):
        compat.wait_completed([ok, slow], timeout=0.05)
    gate.set()
    with pytest.raises(TypeError, match="Task"):
        compat.wait_completed([None])


def test_aloops_the_librarys_way(face, sup, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="engine.compat")
    assert face.get_aloop("nope") is None
    assert face.get_aloop() is None and face.get_aloop(default=False) is None
    a = face.create_aloop("a", True)  # the library's order: daemon second
    assert a.daemon and a.is_active() and face.get_aloop() is None
    assert face.create_aloop("a") is False
    assert "aloop a already exists" in caplog.text
    assert face.start_aloop("a") is True  # running already: nothing to do
    assert face.start_aloop("zz") is False and face.stop_aloop("zz") is False
    assert "loop zz not found" in caplog.text
    b = face.create_aloop("b", start=False, default=True)
    assert face.get_aloop() is b and not b.is_active()
    assert face.start_aloop("b") is True and b.is_active()
    assert face.stop_aloop("b") is True and not b.is_active()
    assert face.get_aloop("a") is a is sup.get_aloop("a")


def test_schedulers_the_librarys_way(face, sup, caplog) -> None:
    class Sync:
        def stop(self, wait=True):
            pass

    s = Sync()
    assert face.register_sync_scheduler(s) is True
    assert s in face.get_schedulers()
    assert face.unregister_sync_scheduler(s) is True
    assert face.unregister_sync_scheduler(s) is False
    assert face.unregister_scheduler(s) is False

    class Async:
        def __init__(self):
            self.stopped = None

        async def loop(self):
            self.stopped = asyncio.Event()
            await self.stopped.wait()

        def stop(self, wait=True):
            pass

    a = Async()
    assert face.register_scheduler(a) is True
    assert a in face.get_schedulers() and a in face.get_info().schedulers
    assert face.unregister_scheduler(a) is True
    caplog.set_level(logging.WARNING, logger="engine.compat")
    scheduler = face.create_async_job_scheduler("jobs")
    assert face.create_async_job_scheduler("jobs") is False
    assert "async job scheduler jobs already exists" in caplog.text
    assert face.cancel_async_job(job=None) is None
    assert "job not specified" in caplog.text
    scheduler.stop()
    again = face.create_async_job_scheduler("jobs")  # a stopped one's name may be reused
    assert again is not scheduler and again.is_active()
    again.stop()


def test_get_info_has_the_librarys_shape(face, sup) -> None:
    gate = threading.Event()
    running = face.submit(gate.wait, WAIT)
    assert wait_until(running.is_started)
    aloop = face.create_aloop("x")
    jobs = face.create_async_job_scheduler("j", aloop="x")
    info = face.get_info()
    assert info.id == sup.id and info.active and info.started
    assert (info.thread_pool_size, info.thread_reserve_normal, info.thread_reserve_high) == (
        2, 1, 1)
    assert info.thread_tasks == [running.id] and info.thread_tasks_count == 1
    assert info.mp_tasks == [] and info.mp_tasks_count == 0
    assert not hasattr(info, "mp_pool_size")  # no process pool: not set, as there
    assert info.aloops == {"x": aloop} and info.async_job_schedulers == {"j": jobs}
    assert jobs in info.schedulers and info.tasks == {running.id: running}
    counts = face.get_info(tt=False, aloops=False, schedulers=False,
                           async_job_schedulers=False)
    assert counts.thread_tasks_count == 1 and counts.mp_tasks_count == 0
    for absent in ("thread_tasks", "mp_tasks", "tasks", "aloops", "schedulers",
                   "async_job_schedulers"):
        assert not hasattr(counts, absent), absent
    threads = face.get_info(tt=TT_THREAD)
    assert threads.tasks == {running.id: running} and not hasattr(threads, "mp_tasks_count")
    only_mp = face.get_info(tt=TT_MP)
    assert only_mp.tasks == {} and not hasattr(only_mp, "thread_tasks")
    gate.set()
    jobs.stop()


# -- workers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("options", [{}, {"interval": 0.01}, {"q": True}, {"e": True}])
def test_a_workers_start_says_whether_it_started(face, options) -> None:
    calls = StartLog()

    def run(*args, **kwargs):
        calls.record(args)

    worker = compat.background_worker(run, supervisor=face, **(options or {"delay": 0.01}))
    assert isinstance(worker, compat.BackgroundWorker) and isinstance(worker,
                                                                      engine.BackgroundWorker)
    assert worker.start() is True
    assert worker.start() is False  # running already: the library's False
    if options.get("q"):
        worker.put_threadsafe("item")
    if options.get("e"):
        worker.trigger_threadsafe()
    assert calls.wait_for_count(1)
    worker.stop()
    assert worker.start() is True  # stopped: it starts again
    worker.stop()


def test_worker_classes_and_the_async_kind(face, sup) -> None:
    calls = StartLog()

    class MyWorker(compat.BackgroundIntervalWorker):
        def run(self, **kwargs):
            calls.record(kwargs["_name"])

    worker = MyWorker(interval=0.01, name="worker5", supervisor=face)
    assert worker.kind == "interval" and worker.start() is True
    assert calls.wait_for_count(1) and calls.order[0] == "worker5"
    worker.stop()
    sup.create_aloop("w", default=True)

    @compat.background_worker(supervisor=face)
    async def async_worker(**kwargs):
        calls.record("async")
        return False

    assert type(async_worker) is compat.BackgroundAsyncWorker
    assert async_worker.start() is True
    assert calls.wait_for_count(2)
    errors = StartLog()
    failing = compat.background_worker(lambda **kw: 1 / 0, interval=0.01, supervisor=face,
                                       on_error=lambda **kw: errors.record(kw),
                                       on_error_kwargs={"who": "f"})
    failing.start()
    assert errors.wait_for_count(1) and errors.order[0] == {"who": "f"}
    failing.stop()
    with pytest.raises(TypeError, match="on_error_kwargs"):
        compat.background_worker(print, on_error=print, on_error_kwargs=[1])


# -- custom supervisors and collections --------------------------------------------------------
def test_a_custom_supervisor_and_its_subclass() -> None:
    class MyTaskSupervisor(compat.TaskSupervisor):
        def __init__(self):
            self.greeting = "mine"  # before the engine supervisor exists: the subclass's
            super().__init__(pool_size=3, reserve_normal=1, reserve_high=1)
            self.note = "also mine"

    mine = MyTaskSupervisor()
    try:
        sup = mine.engine_supervisor
        assert isinstance(sup, engine.TaskSupervisor)
        assert mine.greeting == "mine" and mine.note == "also mine"
        assert not hasattr(sup, "note")
        assert mine.put_task(print) is None
        mine.start()
        assert compat.wait_completed(mine.submit(lambda: 4), WAIT) == 4
        assert sup.get_info().thread_pool_size == 3
    finally:
        mine.stop()


def test_a_task_collection_on_a_face(face, sup) -> None:
    collection = compat.TaskCollection(supervisor=face)
    assert collection.supervisor is sup

    @collection
    def one():
        return threading.current_thread().name

    result, all_ok = collection.execute()
    assert all_ok and result[f"{__name__}.one"].startswith(f"supervisor_{sup.id}_pool_")
    assert compat.TaskCollection().supervisor is engine.task_supervisor


def test_the_modules_names_cover_the_librarys() -> None:
    library_names = {  # atasker/__init__.py's public names
        "TaskSupervisor", "TASK_LOW", "TASK_NORMAL", "TASK_HIGH", "TASK_CRITICAL", "TT_THREAD",
        "TT_MP", "TT_COROUTINE", "task_supervisor", "background_worker", "BackgroundWorker",
        "BackgroundIntervalWorker", "BackgroundQueueWorker", "BackgroundEventWorker",
        "FunctionCollection", "TaskCollection", "LocalProxy", "Locker", "background_task",
        "wait_completed", "co_mp_apply", "g", "set_debug"}
    assert library_names <= set(compat.__all__)
    for name in compat.__all__:
        assert getattr(compat, name) is not None, name
    assert compat.Locker is engine.Locker and compat.g is engine.g


def test_the_migration_guide_documents_every_compat_name() -> None:
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "migration.md").read_text()
    section = guide.split("## Keeping the library's return conventions: `engine.compat`")[1]
    constants = {n for n in compat.__all__ if n.startswith(("TASK_", "TT_"))}
    missing = [n for n in compat.__all__ if n not in constants and f"`{n}" not in section
               and f" {n}`" not in section and f"{n}(" not in section]
    assert missing == []
    methods = [m for m in vars(compat.TaskSupervisor) if not m.startswith("_")
               and callable(getattr(compat.TaskSupervisor, m))]
    assert [m for m in methods if f".{m}(" not in section] == []
