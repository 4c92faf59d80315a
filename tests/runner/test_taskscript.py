"""Task scripts: loading the built-ins, binding parameters, every kind of broken
script, and ``run_script`` in this process and in forkserver children."""

from __future__ import annotations

import asyncio
import os
import pickle
import textwrap
from pathlib import Path

import pytest

from engine import (
    START_METHOD,
    TASK_HIGH,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_MP,
    TaskSupervisor,
    wait_completed,
)
from runner.taskscript import (
    TASK_DIR,
    TaskScriptError,
    TaskScriptRunError,
    builtin_task_scripts,
    load_task_script,
    run_script,
)

WAIT = 15.0  # bound for mp work (the first task starts the forkserver)
BUILTINS = {"sleep", "cpu_burn", "io_wait", "fail", "async_sleep"}
FAST = {  # parameters that keep each built-in quick
    "sleep": {"seconds": 0.01},
    "cpu_burn": {"iterations": 1000},
    "io_wait": {"seconds": 0.02, "size_kb": 64, "chunk_kb": 16},
    "fail": {"message": "boom"},
    "async_sleep": {"seconds": 0.01},
}


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


# -- built-ins ---------------------------------------------------------------------

def test_builtin_scripts_are_listed():
    assert BUILTINS <= set(builtin_task_scripts())


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_each_builtin_loads_and_runs(name):
    script = load_task_script(name)
    assert script.name == name
    assert script.path == TASK_DIR / f"{name}.py"
    assert script.description and "\n" not in script.description
    assert set(FAST[name]) <= set(script.params)
    assert script.is_async == (name == "async_sleep")
    kwargs = script.bind(FAST[name])
    if name == "fail":
        with pytest.raises(RuntimeError, match="boom"):
            script.run(**kwargs)
    elif script.is_async:
        assert asyncio.run(script.run(**kwargs)) == 0.01
    else:
        script.run(**kwargs)


def test_cpu_burn_by_iterations_and_by_seconds():
    script = load_task_script("cpu_burn")
    assert script.run(**script.bind("iterations=4")) == 0 + 1 + 4 + 9
    assert script.run(**script.bind("seconds=0.02")) >= 1


def test_io_wait_reads_the_whole_file():
    script = load_task_script("io_wait")
    assert script.run(**script.bind(FAST["io_wait"])) == 64 * 1024


def test_load_by_path_and_unknown_name(tmp_path):
    assert load_task_script(str(TASK_DIR / "sleep.py")).name == "sleep"
    with pytest.raises(TaskScriptError, match="unknown task script 'nope'.*sleep"):
        load_task_script("nope")
    with pytest.raises(TaskScriptError, match="does not exist"):
        load_task_script(tmp_path / "missing.py")


# -- binding parameters --------------------------------------------------------------

@pytest.fixture
def typed(tmp_path):
    return load_task_script(write(tmp_path, "typed.py", '''
        """All the parameter types."""
        PARAMS = {"seconds": 0.5, "n": 3, "flag": False, "message": "hi", "sizes": [1, 2],
                  "anything": None}

        def run(**params):
            return params
    '''))


def test_bind_defaults_text_and_dict(typed):
    defaults = {"seconds": 0.5, "n": 3, "flag": False, "message": "hi", "sizes": [1, 2],
                "anything": None}
    assert typed.bind(None) == defaults
    assert typed.bind("") == defaults
    got = typed.bind("seconds=2 n=1_000 flag=yes message='disk full, again' sizes=[3]")
    assert got == {**defaults, "seconds": 2.0, "n": 1000, "flag": True,
                   "message": "disk full, again", "sizes": [3]}
    assert isinstance(got["seconds"], float)
    got = typed.bind({"seconds": "0.25", "n": 7, "flag": "off", "anything": "{'a': 1}"})
    assert got["seconds"] == 0.25 and got["n"] == 7 and got["flag"] is False
    assert got["anything"] == {"a": 1}
    assert typed.bind({"seconds": 1})["seconds"] == 1.0  # an int is a fine float
    assert typed.bind({"message": "42"})["message"] == "42"  # str stays as typed


@pytest.mark.parametrize("values, name, bad", [
    ("seconds=abc", "seconds", "abc"),
    ({"seconds": "1,5"}, "seconds", "1,5"),
    ({"n": "1.5"}, "n", "1.5"),
    ({"n": 1.5}, "n", "1.5"),
    ({"n": True}, "n", "True"),
    ({"flag": "maybe"}, "flag", "maybe"),
    ({"sizes": "(1, 2)"}, "sizes", "(1, 2)"),
    ({"sizes": "[1, "}, "sizes", "[1, "),
    ({"message": 5}, "message", "5"),
])
def test_bind_rejects_a_bad_value_naming_parameter_and_value(typed, values, name, bad):
    with pytest.raises(TaskScriptError) as info:
        typed.bind(values)
    message = str(info.value)
    assert repr(name) in message and bad in message and "typed" in message


def test_bind_rejects_unknown_parameters_and_malformed_text(typed):
    with pytest.raises(TaskScriptError, match=r"unknown parameter 'secs' = '1'.*seconds"):
        typed.bind("secs=1")
    with pytest.raises(TaskScriptError, match="'seconds' is not key=value"):
        typed.bind("seconds")
    with pytest.raises(TaskScriptError, match="cannot read parameters"):
        typed.bind("message='unclosed")
    with pytest.raises(TaskScriptError, match="must be a dict"):
        typed.bind(42)


# -- broken scripts ------------------------------------------------------------------

BROKEN = {
    "syntax": ("""
        PARAMS = {}

        def run(:
            pass
        """, r"has a syntax error \(line 4\)", ["SyntaxError", "def run(:"]),
    "import": ("""
        import no_such_module_for_tests

        def run():
            pass
        """, "failed to import: ModuleNotFoundError", [
            "Traceback (most recent call last)", "import no_such_module_for_tests",
            "ModuleNotFoundError"]),
    "raises": ("""
        def helper():
            return 1 / 0

        VALUE = helper()

        def run():
            pass
        """, "failed to import: ZeroDivisionError", [
            "VALUE = helper()", "return 1 / 0", "ZeroDivisionError"]),
    "no_run": ("""
        '''No entry point.'''
        PARAMS = {"seconds": 1}
        """, "has no entry point", ["no 'run'"]),
    "run_not_callable": ("""
        PARAMS = {}
        run = 42
        """, "'run' must be a function, got int", ["line 3", "run = 42"]),
    "params_not_dict": ("""
        PARAMS = ["seconds"]

        def run(seconds=1):
            pass
        """, "PARAMS must be a dict", ["line 2", 'PARAMS = ["seconds"]']),
    "signature": ("""
        PARAMS = {"seconds": 1, "extra": 2}

        def run(seconds):
            pass
        """, r"run\(\) cannot take its PARAMS \(seconds, extra\)", ["def run(seconds)",
                                                                   "extra"]),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_script_gives_a_readable_message_and_a_traceback(tmp_path, kind):
    source, message, in_details = BROKEN[kind]
    path = write(tmp_path, f"broken_{kind}.py", source)
    with pytest.raises(TaskScriptError, match=message) as info:
        load_task_script(path)
    error = info.value
    assert path.name in str(error)
    assert "\n" not in str(error)  # one readable line; the rest is in details
    assert str(path) in error.details
    for text in in_details:
        assert text in error.details
    assert "importlib" not in error.details  # the loader's frames are trimmed


def test_a_broken_script_leaves_no_module_behind(tmp_path):
    import sys
    path = write(tmp_path, "half.py", "import no_such_module_for_tests\n")
    before = set(sys.modules)
    with pytest.raises(TaskScriptError):
        load_task_script(path)
    assert not {m for m in set(sys.modules) - before if m.startswith("taskscript_")}


def test_task_script_error_pickles():
    error = TaskScriptError("sleep: parameter 'seconds' = 'x' is not a valid float", "tb")
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.details == "tb"


# -- run_script ------------------------------------------------------------------------

def test_run_script_in_this_process(tmp_path):
    sleep = str(TASK_DIR / "sleep.py")
    assert run_script(sleep, {"seconds": 0.01}, _task_id=7) == 0.01
    assert run_script(sleep, "seconds=0.02") == 0.02
    assert run_script(str(TASK_DIR / "async_sleep.py"), {"seconds": 0.01}) == 0.01
    with pytest.raises(TaskScriptError, match="'seconds' = 'x'"):
        run_script(sleep, {"seconds": "x"})


def test_run_script_reloads_an_edited_script(tmp_path):
    path = write(tmp_path, "answer.py", "def run():\n    return 1\n")
    assert run_script(str(path), {}) == 1
    path.write_text("def run():\n    return 2\n", encoding="utf-8")
    os.utime(path, ns=(1, 10**18))  # a different mtime even on coarse clocks
    assert run_script(str(path), {}) == 2


def test_run_script_turns_script_defined_exceptions_and_results_into_text(tmp_path):
    path = write(tmp_path, "own.py", """
        class Oops(Exception):
            pass

        class Thing:
            def __repr__(self):
                return "<Thing>"

        PARAMS = {"fail": True}

        def run(fail):
            if fail:
                raise Oops("it broke")
            return Thing()
    """)
    with pytest.raises(TaskScriptRunError, match="Oops: it broke") as info:
        run_script(str(path), {"fail": True})
    assert type(info.value.__cause__).__name__ == "Oops"
    assert run_script(str(path), {"fail": False}) == "<Thing>"


@pytest.fixture(scope="module")
def mp_sup():
    sup = TaskSupervisor(supervisor_id="test_taskscript_mp", pool_size=2, reserve_normal=0,
                         reserve_high=0)
    sup.start()
    try:
        sup.create_mp_pool(processes=1)
        yield sup
    finally:
        sup.stop(wait=2, cancel_tasks=True)


def test_start_method_is_forkserver_or_spawn():
    assert START_METHOD in ("forkserver", "spawn")


def test_run_script_runs_builtins_in_a_child_process(mp_sup):
    tasks = [mp_sup.submit(run_script, str(TASK_DIR / f"{name}.py"), FAST[name],
                           _tt=TT_MP, _name=name, _priority=TASK_HIGH)
             for name in ("sleep", "cpu_burn", "io_wait")]
    assert wait_completed(tasks, timeout=WAIT) == [0.01, sum(i * i for i in range(1000)),
                                                   64 * 1024]
    assert all(t.status == TASK_STATUS_COMPLETED and t.tt == TT_MP for t in tasks)


def test_run_script_loads_a_file_in_the_child(mp_sup, tmp_path):
    path = write(tmp_path, "whoami.py", """
        '''Return the pid of the process that ran it.'''
        import os

        PARAMS = {"add": 0}

        def run(add):
            return os.getpid() + add
    """)
    task = mp_sup.submit(run_script, str(path), {"add": 0}, _tt=TT_MP)
    pid = wait_completed(task, timeout=WAIT)
    assert pid != os.getpid()


def test_failures_in_the_child_come_back_as_failed_tasks(mp_sup, tmp_path):
    own = write(tmp_path, "own_error.py", """
        class Oops(Exception):
            def __init__(self, code, why):  # a signature that cannot unpickle
                super().__init__(f"{code}: {why}")

        def run():
            raise Oops(3, "custom failure")
    """)
    fail = mp_sup.submit(run_script, str(TASK_DIR / "fail.py"), {"message": "child says no"},
                         _tt=TT_MP)
    custom = mp_sup.submit(run_script, str(own), {}, _tt=TT_MP)
    bad = mp_sup.submit(run_script, str(TASK_DIR / "sleep.py"), {"seconds": "soon"},
                        _tt=TT_MP)
    for task in (fail, custom, bad):
        assert task.wait(WAIT)
        assert task.status == TASK_STATUS_FAILED
    assert isinstance(fail.exception, RuntimeError) and "child says no" in str(fail.exception)
    assert isinstance(custom.exception, TaskScriptRunError)
    assert "Oops: 3: custom failure" in str(custom.exception)
    assert isinstance(bad.exception, TaskScriptError) and "'soon'" in str(bad.exception)
    # the pool keeps serving
    after = mp_sup.submit(run_script, str(TASK_DIR / "sleep.py"), {"seconds": 0.01}, _tt=TT_MP)
    assert wait_completed(after, timeout=WAIT) == 0.01


# -- untrusted scripts: nothing they raise escapes the loader ---------------------------

ESCAPES = {
    "sys_exit": ("import sys\nsys.exit(7)\n", "SystemExit: sys.exit(7)"),
    "keyboard_interrupt": ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "base_exception": ("class Mine(BaseException):\n    pass\n\nraise Mine('deep')\n",
                       "Mine: deep"),
    "evil_str": ("class Evil(Exception):\n    def __str__(self):\n        raise SystemExit(3)\n"
                 "\nraise Evil()\n", "Evil: <str() of the exception raised>"),
}


@pytest.mark.parametrize("kind", sorted(ESCAPES))
def test_whatever_a_script_raises_at_import_is_a_task_script_error(tmp_path, kind):
    source, named = ESCAPES[kind]
    path = write(tmp_path, f"escape_{kind}.py", source + "\ndef run():\n    pass\n")
    with pytest.raises(TaskScriptError) as info:
        load_task_script(path)
    assert str(info.value) == f"{path.name} failed to import: {named}"
    assert str(path) in info.value.details or kind == "evil_str"


def test_reading_a_script_runs_no_module_getattr_and_contains_bad_reprs(tmp_path):
    path = write(tmp_path, "tricky.py", """
        import sys

        def __getattr__(name):
            sys.exit(5)

        class Loud:
            def __repr__(self):
                raise SystemExit(6)

        PARAMS = {"thing": Loud()}

        def run(thing):
            return thing
    """)
    script = load_task_script(path)  # no PARAMS lookup through __getattr__, no repr
    assert list(script.params) == ["thing"] and script.description == ""
    assert script.bind()["thing"] is script.params["thing"]
    with pytest.raises(TaskScriptError, match="'thing' = 3 is not a valid Loud"):
        script.bind({"thing": 3})


def test_run_script_turns_sys_exit_in_run_into_a_task_failure(tmp_path):
    path = write(tmp_path, "quits.py", """
        import sys

        def run():
            sys.exit(4)
    """)
    with pytest.raises(TaskScriptRunError, match=r"SystemExit: sys.exit\(4\)") as info:
        run_script(str(path), {})
    assert isinstance(info.value.__cause__, SystemExit)
