"""Ctrl+C at every stage of the life cycle, in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parent / "scripts" / "ctrl_c_everywhere.py"


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ctrl_c_anywhere_leaves_a_supervisor_that_stops_and_starts(seed):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, str(SCRIPT), str(seed), "25"], env=env,
                            capture_output=True, text=True, timeout=50)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "unfinished 0" in result.stdout


def test_ctrl_c_in_the_last_step_of_stop_leaves_no_loop_thread(monkeypatch):
    """Interrupted right after the main loop was handed over for closing,
    the stop still asks that loop to end: no thread is left behind."""
    from engine import TaskSupervisor

    sup = TaskSupervisor("ctrlc_last_step")
    sup.start()
    thread = sup._life.runner.thread

    def interrupted_detach():
        raise KeyboardInterrupt

    monkeypatch.setattr(sup._timeouts, "detach", interrupted_detach)
    with pytest.raises(KeyboardInterrupt):
        sup.stop(wait=1)
    monkeypatch.undo()
    thread.join(5)
    assert not thread.is_alive()
    sup.start()  # and it starts again
    sup.stop()
