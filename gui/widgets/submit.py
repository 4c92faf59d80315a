"""The Submit dock: the task-script panel and the scenario panel, as two tabs.

``SubmitPanel`` holds ``TaskScriptPanel`` (``tasks``, a task script as a
batch of tasks) and ``ScenarioPanel`` (``scenarios``, a scenario over time),
each in its own tab ("Tasks", "Scenarios"; ``tabs``) and its own scroll
area, so neither is below the fold of the other in a short dock. The tab a
panel is in comes to the front when that panel has something to say: a
scenario that starts (its progress), a batch submitted, an error of either.
It offers what the window and the app ask of the panels as methods, so
nothing outside reaches into their widgets: ``submit()``,
``load_script(path)``, ``load_scenario(name or path)``, ``duration()`` /
``set_duration(seconds)``, ``start_scenario()``, ``stop_scenario()``,
``scenario_running()``, ``scenario_state``, ``end_scenario_now()``,
``show_tab(panel)`` and ``set_unavailable(reason)`` (both tabs disabled,
the reason shown above them in one line: an attached console's service
runs its own work). Its ``submitted``, ``error_shown`` and
``scenario_state_changed`` signals are its panels'.

GUI thread only.
"""

from __future__ import annotations

from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from ..bridge import EngineBridge
from .error_dialog import ErrorDialog
from .form_kit import scrollable
from .scenario_panel import ScenarioPanel
from .task_script_panel import CONSOLE_ALOOP, TaskScriptPanel

__all__ = ["CONSOLE_ALOOP", "ScenarioPanel", "SubmitPanel", "TaskScriptPanel"]


class SubmitPanel(QWidget):
    """The task-script and scenario panels, one tab each."""

    submitted = Signal(str, object)       # (description, task ids) of an accepted batch
    error_shown = Signal(str)             # message + traceback of a user-code error
    scenario_state_changed = Signal(str)  # running / stopping / finished / stopped / ...

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 errors: ErrorDialog | None = None) -> None:
        super().__init__(parent)
        self.errors = errors or ErrorDialog(self)
        self.tasks = TaskScriptPanel(bridge, errors=self.errors)
        self.scenarios = ScenarioPanel(bridge, errors=self.errors)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(scrollable(self.tasks), "Tasks")
        self.tabs.addTab(scrollable(self.scenarios), "Scenarios")
        self.tabs.setTabToolTip(0, "Submit a batch of tasks from a task script")
        self.tabs.setTabToolTip(1, "Run a scenario: load on the supervisor over time")
        self.unavailable = QLabel()  # why the tabs are disabled, when they are
        self.unavailable.setObjectName("submit_unavailable")
        self.unavailable.setWordWrap(True)
        self.unavailable.setTextFormat(Qt.RichText)
        self.unavailable.setStyleSheet(
            "QLabel#submit_unavailable { background: palette(alternate-base); "
            "border: 1px solid palette(mid); border-radius: 4px; padding: 6px 8px; }")
        self.unavailable.hide()
        self._unavailable: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.unavailable)
        layout.addWidget(self.tabs)
        self.tasks.submitted.connect(self.submitted)
        self.tasks.submitted.connect(self._on_submitted)
        self.tasks.error_shown.connect(self.error_shown)
        self.tasks.error_shown.connect(self._on_tasks_error)
        self.scenarios.error_shown.connect(self.error_shown)
        self.scenarios.error_shown.connect(self._on_scenario_news)
        self.scenarios.scenario_loaded.connect(self._on_scenario_news)
        self.scenarios.scenario_state_changed.connect(self.scenario_state_changed)
        self.scenarios.scenario_state_changed.connect(self._on_scenario_state)
        self._last: Any = self.tasks

    # -- availability ----------------------------------------------------------
    def set_unavailable(self, reason: str | None, details: str = "") -> None:
        """Disable both tabs and say why in one line above them, ``details``
        in its tooltip (``reason=None``: enable them again)."""
        self._unavailable = reason
        self.tabs.setEnabled(reason is None)
        self.unavailable.setVisible(reason is not None)
        self.unavailable.setText(f"<b>Off:</b> {reason}" if reason else "")
        self.unavailable.setToolTip(details)

    @property
    def unavailable_reason(self) -> str | None:
        """The reason shown, or ``None`` while the tabs are enabled."""
        return self._unavailable

    # -- tabs ------------------------------------------------------------------
    def show_tab(self, panel: QWidget) -> None:
        """Bring the tab holding ``panel`` (``tasks`` or ``scenarios``) to the front."""
        self.tabs.setCurrentIndex(0 if panel is self.tasks else 1)

    def current_panel(self) -> QWidget:
        """The panel of the tab in front."""
        return self.tasks if self.tabs.currentIndex() == 0 else self.scenarios

    def _on_submitted(self, *_: Any) -> None:
        self.show_tab(self.tasks)  # its "Submitted …" line

    def _on_tasks_error(self, *_: Any) -> None:
        self.show_tab(self.tasks)

    def _on_scenario_news(self, *_: Any) -> None:
        self.show_tab(self.scenarios)  # its error; one opened or loaded

    def _on_scenario_state(self, state: str) -> None:
        if state in ("running", "failed"):  # its progress; how it failed
            self.show_tab(self.scenarios)

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
        """Load a built-in scenario by name, or a scenario file; False (the error
        shown in the scenario tab) if it cannot be found or loaded."""
        self._last = self.scenarios
        return self.scenarios.load_scenario(path)  # scenario_loaded: its tab in front

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
