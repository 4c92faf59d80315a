"""``main.py --attach ADDRESS`` as a program, against a real service: it runs
for ``--duration``, saves the attached window with ``--screenshot``, exits 0
and leaves the service running."""

from __future__ import annotations

import os
import subprocess
import sys

from PySide6.QtGui import QImage
from servicekit import ROOT, WAIT


def test_attach_with_duration_and_screenshot_detaches(service, tmp_path):
    shot = tmp_path / "attached.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "main.py", "--attach", service.address,
                           "--token-file", service.token_file, "--duration", "2",
                           "--screenshot", str(shot), "--size", "1200x800",
                           "--settings", str(tmp_path / "c.ini"), "--log-level", "INFO"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    image = QImage(str(shot))
    assert not image.isNull() and (image.width(), image.height()) == (1200, 800)
    assert "detaching from" in proc.stderr and "Traceback" not in proc.stderr
    assert service.alive() and service.answers()
    assert service.proc.poll() is None


def test_attach_finds_the_token_beside_the_socket(service, tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run([sys.executable, "main.py", "--attach", service.address,
                           "--duration", "1", "--settings", str(tmp_path / "c.ini"),
                           "--log-level", "INFO"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT * 4)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "attached to the service at" in proc.stderr
    assert service.answers()
