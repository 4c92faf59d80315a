"""The scenario panel: a scenario run against the supervisor over time.

``ScenarioPanel`` shows a scenario (built-in, or "Open…" /
``load_scenario(name or path)``), its description and duration, Start / Stop,
a progress bar and a state label; a load error shows in its own status line.
Choosing another scenario clears the progress of a run that has ended. Start
hands the keyboard focus to Stop (and the end of a run back to Start), so
the focus never falls to a field higher up and scrolls the progress away.
Start asks the client for a ``runner.scenario.ScenarioRun``
(``client.start_scenario``, through ``bridge.act``): the run lives on the
console's loop, and the panel only reads it (``state``, ``progress()``,
``tasks_submitted``) and asks it to stop (``request_stop``: it is canceled
if it has not ended within ``STOP_GRACE`` seconds). A scenario that raises -- ``SystemExit`` and
``KeyboardInterrupt`` included -- is shown with its traceback in the status
line and the window's error box; the console keeps running. A duration must
be a finite number of seconds of at most ``MAX_DURATION`` (a day).

For the window and the app: ``duration()`` / ``set_duration(seconds)``,
``start_scenario()``, ``stop_scenario()``, ``scenario_running()``,
``scenario_state`` and ``end_now()`` (cancel at once; an awaitable that ends
with the run, for a closing console).

GUI thread only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from runner import scenario as scenarios
from runner.scenario import STOP_GRACE, ScenarioRun  # noqa: F401  (STOP_GRACE: for callers)
from runner.taskscript import format_user_traceback

from ..bridge import EngineBridge
from ..theme import FAILED_COLOR
from .error_dialog import ErrorDialog
from .form_kit import ReportingPanel, ask_file, guard_wheel, row

log = logging.getLogger("gui")

PROGRESS_INTERVAL_MS = 100


class ScenarioPanel(ReportingPanel):
    """Run scenarios (see the module docstring)."""

    scenario_state_changed = Signal(str)  # running / stopping / finished / stopped / ...
    scenario_loaded = Signal(str)  # the path of a scenario loaded by load_scenario

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 errors: ErrorDialog | None = None) -> None:
        super().__init__(errors, parent)
        self.bridge = bridge
        self.scenario: scenarios.Scenario | None = None
        self.run: ScenarioRun | None = None
        self.scenario_state = "idle"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build())
        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._update_progress)
        self._on_scenario_chosen(self.scenario_combo.currentIndex())

    def _build(self) -> QWidget:
        group = QWidget()  # its tab names it
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)

        self.scenario_combo = QComboBox()
        self.scenario_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        for name in scenarios.builtin_scenarios():
            self.scenario_combo.addItem(name, str(scenarios.SCENARIO_DIR / f"{name}.py"))
        self.scenario_combo.currentIndexChanged.connect(self._on_scenario_chosen)
        self.open_scenario_button = QPushButton("Open…")
        self.open_scenario_button.setToolTip("Load a scenario from a .py file")
        self.open_scenario_button.clicked.connect(self._ask_scenario_file)  # no lambda: a cycle
        form.addRow("Scenario", row(self.scenario_combo, self.open_scenario_button))

        self.scenario_description = QLabel()
        self.scenario_description.setWordWrap(True)
        self.scenario_description.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.scenario_description)

        self.duration_spin = QDoubleSpinBox()
        self.duration_spin.setRange(0.1, scenarios.MAX_DURATION)
        self.duration_spin.setDecimals(1)
        self.duration_spin.setSuffix(" s")
        self.duration_spin.setValue(10.0)
        form.addRow("Duration", self.duration_spin)
        guard_wheel(self.scenario_combo, self.duration_spin)

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_scenario)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_scenario)
        form.addRow(row(self.start_button, self.stop_button))

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("idle")
        form.addRow(self.progress_bar)

        self.scenario_label = QLabel("No scenario running.")
        self.scenario_label.setWordWrap(True)
        self.scenario_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow(self.scenario_label)
        form.addRow(self.status_label)
        return group

    # -- choosing ------------------------------------------------------------
    def _ask_scenario_file(self) -> None:
        ask_file(self, "Open a scenario", self.load_scenario)

    def load_scenario(self, path: str | Path) -> bool:
        """Load the scenario at ``path`` (or the built-in one of that name) and
        select it; False (the error shown here) if it is unknown or broken."""
        scenario = self._load(path)
        if scenario is None:
            return False
        combo = self.scenario_combo
        combo.blockSignals(True)
        index = combo.findData(str(scenario.path))
        if index < 0:
            combo.addItem(f"{scenario.path.name} (opened)", str(scenario.path))
            index = combo.count() - 1
            combo.setItemData(index, str(scenario.path), Qt.ToolTipRole)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self._apply(scenario)
        self.scenario_loaded.emit(str(scenario.path))
        return True

    def _load(self, path: str | Path) -> scenarios.Scenario | None:
        try:
            return scenarios.load(Path(path))
        except scenarios.ScenarioError as exc:
            cause = exc.__cause__
            self.show_error(f"Cannot load scenario {Path(path).name}", str(exc),
                            format_user_traceback(cause, path) if cause is not None else "")
            return None

    def _on_scenario_chosen(self, index: int) -> None:
        path = self.scenario_combo.itemData(index)
        self._apply(self._load(path) if path else None)

    def _apply(self, scenario: scenarios.Scenario | None) -> None:
        self.scenario = scenario
        self.start_button.setEnabled(scenario is not None and not self.scenario_running())
        if not self.scenario_running():
            self._clear_progress()  # the last run was another scenario's (or this one's)
        if scenario is not None:
            self.set_status("")  # an earlier load error no longer applies
        if scenario is None:
            self.scenario_description.setText("No scenario loaded.")
            return
        self.scenario_description.setText(scenario.description or "(no description)")
        self.scenario_description.setToolTip(str(scenario.path))
        self.duration_spin.setValue(scenario.default_duration)

    def duration(self) -> float:
        """The duration a run started now would get, in seconds."""
        return self.duration_spin.value()

    def set_duration(self, seconds: object) -> bool:
        """Put ``seconds`` in the duration box; False (error shown) unless it is a
        finite number in (0, ``MAX_DURATION``] -- the box itself would clamp it."""
        try:
            value = scenarios.check_duration(seconds)
        except (TypeError, ValueError) as exc:
            self.show_error("Bad scenario duration", str(exc))
            return False
        self.duration_spin.setValue(value)
        return True

    # -- running -------------------------------------------------------------
    def scenario_running(self) -> bool:
        return self.run is not None and not self.run.done()

    def start_scenario(self) -> bool:
        """Start the chosen scenario; False if it cannot start (the reason shown)."""
        if self.scenario_running():
            return False
        if self.scenario is None:
            self.show_error("No scenario", "Choose or open a scenario first.")
            return False
        # Fresh import: the operator may have edited the file since choosing it.
        scenario = self._load(self.scenario.path)
        if scenario is None:
            return False
        self.scenario = scenario
        duration = self.duration()  # the box keeps it in (0, MAX_DURATION]
        ok, answer = self.bridge.act(f"start scenario {scenario.name} ({duration:g} s)",
                                     lambda c: c.start_scenario(scenario, duration))
        if not ok:
            self.show_error("Cannot start the scenario", str(answer))
            return False
        self.run = answer
        self.run.add_done_callback(self._on_done)
        self._set_state(self.run.state)
        self._enable(running=True)
        self._progress_timer.start()
        self._update_progress()
        return True

    def stop_scenario(self) -> None:
        """Ask the running scenario to end; it is canceled if it has not within
        ``STOP_GRACE`` seconds."""
        if not self.scenario_running() or self.run is None:
            return
        self.run.request_stop()
        self._set_state(self.run.state)
        self.stop_button.setEnabled(False)
        self._update_progress()

    def end_now(self) -> Awaitable[None] | None:
        """Cancel a running scenario at once; an awaitable that ends with it
        (``None`` if none runs)."""
        run = self.run
        if run is None or run.done():
            return None
        run.cancel()
        return asyncio.ensure_future(run.wait())

    def _on_done(self, run: ScenarioRun) -> None:
        if not shiboken6.isValid(self) or run is not self.run:
            return
        self._progress_timer.stop()
        if run.state == "failed" and run.error is not None:
            self.show_error(f"Scenario {run.name} failed", str(run.error), run.traceback)
        self._set_state(run.state)
        self._update_progress()
        self._enable(running=False)

    def _clear_progress(self) -> None:
        self.run = None
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("idle")
        self.scenario_label.setText("No scenario running.")
        self.scenario_label.setStyleSheet("")

    def _enable(self, running: bool) -> None:
        # The button that is pressed next takes the focus before the pressed one
        # is disabled: Qt would hand it to the next field in the chain, and the
        # scroll area would scroll up to show it.
        now, then = (self.stop_button, self.start_button) if running else (
            self.start_button, self.stop_button)
        now.setEnabled(running or self.scenario is not None)
        if then.hasFocus() and now.isEnabled():
            now.setFocus(Qt.FocusReason.OtherFocusReason)
        then.setEnabled(False)
        self.scenario_combo.setEnabled(not running)
        self.open_scenario_button.setEnabled(not running)

    def _set_state(self, state: str) -> None:
        if state != self.scenario_state:
            self.scenario_state = state
            self.scenario_state_changed.emit(state)

    def _update_progress(self) -> None:
        run = self.run
        if run is None:
            return
        self.progress_bar.setValue(round(1000 * run.progress()))
        self.progress_bar.setFormat(f"{run.elapsed():.1f} / {run.duration:g} s")
        failed = run.state == "failed"
        self.scenario_label.setText(f"{run.name}: {run.state} — {run.tasks_submitted} tasks "
                                    f"submitted")
        self.scenario_label.setStyleSheet(f"color: {FAILED_COLOR};" if failed else "")
