"""The original library's usage examples, from its documentation pages, run
with only the import changed (``from atasker import ...`` → ``from engine
import ...``, or ``engine.compat`` where an example relies on a ``None``
result), asserting what the page says they do.

Each test names the page it comes from (atasker's documentation: the README
"Code examples", "Task supervisor", "Tasks", "Workers", "Async jobs", "Task
collections", "Locker helper/decorator", "Thread local proxy",
"Debugging"). The examples' ``print`` calls are kept, or turned into
``said(...)`` where the test needs to wait for them. Where a page needs one
of the documented differences (``docs/migration.md``), the test makes that
one change and says so in a comment.

Examples that use the default supervisor run on ``engine.task_supervisor``
itself (the ``library_default`` fixture stops it and puts its settings back).
Those that create aloops or a process pool on it run as scripts in a fresh
interpreter, as a user's program would (aloops stay with a supervisor, and a
process pool needs the script's ``if __name__ == "__main__":`` guard).
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from engine_testkit import WAIT, StartLog, wait_until

import engine

SCRIPT_TIMEOUT = 45.0  # under the suite's 60 s per test


@pytest.fixture
def library_default():
    """``engine.task_supervisor`` not started (the examples start it), then stopped
    with its pool settings, poll delay and timeouts put back."""
    sup = engine.task_supervisor
    assert not sup.is_active()
    info = sup.get_info(tt=False)
    pool = dict(pool_size=info.thread_pool_size, reserve_normal=info.thread_reserve_normal,
                reserve_high=info.thread_reserve_high, min_size=info.thread_min_size)
    timeouts = dict(poll_delay=sup.poll_delay, timeout_warning=sup.timeout_warning,
                    timeout_critical=sup.timeout_critical,
                    timeout_warning_func=sup.timeout_warning_func,
                    timeout_critical_func=sup.timeout_critical_func)
    yield sup
    if sup.is_active():
        sup.stop(wait=2, cancel_tasks=True)
    sup.set_thread_pool(**pool)
    sup.set_timeouts(**timeouts)


@pytest.fixture
def started(library_default):
    """The default supervisor, started ("Task supervisor must be started before
    any scheduler/worker or task", the "Task supervisor" page)."""
    library_default.start()
    return library_default


@pytest.fixture
def said():
    """Stands for the examples' ``print``: records what they say, to wait on."""
    return _Said()


class _Said:
    def __init__(self):
        # Guards _counts and _times: how often each text was said, and when
        # (the first ten times; a worker may say the same thing thousands of times).
        self._cond = threading.Condition()
        self._counts: dict = {}
        self._times: dict = {}

    def __call__(self, text):
        with self._cond:
            self._counts[text] = self._counts.get(text, 0) + 1
            times = self._times.setdefault(text, [])
            if len(times) < 10:
                times.append(time.monotonic())
            self._cond.notify_all()

    def count(self, text):
        with self._cond:
            return self._counts.get(text, 0)

    def times(self, text):
        with self._cond:
            return list(self._times.get(text, ()))

    def wait_for(self, text, n=1):
        """Until ``text`` has been said ``n`` times (``False`` after ``WAIT`` s)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._counts.get(text, 0) >= n, WAIT)


def run_script(tmp_path, source: str) -> str:
    """Run ``source`` as a program of its own; its output (it must exit 0)."""
    script = tmp_path / "example.py"
    script.write_text(textwrap.dedent(source))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                          timeout=SCRIPT_TIMEOUT, cwd=tmp_path)
    assert done.returncode == 0, (done.stdout, done.stderr[-4000:])
    return done.stdout


# -- README, "Code examples" -------------------------------------------------------------------
def test_readme_start_stop(library_default) -> None:
    from engine import task_supervisor

    # set pool size
    task_supervisor.set_thread_pool(pool_size=20, reserve_normal=5, reserve_high=5)
    task_supervisor.start()
    # ...
    # start workers, other threads etc.
    # ...
    asked = threading.Event()

    def stop_from_another_thread():
        asked.set()
        # stop from any thread
        task_supervisor.stop()

    threading.Thread(target=stop_from_another_thread).start()
    # optionally block current thread
    task_supervisor.block()
    assert asked.is_set() and not task_supervisor.is_active()  # block() lasted until stop()
    info = task_supervisor.get_info()
    assert (info.thread_pool_size, info.thread_reserve_normal, info.thread_reserve_high) == (
        20, 5, 5)


def test_readme_background_task(started, capsys) -> None:
    from engine import TASK_HIGH, background_task, wait_completed

    # with annotation
    @background_task
    def mytask():
        print('I am working in the background!')
        return 777

    task = mytask()

    # optional
    result = wait_completed(task)

    print(task.result)  # 777
    print(result)  # 777

    # with manual decoration
    def mytask2():
        print('I am working in the background too!')

    task = background_task(mytask2, priority=TASK_HIGH)()
    wait_completed(task, timeout=WAIT)
    assert task.priority == TASK_HIGH and task.status == engine.TASK_STATUS_COMPLETED
    out = capsys.readouterr().out.splitlines()
    assert out == ['I am working in the background!', '777', '777',
                   'I am working in the background too!']


def test_readme_async_tasks(tmp_path) -> None:
    out = run_script(tmp_path, """
        import asyncio
        from engine import task_supervisor, background_task, wait_completed

        task_supervisor.start()

        # new asyncio loop is automatically created in own thread
        a1 = task_supervisor.create_aloop('myaloop', default=True)

        async def calc(a):
            print(a)
            await asyncio.sleep(1)
            print(a * 2)
            return a * 3

        # call from sync code

        # put coroutine
        task = background_task(calc)(1)

        assert wait_completed(task) == 3

        # run coroutine and wait for result
        result = a1.run(calc(1))
        assert result == 3
        task_supervisor.stop()
        print("EXAMPLE OK")
        """)
    assert out.splitlines() == ["1", "2", "1", "2", "EXAMPLE OK"]


def test_readme_worker_examples(started, said) -> None:
    from engine import TASK_HIGH, background_worker

    @background_worker
    def worker1(**kwargs):
        said('I am a simple background worker')

    @background_worker
    async def worker_async(**kwargs):
        said('I am async background worker')

    @background_worker(interval=1)
    def worker2(**kwargs):
        said('I run every second!')

    @background_worker(queue=True)
    def worker3(task, **kwargs):
        said('I run when there is a task in my queue')
        said(task)

    @background_worker(event=True, priority=TASK_HIGH)
    def worker4(**kwargs):
        said('I run when triggered with high priority')
        said(engine.task_supervisor.get_task(kwargs['_task_id']).priority)

    worker1.start()
    worker_async.start()
    worker2.start()
    worker3.start()
    worker4.start()

    worker3.put_threadsafe('todo1')
    worker4.trigger_threadsafe()

    from engine import BackgroundIntervalWorker

    class MyWorker(BackgroundIntervalWorker):

        def run(self, **kwargs):
            said('I am custom worker class')

    worker5 = MyWorker(interval=0.1, name='worker5')
    worker5.start()

    assert said.wait_for('I am a simple background worker', 3)  # over and over
    assert said.wait_for('I am async background worker', 3)
    assert said.wait_for('I am custom worker class', 3)
    assert said.wait_for('todo1') and said.wait_for(TASK_HIGH)
    assert said.wait_for('I run every second!')  # at once, then a second later
    for worker in (worker1, worker_async, worker2, worker3, worker4, worker5):
        worker.stop()
    assert said.count('I run when triggered with high priority') == 1
    assert said.count('I run when there is a task in my queue') == 1
    assert said.count('I run every second!') <= 2


# -- "Task supervisor" -------------------------------------------------------------------------
def test_supervisor_usage_and_priorities(library_default) -> None:
    from engine import TASK_HIGH, background_task, task_supervisor

    # thread pool
    task_supervisor.set_thread_pool(
        pool_size=20, reserve_normal=5, reserve_high=5)
    task_supervisor.start()

    ran = threading.Event()

    def test():
        ran.set()

    task = background_task(test, name='test', priority=TASK_HIGH)()
    assert ran.wait(WAIT) and task.wait(WAIT)
    assert task.name == 'test' and task.priority == TASK_HIGH


def test_supervisor_pool_size_and_reserves(library_default) -> None:
    """"pool_size=20, reserve_normal=5 ... For TASK_HIGH pool size can be extended
    up to 20 + 5 + 5 = 30. Tasks with priority TASK_CRITICAL are always started
    instantly"."""
    from engine import TASK_CRITICAL, TASK_HIGH, TASK_LOW, TASK_NORMAL, task_supervisor

    task_supervisor.set_thread_pool(pool_size=20, reserve_normal=5, reserve_high=5)
    task_supervisor.start()
    gate = threading.Event()

    def hold():
        gate.wait(WAIT * 4)

    def put(priority, n):
        return [task_supervisor.submit(hold, _priority=priority) for _ in range(n)]

    try:
        low = put(TASK_LOW, 21)
        assert wait_until(lambda: sum(t.is_started() for t in low) == 20)
        normal = put(TASK_NORMAL, 6)
        assert wait_until(lambda: sum(t.is_started() for t in normal) == 5)
        high = put(TASK_HIGH, 6)
        assert wait_until(lambda: sum(t.is_started() for t in high) == 5)
        critical = put(TASK_CRITICAL, 2)
        assert wait_until(lambda: all(t.is_started() for t in critical))
        running = task_supervisor.stats().thread.running
        assert running == {TASK_LOW: 20, TASK_NORMAL: 5, TASK_HIGH: 5, TASK_CRITICAL: 2}
        assert not low[-1].is_started() and not normal[-1].is_started()
        assert not high[-1].is_started()
    finally:
        gate.set()


def test_supervisor_poll_delay(started) -> None:
    from engine import task_supervisor

    task_supervisor.poll_delay = 0.01  # set poll delay to 10ms
    assert task_supervisor.poll_delay == 0.01 and task_supervisor.stats().poll_delay == 0.01


def test_supervisor_timeouts(started) -> None:
    from engine import task_supervisor

    task_supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    warned, alarmed = [], threading.Event()

    def warning(t):
        # t = task thread object
        print('Task thread {} is not launched yet'.format(t))  # noqa: UP032 - the page's
        warned.append(t)

    def critical(t):
        print('All is worse than expected')
        alarmed.set()

    # The page's 5 and 10 seconds, shortened; its "= warn" names the function above.
    task_supervisor.timeout_warning = 0.1
    task_supervisor.timeout_warning_func = warning
    task_supervisor.timeout_critical = 0.3
    task_supervisor.timeout_critical_func = critical

    gate = threading.Event()
    task_supervisor.submit(gate.wait, WAIT)  # holds the one slot
    waiting = task_supervisor.submit(print)
    try:
        assert alarmed.wait(WAIT)  # while it still waits, not only when it starts
        assert warned == [waiting] and not waiting.is_started()
    finally:
        gate.set()
    assert waiting.wait(WAIT)


def test_supervisor_stopping_waits_for_running_tasks(started) -> None:
    from engine import task_supervisor

    release, done = threading.Event(), threading.Event()

    def running_task():
        release.wait(WAIT)
        done.set()

    task = task_supervisor.submit(running_task)
    assert wait_until(task.is_started)
    stopper = threading.Thread(target=lambda: task_supervisor.stop(
        wait=True, stop_schedulers=True, cancel_tasks=False))
    stopper.start()
    assert wait_until(lambda: not task_supervisor.is_active())  # new tasks refused at once
    assert stopper.is_alive() and not done.is_set()  # ... and it waits for the running one
    release.set()
    stopper.join(WAIT)
    assert not stopper.is_alive() and done.is_set()


def test_supervisor_aloops(tmp_path) -> None:
    out = run_script(tmp_path, """
        import asyncio
        import threading
        from engine import task_supervisor, background_worker

        task_supervisor.start()

        a = task_supervisor.create_aloop('myworkers', default=True, daemon=True)
        # the loop is instantly started by default, to prevent add param start=False
        # and then use
        # task_supervisor.start_aloop('myworkers')

        # To determine in which thread executor is started, simply get its name.
        names = []
        ran = threading.Event()

        @background_worker
        async def executor(**kwargs):
            names.append(threading.current_thread().name)
            ran.set()
            return False

        executor.start()  # workers launch async executors in the default aloop
        assert ran.wait(5) and names == ['supervisor_aloop_myworkers'], names

        async def coro(x):
            await asyncio.sleep(0)
            return x * 2

        # put coroutine to loop
        task = a.background_task(coro(2))
        assert task.wait(5) and task.result == 4

        # blocking wait for result from coroutine
        result = a.run(coro(3))
        assert result == 6

        b = task_supervisor.create_aloop('other')
        # set default aloop
        task_supervisor.set_default_aloop(b)
        assert task_supervisor.get_aloop() is b
        # get aloop by name
        assert task_supervisor.get_aloop('myworkers') is a
        # get aloop async event loop object for direct access
        assert isinstance(a.get_loop(), asyncio.AbstractEventLoop)
        # stop aloop (not required, supervisor stops all aloops at shutdown)
        task_supervisor.stop_aloop('other')
        assert not b.is_active() and a.is_active()
        task_supervisor.stop()
        assert not a.is_active()
        print("EXAMPLE OK")
        """)
    assert "EXAMPLE OK" in out


def test_supervisor_multiprocessing(tmp_path) -> None:
    out = run_script(tmp_path, """
        from engine import task_supervisor, TT_MP, wait_completed


        def square(x, _task_id=None):
            return x * x


        # The one change for the process pool (docs/migration.md): workers start
        # with forkserver, so the script's top level goes under this guard.
        if __name__ == "__main__":
            task_supervisor.start()

            # task_supervisor.create_mp_pool(<args for multiprocessing.Pool>)
            # e.g.
            task_supervisor.create_mp_pool(processes=8)
            task = task_supervisor.submit(square, 3, _tt=TT_MP)
            assert wait_completed(task, 30) == 9

            # use custom mp Pool

            from multiprocessing import Pool

            pool = Pool(processes=4)
            task_supervisor.mp_pool = pool
            assert task_supervisor.mp_pool is pool

            # set mp pool size. if pool wasn't created before, it will be initialized
            # with processes=(pool_size+reserve_normal+reserve_high)
            task_supervisor.set_mp_pool(
                pool_size=20, reserve_normal=5, reserve_high=5)
            assert task_supervisor.mp_pool is pool  # created before: kept
            info = task_supervisor.get_info()
            assert (info.mp_pool_size, info.mp_reserve_normal, info.mp_reserve_high) == (
                20, 5, 5)
            task = task_supervisor.submit(square, 4, _tt=TT_MP)
            assert wait_completed(task, 30) == 16
            task_supervisor.stop()
            pool.terminate()
            print("EXAMPLE OK")
        """)
    assert "EXAMPLE OK" in out


def test_supervisor_custom_task_supervisor() -> None:
    from engine import TaskSupervisor

    my_supervisor = TaskSupervisor(
        pool_size=100, reserve_normal=10, reserve_high=10)

    class MyTaskSupervisor(TaskSupervisor):
        # .......
        pass

    my_supervisor2 = MyTaskSupervisor()
    assert my_supervisor.get_info().thread_pool_size == 100
    assert my_supervisor.stats().thread.limits[engine.TASK_HIGH] == 120
    my_supervisor2.start()
    try:
        assert engine.wait_completed(my_supervisor2.submit(lambda: 1), WAIT) == 1
        assert my_supervisor2.id != my_supervisor.id != engine.task_supervisor.id
    finally:
        my_supervisor2.stop()


def test_supervisor_putting_own_tasks(started) -> None:
    import uuid

    from engine import TASK_NORMAL, task_supervisor

    done = StartLog()

    def myfunc(**kwargs):
        done.record('myfunc')

    task = task_supervisor.put_task(target=myfunc, args=(), kwargs={},
                                    priority=TASK_NORMAL, delay=None)
    assert done.wait_for_count(1)
    assert not task.is_completed()  # it holds its slot until it is marked completed
    task_supervisor.mark_task_completed(task=task)  # or task_id = task.id
    assert task.wait(WAIT)

    # note: custom task targets always get _task_id in kwargs
    def mytask(**kwargs):
        # ... perform calculations
        done.record(kwargs['_task_id'])
        task_supervisor.mark_task_completed(task_id=kwargs['_task_id'])

    task = task_supervisor.put_task(target=mytask)
    assert task.wait(WAIT) and done.order[1] == task.id

    # "If delay is specified, the thread is started after the corresponding delay"
    put = time.monotonic()
    delayed = task_supervisor.put_task(target=mytask, delay=0.2)
    assert delayed.status == engine.TASK_STATUS_DELAYED and delayed.wait(WAIT)
    assert delayed.time_started - put >= 0.2

    # "you may generate own and call put_task with task_id=task_id parameter"
    task_id = str(uuid.uuid4())
    task = task_supervisor.put_task(target=mytask, task_id=task_id)
    assert task.id == task_id and task.wait(WAIT) and done.order[-1] == task_id


def test_supervisor_putting_own_tasks_in_the_mp_pool(tmp_path) -> None:
    out = run_script(tmp_path, """
        import threading
        import uuid

        from engine import task_supervisor, TT_MP


        def staticmethod_target(*args, **kwargs):
            return ('ran', args, '_task_id' in kwargs)


        # the one change for forkserver (docs/migration.md)
        if __name__ == "__main__":
            task_supervisor.start()
            task_supervisor.create_mp_pool(processes=1)
            results, finished = [], threading.Event()
            task_id = str(uuid.uuid4())

            def somefunc(result):
                results.append(result)
                # After the function is finished, you should notify task supervisor:
                task_supervisor.mark_task_completed(task_id=task_id, tt=TT_MP)
                finished.set()

            task = task_supervisor.put_task(
               target=staticmethod_target, callback=somefunc, tt=TT_MP, task_id=task_id)
            assert finished.wait(30) and task.wait(5)
            assert results == [('ran', (), True)], results
            task_supervisor.stop()
            print("EXAMPLE OK")
        """)
    assert "EXAMPLE OK" in out


def test_supervisor_creating_own_schedulers(started) -> None:
    from engine import task_supervisor

    looping, stopped = threading.Event(), threading.Event()

    class Scheduler:
        def __init__(self):
            self.stop_event = None

        async def loop(self):
            self.stop_event = asyncio.Event()
            self.loop_ = asyncio.get_running_loop()
            looping.set()
            await self.stop_event.wait()

        def stop(self, wait=True):
            stopped.set()
            self.loop_.call_soon_threadsafe(self.stop_event.set)

    class SyncScheduler:
        def stop(self, wait=True):
            stopped_sync.set()

    stopped_sync = threading.Event()
    scheduler, sync_scheduler = Scheduler(), SyncScheduler()
    task_supervisor.register_scheduler(scheduler)
    task_supervisor.register_sync_scheduler(sync_scheduler)
    assert looping.wait(WAIT)
    other = SyncScheduler()
    task_supervisor.register_sync_scheduler(other)
    task_supervisor.unregister_sync_scheduler(other)
    assert set(task_supervisor.get_schedulers()) == {scheduler, sync_scheduler}
    task_supervisor.stop()  # stops them
    assert stopped.is_set() and stopped_sync.is_set()


# -- "Tasks" -----------------------------------------------------------------------------------
def test_tasks_defining_with_annotation(started, capsys) -> None:
    from engine import background_task

    @background_task
    def mytask():
        print('I am working in the background!')

    task = mytask()
    # "It's not required to notify task supervisor about task completion"
    assert task.wait(WAIT) and task.status == engine.TASK_STATUS_COMPLETED
    assert capsys.readouterr().out == 'I am working in the background!\n'

    @background_task
    def with_arguments(a, b=0):
        return a, b

    # "All start parameters (args, kwargs) are passed to task functions as-is."
    assert engine.wait_completed(with_arguments(1, b=2), WAIT) == (1, 2)


def test_tasks_without_annotation(started) -> None:
    from engine import TASK_LOW, background_task

    def mytask():
        print('I am working in the background!')

    task = background_task(mytask, name='mytask', priority=TASK_LOW)()
    assert task.wait(WAIT) and task.name == 'mytask' and task.priority == TASK_LOW


def test_tasks_multiprocessing(tmp_path) -> None:
    out = run_script(tmp_path, """
        import asyncio
        import threading

        from engine import task_supervisor, background_task, co_mp_apply
        from engine import TASK_HIGH, TT_MP, wait_completed


        def test(*args, **kwargs):  # the library's tests/mp.py
            print('test mp method {} {}'.format(args, sorted(kwargs)), flush=True)
            return 999


        # the one change for forkserver (docs/migration.md)
        if __name__ == "__main__":
            task_supervisor.start()
            task_supervisor.create_mp_pool(processes=2)
            got = []

            task = background_task(
                test, priority=TASK_HIGH, tt=TT_MP, callback=got.append)(1, 2, 3, x=2)
            assert wait_completed(task, 30) == 999 and got == [999]
            assert task.priority == TASK_HIGH

            async def f1():
                result = await co_mp_apply(
                    test, args=(1,2,3), kwargs={'x': 2},
                    priority=TASK_HIGH)
                return result

            assert task_supervisor.create_aloop('a').run(f1()) == 999
            task_supervisor.stop()
            print("EXAMPLE OK")
        """)
    # "Multiprocessing target function always receives _task_id param."
    assert out.count("test mp method (1, 2, 3) ['_task_id', 'x']") == 2
    assert "EXAMPLE OK" in out


def test_tasks_task_object(started) -> None:
    from engine import TT_THREAD, task_supervisor

    gate = threading.Event()
    task = task_supervisor.submit(gate.wait, WAIT)
    assert wait_until(task.is_started)
    same = task_supervisor.get_task(task.id)
    assert same is task
    assert (task.tt, task.priority, task.status) == (TT_THREAD, engine.TASK_NORMAL,
                                                     engine.TASK_STATUS_STARTED)
    assert task.time_queued <= task.time_started and task.result is None
    gate.set()
    assert task.wait(WAIT) and task.result is True
    assert task_supervisor.get_task(task.id).status == engine.TASK_STATUS_COMPLETED


def test_tasks_task_info_is_none_once_completed_with_compat(started) -> None:
    """"If task info is None, consider the task is completed": the engine keeps
    a finished task in its history; ``engine.compat`` answers as the page says."""
    from engine.compat import background_task, task_supervisor

    task = background_task(lambda: 1)()
    assert task.wait(WAIT)
    assert task_supervisor.get_task(task.id) is None
    assert engine.task_supervisor.get_task(task.id) is not None  # the engine's own answer


def test_tasks_wait_until_completed(started) -> None:
    from engine import background_task, wait_completed

    gate = threading.Event()
    task1, task2, task3 = (background_task(lambda n=n: n)() for n in (1, 2, 3))
    assert wait_completed([task1, task2, task3], timeout=None) == [1, 2, 3]
    # "If you call method with a single task ... single result is returned."
    assert wait_completed(task2) == 2
    slow = background_task(gate.wait)(WAIT)
    with pytest.raises(TimeoutError):
        wait_completed([task1, slow], timeout=0.05)
    gate.set()
    assert wait_completed([task1, slow], timeout=WAIT) == [1, True]


# -- "Workers" ---------------------------------------------------------------------------------
def test_workers_overriding_parameters_at_startup(started, said) -> None:
    import engine as atasker  # the page writes atasker.TASK_LOW

    @atasker.background_worker(e=True)
    def myworker(**kwargs):
        said((kwargs['_name'], engine.task_supervisor.get_task(kwargs['_task_id']).priority))

    myworker.start(_name='worker1', _priority=atasker.TASK_LOW)
    myworker.trigger_threadsafe()
    assert said.wait_for(('worker1', atasker.TASK_LOW))
    myworker.stop()


def test_workers_executor_returning_false_stops_the_worker(started, said) -> None:
    from engine import background_worker

    @background_worker(interval=0.01)
    def once(**kwargs):
        said(tuple(sorted(k for k in kwargs if k.startswith('_'))))
        return False

    once.start()
    assert said.wait_for(('_name', '_task_id', '_worker'))
    assert wait_until(lambda: not once.is_active())
    assert said.count(('_name', '_task_id', '_worker')) == 1


def test_workers_multiprocessing_executor(tmp_path) -> None:
    out = run_script(tmp_path, """
        import threading

        from engine import task_supervisor, BackgroundQueueWorker

        results, got = [], threading.Event()


        class MyWorker(BackgroundQueueWorker):

            # executed in another process via task_supervisor
            @staticmethod
            def run(task, *args, **kwargs):
                # .. process task
                return '<task result>'

            def process_result(self, result):
                # process result
                results.append(result)
                got.set()


        # the one change for forkserver (docs/migration.md)
        if __name__ == "__main__":
            task_supervisor.start()
            task_supervisor.create_mp_pool(processes=1)

            worker = MyWorker()
            worker.start()
            # .....
            worker.put_threadsafe('task')
            # .....
            assert got.wait(30) and results == ['<task result>']
            worker.stop()
            task_supervisor.stop()
            print("EXAMPLE OK")
        """)
    assert "EXAMPLE OK" in out


def test_workers_background_worker(started, said) -> None:
    # with annotation - function becomes worker executor
    from engine import background_worker

    @background_worker
    def myfunc(*args, **kwargs):
        said('I am background worker')

    # with class
    from engine import BackgroundWorker

    class MyWorker(BackgroundWorker):

        def run(self, *args, **kwargs):
            said('I am a worker too')

    myfunc.start()

    myworker2 = MyWorker()
    myworker2.start()

    # ............
    assert said.wait_for('I am background worker', 3)  # "continuously ... in a loop"
    assert said.wait_for('I am a worker too', 3)

    # stop first worker
    myfunc.stop()
    # stop 2nd worker, don't wait until it is really stopped
    myworker2.stop(wait=False)
    assert not myfunc.is_active() and not myworker2.is_active()
    n = said.count('I am background worker')
    assert wait_until(myworker2.is_stopped)
    assert said.count('I am background worker') == n


def test_workers_background_async_worker(started, said) -> None:
    # with annotation - function becomes worker executor
    from engine import background_worker

    @background_worker
    async def async_worker(**kwargs):
        said('I am async worker')

    async_worker.start()

    # with class
    from engine import BackgroundAsyncWorker

    class MyWorker(BackgroundAsyncWorker):

        async def run(self, *args, **kwargs):
            said('I am async worker too')

    worker = MyWorker()
    worker.start()
    assert type(async_worker) is BackgroundAsyncWorker
    assert said.wait_for('I am async worker', 2) and said.wait_for('I am async worker too', 2)
    async_worker.stop()
    worker.stop()


def test_workers_background_queue_worker(started, said) -> None:
    # with annotation - function becomes worker executor
    from engine import background_worker

    @background_worker(q=True)
    def f(task, **kwargs):
        said('Got task from queue: {}'.format(task))  # noqa: UP032 - the page's

    @background_worker(q=asyncio.queues.PriorityQueue)
    def f2(task, **kwargs):
        said('Got task from queue too: {}'.format(task))  # noqa: UP032 - the page's

    # with class
    from engine import BackgroundQueueWorker

    class MyWorker(BackgroundQueueWorker):

        def run(self, task, *args, **kwargs):
            said('my task is {}'.format(task))  # noqa: UP032 - the page's

    f.start()
    f2.start()
    worker3 = MyWorker()
    worker3.start()
    f.put_threadsafe('task 1')
    f2.put_threadsafe('task 2')
    worker3.put_threadsafe('task 3')
    for text in ('Got task from queue: task 1', 'Got task from queue too: task 2',
                 'my task is task 3'):
        assert said.wait_for(text), text
    for worker in (f, f2, worker3):
        worker.stop()


def test_workers_background_event_worker(started, said) -> None:
    # with annotation - function becomes worker executor
    from engine import background_worker

    # The page writes f(task, **kwargs); an event worker's executor gets no item
    # (neither the library's nor this one passes any), so: f(**kwargs).
    @background_worker(e=True)
    def f(**kwargs):
        said('happened')

    # with class
    from engine import BackgroundEventWorker

    class MyWorker(BackgroundEventWorker):

        def run(self, *args, **kwargs):
            said('happened too')

    f.start()
    worker3 = MyWorker()
    worker3.start()
    assert said.count('happened') == 0  # nothing before a trigger
    f.trigger_threadsafe()
    worker3.trigger_threadsafe()
    assert said.wait_for('happened') and said.wait_for('happened too')

    # "If worker is triggered from the same asyncio loop, trigger method can be used"
    async def trigger_from_a_loop():
        await f.trigger()

    asyncio.run(trigger_from_a_loop())
    assert said.wait_for('happened', 2)
    f.stop()
    worker3.stop()
    assert said.count('happened') == 2 and said.count('happened too') == 1


def test_workers_background_interval_worker(started, said) -> None:
    from engine import background_worker

    @background_worker(interval=1)
    def myfunc(**kwargs):
        said('I run every second!')

    @background_worker(interval=1)
    async def myfunc2(**kwargs):
        said('I run every second and I am async!')

    myfunc.start()
    myfunc2.start()
    assert said.wait_for('I run every second!', 2)
    assert said.wait_for('I run every second and I am async!', 2)
    first = said.times('I run every second!')
    assert 0.9 <= first[1] - first[0] < 3  # ticks a second apart, not sooner
    # "supports manual executor triggering with worker.trigger() and worker.trigger_threadsafe()"
    n = said.count('I run every second!')
    myfunc.trigger_threadsafe()
    assert said.wait_for('I run every second!', n + 1)
    myfunc.stop()
    myfunc2.stop()

    # "All parameters can be overriden during startup by adding _ prefix"
    @background_worker(interval=60)
    def fast(**kwargs):
        said('fast')

    fast.start(_interval=0.01)
    assert said.wait_for('fast', 3)
    fast.stop()


# -- "Async jobs" ------------------------------------------------------------------------------
def test_async_jobs(tmp_path) -> None:
    out = run_script(tmp_path, """
        import threading
        from engine import task_supervisor

        task_supervisor.start()
        ran = threading.Event()

        async def test1():
           print('I am lightweight async job')
           ran.set()

        task_supervisor.create_aloop('jobs')
        # if aloop id not specified, default aloop is used
        task_supervisor.create_async_job_scheduler('default', aloop='jobs',
           default=True)
        # create async job
        job1 = task_supervisor.create_async_job(target=test1, interval=0.1)
        assert ran.wait(5)
        # cancel async job
        task_supervisor.cancel_async_job(job=job1)
        assert not job1.active
        assert task_supervisor.default_async_job_scheduler.stats().jobs == 0
        task_supervisor.stop()
        print("EXAMPLE OK")
        """)
    assert out.startswith('I am lightweight async job') and "EXAMPLE OK" in out


# -- "Task collections" ------------------------------------------------------------------------
def test_collections_function_collection(capsys) -> None:
    from engine import TASK_HIGH, TASK_LOW, FunctionCollection

    def error(**kwargs):
        import traceback
        traceback.print_exc()

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
    assert all_ok is True
    assert list(result.items()) == [(f'{__name__}.f2', 2), (f'{__name__}.f1', 1),
                                    (f'{__name__}.f3', 3)]  # by priority

    @startup
    def f4():
        raise ValueError('f4 failed')

    result, all_ok = startup.execute()
    assert all_ok is False and result[f'{__name__}.f4'] is None
    assert 'ValueError: f4 failed' in capsys.readouterr().err  # error() printed it


def test_collections_task_collection(started) -> None:
    from engine import TASK_HIGH, TaskCollection

    names = {}
    startup = TaskCollection()

    @startup
    def f1():
        names['f1'] = threading.current_thread().name
        return 1

    @startup(priority=TASK_HIGH)
    def f2():
        names['f2'] = threading.current_thread().name
        return 2

    result, all_ok = startup.execute()  # "when all tasks in collection are finished"
    assert all_ok and result == {f'{__name__}.f2': 2, f'{__name__}.f1': 1}
    assert all(name.startswith('supervisor_default_pool_') for name in names.values())
    assert startup.run() == result


# -- "Locker helper/decorator" -----------------------------------------------------------------
def test_locker(caplog) -> None:
    from engine import Locker

    broken = threading.Event()

    def critical_exception():
        # do something, e.g. restart/kill myself (the page kills the process;
        # here it only notes it)
        broken.set()

    lock1 = Locker(mod='main', timeout=5)
    lock1.critical = critical_exception
    inside = []

    # use as decorator
    @lock1
    def test():
        # thread-safe access to resources locked with lock1
        inside.append(threading.current_thread().name)
        return 'done'

    # with
    with lock1:
        # thread-safe access to resources locked with lock1
        assert test() == 'done'  # re-entrant (relative=True, the default)
    assert not broken.is_set()

    # "timeout: max lock timeout before critical"; shortened from the page's 5 s
    lock1.timeout = 0.1
    held, release = threading.Event(), threading.Event()

    def hold():
        with lock1:
            held.set()
            release.wait(WAIT)

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(WAIT)
    with caplog.at_level(logging.CRITICAL):
        assert test() is None  # not acquired in time: critical() is called
    assert broken.is_set() and 'main/test locking broken' in caplog.text
    with pytest.raises(TimeoutError):
        with lock1:
            pass
    release.set()
    holder.join(WAIT)
    assert test() == 'done'


# -- "Thread local proxy" ----------------------------------------------------------------------
def test_thread_local_proxy() -> None:
    from engine import g

    connections = {}

    def use_db(name):
        if not g.has('db'):
            g.set('db', object())  # <new_db_connection>
        connections[name] = (g.get('db'), g.get('db'))

    threads = [threading.Thread(target=use_db, args=(n,)) for n in ('a', 'b')]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    (a1, a2), (b1, b2) = connections['a'], connections['b']
    assert a1 is a2 and b1 is b2 and a1 is not b1  # one per thread
    assert not g.has('db')  # and none in this one


# -- "Debugging" -------------------------------------------------------------------------------
def test_debugging() -> None:
    # "The library uses logger "atasker" to log all events": here the logger is
    # "engine" (docs/migration.md).
    from engine import set_debug

    logger = logging.getLogger('engine')
    level = logger.level
    try:
        set_debug()
        assert logger.isEnabledFor(logging.DEBUG)
    finally:
        set_debug(False)
        logger.setLevel(level)
