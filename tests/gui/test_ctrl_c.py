"""Ctrl+C in the console, in a real process: the first stops the supervisor as a
scripted stop does and exits (code 130); a second one exits at once.

The console runs offscreen with SIGINT reset to its default in the child (a
process started from a non-interactive shell inherits SIG_IGN), in its own
session so that it and its pool processes can be killed together should a
test fail. SIGINT goes to the console process: the pool's worker processes
are the engine's to shield from a terminal's group-wide Ctrl+C. The test
waits for the console's "console up" log line instead of guessing with sleeps."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UP = "console up"
START_TIMEOUT = 60.0
EXIT_TIMEOUT = 30.0  # the scripted stop waits at most 10 s, then the exit


class Console:
    """``main.py`` in a child process, its combined output collected by a thread."""

    def __init__(self, args: list[str], tmp_path: Path) -> None:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", *args, "--log-level", "INFO",
             "--settings", str(tmp_path / "console.ini")],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
            start_new_session=True)
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                assert left > 0 and self.proc.poll() is None, \
                    f"no {text!r} in the output:\n{self.output()}"
                self._changed.wait(left)

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait_exit(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code

    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def start(tmp_path):
    consoles: list[Console] = []

    def starter(*args: str) -> Console:
        console = Console(list(args), tmp_path)
        consoles.append(console)
        console.wait_for(UP, START_TIMEOUT)
        return console

    yield starter
    for console in consoles:
        console.kill()


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "Unexpected error" not in output, output


@pytest.mark.timeout(120)
def test_ctrl_c_stops_the_supervisor_and_exits_with_130(start):
    console = start("--scenario", "mixed", "--duration", "60")
    console.wait_for("scenario mixed started", 10)
    t0 = time.monotonic()
    console.interrupt()
    assert console.wait_exit(EXIT_TIMEOUT) == 130
    output = console.output()
    assert_clean(output)
    assert "Ctrl+C: stopping the supervisor" in output
    assert "supervisor 'default' stopped" in output
    assert time.monotonic() - t0 < EXIT_TIMEOUT


NEVER_ENDS = '''
    """Tasks that never end: a stop that waits for them would wait forever."""
    import threading

    DEFAULT_DURATION = 60


    async def run(ctx):
        gate = threading.Event()
        for _ in range(4):
            ctx.submit(gate.wait, name="never ends")
        ctx.log.info("never-ending tasks submitted")
        while await ctx.sleep(0.5):
            pass
'''


@pytest.mark.timeout(120)
def test_a_second_ctrl_c_exits_at_once_when_the_stop_would_wait(start, tmp_path):
    scenario = tmp_path / "never_ends.py"
    scenario.write_text(textwrap.dedent(NEVER_ENDS), encoding="utf-8")
    console = start("--scenario", str(scenario))
    console.wait_for("never-ending tasks submitted", 10)
    console.interrupt()
    console.wait_for("Ctrl+C: stopping the supervisor", 10)
    assert console.proc.poll() is None  # the first Ctrl+C waits (up to 10 s) for the tasks
    t0 = time.monotonic()
    console.interrupt()
    assert console.wait_exit(EXIT_TIMEOUT) == 130
    assert time.monotonic() - t0 < 8  # not the stop's 10 s wait: at once (plus the exit)
    output = console.output()
    assert_clean(output)
    assert "Ctrl+C again: exiting now" in output
    assert "running task(s) abandoned" in output and "never ends" in output
