"""A real service for the attach tests: ``tests/engine/scripts/monitor_service.py``
run as a second process, serving its supervisor's monitor on a Unix socket
(importable as ``servicekit``: tests/ has no packages).

The service (supervisor ``service``, pool_size 3) has a worker ``ticker``
that runs a short task every 0.2 s and one task delayed for an hour,
``later``, for the commands to act on. ``Service(address)`` starts it and
returns once it printed ``monitor: ADDRESS token-file PATH``; ``end()``
stops it (SIGTERM), ``kill()`` kills it (SIGKILL: the socket and token
file stay behind, as after a crash); ``answers()`` asks it directly, with
a client of the test's own.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICE = ROOT / "tests" / "engine" / "scripts" / "monitor_service.py"
WAIT = 15.0  # seconds a service gets to start, answer or end


def wait_for(predicate, timeout: float = WAIT) -> None:
    """Outside Qt: poll ``predicate`` until true (``AssertionError`` after ``timeout``)."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.02)


class Service:
    def __init__(self, address: str, *extra: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, str(SERVICE), address, *extra], env=env,
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("monitor: "), line
        _, self.address, _, self.token_file = line.split()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def answers(self) -> bool:
        """Whether the service runs and its monitor answers a request now."""
        from gui.remote import MonitorUnavailable, RemoteClient

        if not self.alive():
            return False
        probe = RemoteClient(self.address, self.token_file)
        try:
            return probe.wait_connected(WAIT) and probe.live_tasks(None) is not None
        except MonitorUnavailable:
            return False
        finally:
            probe.close()

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=WAIT)

    def end(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=WAIT)
