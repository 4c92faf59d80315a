"""Session-wide test isolation: the tests never touch the user's home.

Qt keeps settings under the user's config directory: the console's own
store (``QSettings("TaskSupervisor", "Console")`` when no ``--settings`` is
given) and the file dialogs' history (``QtProject.conf``). Before any Qt
object exists, this points both at a temporary directory for the whole
session: ``XDG_CONFIG_HOME`` (inherited by the consoles the tests start as
subprocesses) and ``QSettings.setPath`` for every format and scope (this
process). Tools' own configuration there stays readable (``pip`` is linked
in, read-only use). At the end of the session, the real config directory
is compared with what it held at the start; a file the tests created or
changed fails the session, named.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

REAL_CONFIG = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
TEST_HOME = Path(tempfile.mkdtemp(prefix="tests-home-"))
TEST_CONFIG = TEST_HOME / "config"
TEST_CONFIG.mkdir()
for _tool in ("pip",):  # read by subprocesses that run pip (tests/test_packaging.py)
    if (REAL_CONFIG / _tool).is_dir():
        (TEST_CONFIG / _tool).symlink_to(REAL_CONFIG / _tool, target_is_directory=True)
os.environ["XDG_CONFIG_HOME"] = str(TEST_CONFIG)

from PySide6.QtCore import QSettings  # noqa: E402  (after the environment is set)

for _format in (QSettings.NativeFormat, QSettings.IniFormat):
    QSettings.setPath(_format, QSettings.UserScope, str(TEST_CONFIG))
    QSettings.setPath(_format, QSettings.SystemScope, str(TEST_HOME / "system"))


def _config_state(root: Path) -> dict[str, float]:
    """Every file and directory under ``root`` with its modification time."""
    state: dict[str, float] = {}
    if not root.is_dir():
        return state
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            try:
                state[str(path)] = path.lstat().st_mtime
            except OSError:  # gone meanwhile
                pass
    return state


_REAL_CONFIG_BEFORE = _config_state(REAL_CONFIG)


#: What Qt and the console write under the config directory (other programs
#: of the machine may write elsewhere there while the tests run).
QT_OWNED = ("QtProject", "TaskSupervisor")


def home_changes() -> list[str]:
    """Qt's and the console's paths under the real config directory created
    or modified since the session began."""
    after = _config_state(REAL_CONFIG)
    return sorted(path for path, mtime in after.items()
                  if _REAL_CONFIG_BEFORE.get(path) != mtime
                  and Path(path).relative_to(REAL_CONFIG).parts[0].startswith(QT_OWNED))


@pytest.fixture(scope="session")
def config_isolation():
    """Where the session keeps Qt's settings, and a check of the real config directory."""
    return SimpleNamespace(home=TEST_HOME, config=TEST_CONFIG, real_config=REAL_CONFIG,
                           changes=home_changes)


def pytest_sessionfinish(session, exitstatus) -> None:
    changed = home_changes()
    if changed:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = ("the tests wrote to the user's config directory: " + ", ".join(changed))
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = 1
    shutil.rmtree(TEST_HOME, ignore_errors=True)
