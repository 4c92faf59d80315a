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
