"""``--attach`` refused before any window: a bad address, a token file that
cannot be read, options that cannot go with it -- one line, exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def console(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    return subprocess.run([sys.executable, "main.py", *args, "--duration", "30"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def refused(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    return lines[0]


@pytest.mark.parametrize("address", ["http://localhost:8000", "unix:", "tcp:127.0.0.1:port",
                                     "somewhere"])
def test_a_bad_address_is_one_line_and_exit_2(address):
    line = refused(console("--attach", address, "--token-file", __file__))
    assert "unix:PATH" in line and repr(address) in line


def test_a_token_file_that_cannot_be_read(tmp_path):
    line = refused(console("--attach", f"unix:{tmp_path / 's.sock'}", "--token-file",
                           str(tmp_path / "missing.token")))
    assert "token file" in line and "missing.token" in line and "No such file" in line
    # No token file given, and none beside the socket.
    line = refused(console("--attach", f"unix:{tmp_path / 's.sock'}"))
    assert "no token file" in line and "--token-file" in line


@pytest.mark.parametrize("extra, why", [
    (("--scenario", "mixed"), "--scenario"),
    (("--headless",), "--headless"),
    (("--monitor",), "--monitor"),
])
def test_options_that_cannot_go_with_attach(tmp_path, extra, why):
    line = refused(console("--attach", f"unix:{tmp_path / 's.sock'}", "--token-file", __file__,
                           *extra))
    assert why in line


def test_a_token_file_needs_attach():
    assert "--attach" in refused(console("--token-file", __file__))
