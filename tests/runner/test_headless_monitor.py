"""main.py --headless --monitor: the run serves its supervisor, announced before it starts."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

from gui.remote import RemoteClient  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def test_a_headless_run_serves_its_monitor_while_it_runs(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    sock = run_dir / "m.sock"
    proc = subprocess.Popen([sys.executable, "main.py", "--headless", "--scenario", "mixed",
                             "--duration", "4", "--monitor", f"unix:{sock}"], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.split()[:2] == ["monitor:", f"unix:{sock}"], first
        assert first.split()[2:] == ["token-file", f"{sock}.token"]
        second = proc.stdout.readline()  # type: ignore[union-attr]
        assert second.startswith("scenario mixed: running"), second
        client = RemoteClient(f"unix:{sock}")
        try:
            assert client.wait_connected(15)
            end = time.monotonic() + 15
            while client.snapshot().thread.submitted == 0:
                assert time.monotonic() < end, "the scenario submitted nothing"
                time.sleep(0.05)
            assert client.snapshot().supervisor_id == "default"
        finally:
            client.close()
        rest = proc.stdout.read()  # type: ignore[union-attr]
        assert proc.wait(timeout=60) == 0, rest
        assert "result: OK" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not sock.exists() and not os.path.exists(f"{sock}.token")


def test_a_monitor_that_cannot_be_served_is_a_clear_error() -> None:
    proc = subprocess.run([sys.executable, "main.py", "--headless", "--scenario", "mixed",
                           "--duration", "1", "--monitor", "tcp:0.0.0.0:0"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "error: monitor:" in proc.stdout and "loopback" in proc.stdout
    assert "scenario mixed: running" not in proc.stdout
