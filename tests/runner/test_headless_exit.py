"""The headless run's exit tells the truth: a scenario that raises, Ctrl+C, and
refused ``--duration`` / ``--drain`` values each end with their own code and
a message saying what happened.

The Ctrl+C tests run ``main.py --headless`` in a child process with SIGINT
reset to its default (a process started from a non-interactive shell inherits
SIG_IGN), in its own session so that it and its pool processes can be killed
together should a test fail, and wait for its "running for" line instead of
guessing with sleeps."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from engine import TaskSupervisor
from runner import headless
from runner.cli import parse_args
from runner.headless import run_headless

ROOT = Path(__file__).resolve().parents[2]
STARTED = "running for"


def run(script: Path, duration: float, **kw) -> tuple[int, str, TaskSupervisor]:
    out = io.StringIO()
    sup = TaskSupervisor(supervisor_id="headless-exit-test")
    code = run_headless(str(script), duration, supervisor=sup, out=out, **kw)
    return code, out.getvalue(), sup


def write(tmp_path: Path, body: str, name: str = "scenario.py") -> Path:
    script = tmp_path / name
    script.write_text(textwrap.dedent(body), encoding="utf-8")
    return script


def test_exit_codes_are_distinct():
    codes = [headless.OK, headless.LOST, headless.BROKEN, headless.RAISED,
             headless.INTERRUPTED]
    assert codes == [0, 1, 2, 3, 130]


@pytest.mark.parametrize("raising, named", [
    ("raise ValueError('bad input 42')", "ValueError: bad input 42"),
    ("sys.exit(7)", "SystemExit: sys.exit(7)"),
    ("raise KeyboardInterrupt('from the scenario')", "KeyboardInterrupt: from the scenario"),
])
def test_a_scenario_that_raises_fails_the_run_and_names_the_error(tmp_path, raising, named):
    script = write(tmp_path, f"""
        import sys

        async def run(ctx):
            ctx.submit(int, name="quick")
            await ctx.sleep(0.1)
            {raising}
    """)
    code, text, sup = run(script, 2)
    assert code == headless.RAISED == 3, text
    assert "result: OK" not in text
    assert f"error: scenario scenario raised {named}" in text
    # the traceback points into the scenario file, and comes after the summary
    assert "Traceback (most recent call last)" in text
    assert f'File "{script}", line 7, in run' in text
    lines = text.splitlines()
    total = next(i for i, line in enumerate(lines) if line.startswith("total"))
    error = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    assert total < error
    assert lines[-1] == "result: FAILED, the scenario raised"
    assert int(lines[total].split()[2]) == 1  # the task it submitted still ran and counted
    assert not sup.is_active()


def test_a_scenario_that_raises_at_once_still_gets_a_summary(tmp_path):
    script = write(tmp_path, """
        async def run(ctx):
            raise RuntimeError("no luck")
    """)
    code, text, _ = run(script, 1)
    assert code == 3
    assert "total" in text and "RuntimeError: no luck" in text


@pytest.mark.parametrize("option", ["--duration", "--drain"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "-1", "0", "1e9", "soon"])
def test_the_cli_refuses_a_bad_number_of_seconds(capsys, option, value):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--headless", f"{option}={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: " in err and repr(value) in err, err
    assert "Traceback" not in err


def test_the_cli_accepts_good_seconds():
    args = parse_args(["--headless", "--duration", "0.5", "--drain", "12"])
    assert (args.duration, args.drain) == (0.5, 12.0)


@pytest.mark.parametrize("kw", [{"duration": float("inf")}, {"duration": 0},
                                {"drain": float("nan")}, {"drain": -1}])
def test_run_headless_refuses_bad_seconds_before_starting(kw):
    sup = TaskSupervisor(supervisor_id="headless-refused")
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        run_headless("burst", supervisor=sup, out=io.StringIO(), **kw)
    assert not sup.is_active()


class Headless:
    """``main.py --headless`` in a child process; stdout and stderr collected by threads."""

    def __init__(self, *args: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", "--headless", *args], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            start_new_session=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out),
                                               (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    def _read(self, stream, lines: list[str]) -> None:
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()

    def wait_for(self, text: str, lines: list[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in lines):
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, \
                    f"no {text!r} in the output:\n{self.output()}"
                self._changed.wait(min(left, 1.0))

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait_exit(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        return code

    def output(self) -> str:
        return "".join(self.out) + "\n--- stderr ---\n" + "".join(self.err)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def start():
    runs: list[Headless] = []

    def starter(*args: str) -> Headless:
        child = Headless(*args)
        runs.append(child)
        child.wait_for(STARTED, child.out)
        return child

    yield starter
    for child in runs:
        child.kill()


@pytest.mark.timeout(60)
def test_ctrl_c_stops_the_run_prints_the_summary_and_exits_130(start):
    child = start("--scenario", "mixed", "--duration", "30")
    t0 = time.monotonic()
    child.interrupt()
    assert child.wait_exit(20) == 130, child.output()
    assert time.monotonic() - t0 < 15  # the stop waits at most 5 s: not the 30 s run
    out, err = "".join(child.out), "".join(child.err)
    assert "Traceback" not in err and "Traceback" not in out, child.output()
    assert "INTERRUPTED by Ctrl+C after" in out
    assert "\ntotal " in out  # the summary so far
    assert out.rstrip().endswith("result: INTERRUPTED by Ctrl+C")
    assert "Ctrl+C: stopping the scenario and the supervisor" in err


NEVER_ENDS = """
    import threading

    DEFAULT_DURATION = 60


    async def run(ctx):
        gate = threading.Event()
        for _ in range(3):
            ctx.submit(gate.wait, name="never ends")
        while await ctx.sleep(0.5):
            pass
"""


@pytest.mark.timeout(60)
def test_a_second_ctrl_c_exits_at_once_with_130(start, tmp_path):
    child = start("--scenario", str(write(tmp_path, NEVER_ENDS)))
    child.interrupt()
    child.wait_for("Ctrl+C: stopping", child.err)
    assert child.proc.poll() is None  # the stop waits (5 s) for the tasks that never end
    t0 = time.monotonic()
    child.interrupt()
    assert child.wait_exit(20) == 130, child.output()
    assert time.monotonic() - t0 < 3  # at once, not after the stop's wait
    err = "".join(child.err)
    assert "Ctrl+C again: exiting now" in err
    assert "Traceback" not in err, child.output()
