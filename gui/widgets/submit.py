"""The Submit dock: the task-script panel above the scenario panel.

``SubmitPanel`` only holds ``TaskScriptPanel`` (``tasks``, a task script as a
batch of tasks) and ``ScenarioPanel`` (``scenarios``, a scenario over time)
and offers what the window and the app ask of them as methods, so nothing
outside reaches into their widgets: ``submit()``, ``load_script(path)``,
``load_scenario(path)``, ``duration()`` / ``set_duration(seconds)``,
``start_scenario()``, ``stop_scenario()``, ``scenario_running()``,
``scenario_state`` and ``end_scenario_now()``. Its ``submitted``,
``error_shown`` and ``scenario_state_changed`` signals are its panels'.

GUI thread only.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMessageBox, QVBoxLayout, QWidget

from ..bridge import EngineBridge
from .error_dialog import ErrorDialog
from .scenario_panel import ScenarioPanel
from .task_script_panel import CONSOLE_ALOOP, TaskScriptPanel

__all__ = ["CONSOLE_ALOOP", "ScenarioPanel", "SubmitPanel", "TaskScriptPanel"]


class SubmitPanel(QWidget):
    """The task-script and scenario panels, one above the other."""

    submitted = Signal(str, object)       # (description, task ids) of an accepted batch
    error_shown = Signal(str)             # message + traceback of a user-code error
    scenario_state_changed = Signal(str)  # running / stopping / finished / stopped / ...

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 errors: ErrorDialog | None = None) -> None:
        super().__init__(parent)
        self.errors = errors or ErrorDialog(self)
        self.tasks = TaskScriptPanel(bridge, errors=self.errors)
        self.scenarios = ScenarioPanel(bridge, errors=self.errors)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tasks)
        layout.addWidget(self.scenarios)
        layout.addStretch(1)
        self.tasks.submitted.connect(self.submitted)
        self.tasks.error_shown.connect(self.error_shown)
        self.scenarios.error_shown.connect(self.error_shown)
        self.scenarios.scenario_state_changed.connect(self.scenario_state_changed)
        self._last: Any = self.tasks

    # -- task scripts ----------------------------------------------------------
    def submit(self) -> bool:
        """Submit the batch the task-script panel describes (``submitted`` follows)."""
        self._last = self.tasks
        return self.tasks.submit()

    def load_script(self, path: str | Path) -> bool:
        self._last = self.tasks
        return self.tasks.load_script(path)

    # -- scenarios ---------------------------------------------------------------
    def load_scenario(self, path: str | Path) -> bool:
        self._last = self.scenarios
        return self.scenarios.load_scenario(path)

    def duration(self) -> float:
        return self.scenarios.duration()

    def set_duration(self, seconds: object) -> bool:
        self._last = self.scenarios
        return self.scenarios.set_duration(seconds)

    def start_scenario(self) -> bool:
        self._last = self.scenarios
        return self.scenarios.start_scenario()

    def stop_scenario(self) -> None:
        self.scenarios.stop_scenario()

    def scenario_running(self) -> bool:
        return self.scenarios.scenario_running()

    @property
    def scenario_state(self) -> str:
        return self.scenarios.scenario_state

    def end_scenario_now(self) -> Awaitable[None] | None:
        """Cancel a running scenario; an awaitable that ends with it, or ``None``."""
        return self.scenarios.end_now()

    # -- errors --------------------------------------------------------------------
    @property
    def last_error(self) -> str:
        """The last error shown by the panel used last."""
        return self._last.last_error

    @property
    def error_box(self) -> QMessageBox | None:
        return self.errors.box
