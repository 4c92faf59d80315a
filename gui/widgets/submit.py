"""The submit panel: task scripts as batches of tasks, and scenarios over time.

``SubmitPanel`` has two groups.

* **Tasks**: a task script (built-in, or any ``.py`` file through "Open…" /
  ``load_script(path)``), its description, one line edit per ``PARAMS``
  entry (pre-filled with the defaults), priority, task type (thread / mp for
  plain scripts, coroutine on a chosen aloop for ``async`` ones), count and
  delay. Submit binds the parameters (``runner.taskscript``) and submits the
  whole batch in one ``bridge.act`` call, so the engine's refusal is reported
  like any other operator action. mp tasks submit ``run_script`` plus the
  script's path, which the child processes can import.
* **Scenarios**: a scenario (built-in or "Open…" / ``load_scenario(path)``),
  its duration, Start / Stop, a progress bar and a state label. The scenario
  coroutine runs as an asyncio task on the running (qasync) loop; Stop asks
  it to end (``ScenarioContext.request_stop``) and cancels it if it does not
  within ``STOP_GRACE`` seconds.

Errors in user code (a script or scenario that does not load, a bad
parameter, a scenario that raises -- ``SystemExit`` and ``KeyboardInterrupt``
included, see ``runner.scenario``) are shown in the status line under the
group and in the window's one error box (``ErrorDialog``: errors arriving
while it is open are coalesced into it) with the traceback as details; the
text is kept in ``last_error`` and logged. The console keeps running. A
scenario duration must be a finite number of seconds of at most
``MAX_DURATION`` (a day); anything else is refused with a message naming it.
Everything here runs on the GUI thread.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import (
    PRIORITIES,
    PRIORITY_NAMES,
    TASK_NORMAL,
    TASK_TYPE_NAMES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
    Task,
    background_task,
)
from engine.usercode import safe_repr
from gui.bridge import EngineBridge
from gui.theme import FAILED_COLOR, priority_color
from gui.widgets.error_dialog import ErrorDialog
from runner import scenario as scenarios
from runner.taskscript import (
    TASK_DIR,
    TaskScript,
    TaskScriptError,
    builtin_task_scripts,
    convert,
    format_user_traceback,
    load_task_script,
    run_script,
)

log = logging.getLogger("gui")

MAX_COUNT = 100_000
BACKGROUND_BATCH = 2_000  # batches this large are submitted from a worker thread
# The worker thread pauses this long after every PACE_EVERY submissions. A
# thread submitting flat out holds the GIL but for the interpreter's 5 ms
# switch interval, and the GUI thread, whose Qt code calls back into Python
# for every row it inserts, then waits for the GIL at each call: the window
# froze for about a second while 100,000 tasks went in. The pauses cost the
# batch about a tenth of its time.
PACE_EVERY = 250
PACE_SECONDS = 0.0005
CONSOLE_ALOOP = "console"
STOP_GRACE = 3.0  # seconds a stopped scenario gets to return before it is canceled
PROGRESS_INTERVAL_MS = 100
TYPE_ORDER = (TT_THREAD, TT_MP, TT_COROUTINE)


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


def _default_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return safe_repr(value)  # a default from the script: its __repr__ is script code


class SubmitPanel(QWidget):
    """Submit task-script batches and run scenarios (see the module docstring)."""

    submitted = Signal(str, list)   # (description, tasks) of an accepted batch
    error_shown = Signal(str)       # message + traceback of a user-code error
    scenario_state_changed = Signal(str)  # running / stopping / finished / stopped / failed

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 loop: asyncio.AbstractEventLoop | None = None,
                 errors: ErrorDialog | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.loop = loop  # where scenarios run; None: the running (or current) loop
        self.errors = errors or ErrorDialog(self)  # the window's, in the console
        self.script: TaskScript | None = None
        self.last_error = ""
        self.last_tasks: list[Task] = []
        self.scenario: scenarios.Scenario | None = None
        self.scenario_ctx: scenarios.ScenarioContext | None = None
        self.scenario_task: asyncio.Task | None = None
        self.scenario_state = "idle"
        self._acting = ""  # description of the act() in progress (to catch its refusal)
        self._batches: set[asyncio.Future] = set()  # background submissions in progress
        self._aloop_state: tuple = ()
        self.param_edits: dict[str, QLineEdit] = {}

        layout = QVBoxLayout(self)
        layout.addWidget(self._build_tasks_group())
        layout.addWidget(self._build_scenario_group())
        layout.addStretch(1)

        self._progress_timer = QTimer(self)
        self._progress_timer.setInterval(PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._update_progress)
        self._stop_timer = QTimer(self)
        self._stop_timer.setSingleShot(True)
        self._stop_timer.timeout.connect(self._cancel_scenario)

        bridge.stats_updated.connect(self._on_stats)
        bridge.error_raised.connect(self._on_engine_refusal)
        self._refresh_aloops()
        self._on_script_chosen(self.script_combo.currentIndex())
        self._on_scenario_chosen(self.scenario_combo.currentIndex())

    # -- building ----------------------------------------------------------
    def _build_tasks_group(self) -> QGroupBox:
        group = QGroupBox("Submit tasks")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)

        self.script_combo = QComboBox()
        self.script_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        for name in builtin_task_scripts():
            self.script_combo.addItem(name, str(TASK_DIR / f"{name}.py"))
        if self.script_combo.findText("sleep") >= 0:
            self.script_combo.setCurrentIndex(self.script_combo.findText("sleep"))
        self.script_combo.currentIndexChanged.connect(self._on_script_chosen)
        self.open_script_button = QPushButton("Open…")
        self.open_script_button.setToolTip("Load a task script from a .py file")
        self.open_script_button.clicked.connect(self._ask_script_file)
        form.addRow("Script", _row(self.script_combo, self.open_script_button))

        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.description_label.setStyleSheet("color: palette(placeholder-text);")
        form.addRow(self.description_label)

        self.params_box = QWidget()
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setContentsMargins(0, 0, 0, 0)
        self.params_form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        form.addRow("Parameters", self.params_box)

        self.priority_combo = QComboBox()
        for priority in PRIORITIES:
            self.priority_combo.addItem(_swatch(priority_color(priority)),
                                        PRIORITY_NAMES[priority], priority)
        self.priority_combo.setCurrentIndex(PRIORITIES.index(TASK_NORMAL))
        form.addRow("Priority", self.priority_combo)

        self.type_combo = QComboBox()
        for tt in TYPE_ORDER:
            self.type_combo.addItem(TASK_TYPE_NAMES[tt], tt)
        self.type_combo.currentIndexChanged.connect(self._on_type_chosen)
        form.addRow("Type", self.type_combo)

        self.aloop_combo = QComboBox()
        self.aloop_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.create_aloop_button = QPushButton(f"Create “{CONSOLE_ALOOP}”")
        self.create_aloop_button.setToolTip(
            f"Create an aloop named {CONSOLE_ALOOP!r} (the default one if there is none)")
        self.create_aloop_button.clicked.connect(self.create_console_aloop)
        self.aloop_note = QLabel("No aloop yet: coroutine tasks run on one.")
        self.aloop_note.setWordWrap(True)
        self.aloop_row = QWidget()
        aloop_layout = QVBoxLayout(self.aloop_row)
        aloop_layout.setContentsMargins(0, 0, 0, 0)
        aloop_layout.addWidget(_row(self.aloop_combo, self.create_aloop_button))
        aloop_layout.addWidget(self.aloop_note)
        self.aloop_label = QLabel("Aloop")
        form.addRow(self.aloop_label, self.aloop_row)

        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, MAX_COUNT)
        self.count_spin.setGroupSeparatorShown(True)
        form.addRow("Count", self.count_spin)

        self.delay_spin = QDoubleSpinBox()
        self.delay_spin.setRange(0.0, 86_400.0)
        self.delay_spin.setDecimals(2)
        self.delay_spin.setSingleStep(0.5)
        self.delay_spin.setSuffix(" s")
        self.delay_spin.setSpecialValueText("none")
        form.addRow("Delay", self.delay_spin)

        self.submit_button = QPushButton("Submit")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.submit)
        form.addRow(self.submit_button)

        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.status_label.setVisible(False)
        form.addRow(self.status_label)
        return group

    def _build_scenario_group(self) -> QGroupBox:
        group = QGroupBox("Scenarios")
        form = QFormLayout(group)
        form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)

        self.scenario_combo = QComboBox()
        self.scenario_combo.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        for name in scenarios.builtin_scenarios():
            self.scenario_combo.addItem(name, str(scenarios.SCENARIO_DIR / f"{name}.py"))
        self.scenario_combo.currentIndexChanged.connect(self._on_scenario_chosen)
        self.open_scenario_button = QPushButton("Open…")
        self.open_scenario_button.setToolTip("Load a scenario from a .py file")
        self.open_scenario_button.clicked.connect(self._ask_scenario_file)
        form.addRow("Scenario", _row(self.scenario_combo, self.open_scenario_button))

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

        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start_scenario)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop_scenario)
        form.addRow(_row(self.start_button, self.stop_button))

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat("idle")
        form.addRow(self.progress_bar)

        self.scenario_label = QLabel("No scenario running.")
        self.scenario_label.setWordWrap(True)
        self.scenario_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        form.addRow(self.scenario_label)
        return group

    # -- task scripts --------------------------------------------------------
    def _ask_script_file(self) -> None:
        self._ask_file("Open a task script", self.load_script)

    def _ask_file(self, title: str, slot: Any) -> None:
        dialog = QFileDialog(self, title, str(Path.cwd()), "Python files (*.py)")
        dialog.setFileMode(QFileDialog.ExistingFile)
        dialog.fileSelected.connect(slot)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()  # never exec(): the Qt loop is the asyncio loop

    def load_script(self, path: str | Path) -> bool:
        """Load the task script at ``path`` and select it; False (error shown) if broken."""
        try:
            script = load_task_script(Path(path))
        except TaskScriptError as exc:
            self.show_error(f"Cannot load task script {Path(path).name}", str(exc), exc.details)
            return False
        index = self.script_combo.findData(str(script.path))
        if index < 0:
            self.script_combo.blockSignals(True)
            self.script_combo.addItem(f"{script.path.name} (opened)", str(script.path))
            index = self.script_combo.count() - 1
            self.script_combo.setItemData(index, str(script.path), Qt.ToolTipRole)
            self.script_combo.blockSignals(False)
        self.script_combo.blockSignals(True)
        self.script_combo.setCurrentIndex(index)
        self.script_combo.blockSignals(False)
        self._apply_script(script)
        return True

    def _on_script_chosen(self, index: int) -> None:
        path = self.script_combo.itemData(index)
        if path is None:
            self._apply_script(None)
            return
        try:
            script = load_task_script(Path(path))
        except TaskScriptError as exc:
            self._apply_script(None)
            self.show_error(f"Cannot load task script {Path(path).name}", str(exc), exc.details)
            return
        self._apply_script(script)

    def _apply_script(self, script: TaskScript | None) -> None:
        self.script = script
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self.param_edits = {}
        self.submit_button.setEnabled(script is not None)
        if script is None:
            self.description_label.setText("No script loaded.")
            return
        self._set_status("")  # an earlier load error no longer applies
        self.description_label.setText(script.description or "(no description)")
        self.description_label.setToolTip(str(script.path))
        for name, default in script.params.items():
            edit = QLineEdit(_default_text(default))
            edit.setObjectName(f"param_{name}")
            kind = "any literal" if default is None else type(default).__name__
            edit.setPlaceholderText(kind)
            edit.setToolTip(f"{name}: {kind}, default {_default_text(default)}")
            edit.setProperty("param", name)
            edit.textChanged.connect(self._on_param_edited)  # no lambda: it would hold self
            self.params_form.addRow(name, edit)
            self.param_edits[name] = edit
        if not script.params:
            self.params_form.addRow(QLabel("(none)"))
        self._restrict_types(script)

    def _on_param_edited(self, _text: str) -> None:
        """Mark a value that will not convert (the message comes on Submit)."""
        edit = self.sender()
        name = edit.property("param") if isinstance(edit, QLineEdit) else None
        if self.script is None or name not in self.script.params:
            return
        try:
            convert(self.script.name, name, edit.text(), self.script.params[name])
        except TaskScriptError as exc:
            edit.setStyleSheet(f"border: 1px solid {FAILED_COLOR};")
            edit.setToolTip(str(exc))
            return
        edit.setStyleSheet("")
        edit.setToolTip(f"{name}: default {_default_text(self.script.params[name])}")

    def _restrict_types(self, script: TaskScript) -> None:
        """async scripts run only as coroutine tasks; plain ones as thread or mp."""
        model = self.type_combo.model()
        allowed = {TT_COROUTINE} if script.is_async else {TT_THREAD, TT_MP}
        if isinstance(model, QStandardItemModel):
            for row, tt in enumerate(TYPE_ORDER):
                model.item(row).setEnabled(tt in allowed)
        if self.type_combo.currentData() not in allowed:
            self.type_combo.setCurrentIndex(TYPE_ORDER.index(min(allowed, key=TYPE_ORDER.index)))
        self._on_type_chosen()

    # -- aloops ------------------------------------------------------------
    def _on_type_chosen(self, *_: Any) -> None:
        coroutine = self.type_combo.currentData() == TT_COROUTINE
        self.aloop_label.setVisible(coroutine)
        self.aloop_row.setVisible(coroutine)
        if coroutine:
            self._refresh_aloops()

    def _on_stats(self, stats: Any) -> None:
        default = self.bridge.supervisor.get_aloop()
        state = (tuple(sorted(stats.aloops.items())), default.name if default else None)
        if state != self._aloop_state:
            self._refresh_aloops()

    def _refresh_aloops(self) -> None:
        sup = self.bridge.supervisor
        aloops = sup.aloops
        default = sup.get_aloop()
        self._aloop_state = (tuple(sorted((n, a.is_active()) for n, a in aloops.items())),
                             default.name if default else None)
        chosen = self.aloop_combo.currentData()
        self.aloop_combo.blockSignals(True)
        self.aloop_combo.clear()
        for name, aloop in sorted(aloops.items()):
            label = name + (" (default)" if aloop is default else "")
            if not aloop.is_active():
                label += " (stopped)"
            self.aloop_combo.addItem(label, name)
        pick = chosen if chosen in aloops else (default.name if default is not None else None)
        if pick is not None:
            self.aloop_combo.setCurrentIndex(self.aloop_combo.findData(pick))
        self.aloop_combo.blockSignals(False)
        any_active = any(a.is_active() for a in aloops.values())
        self.aloop_combo.setVisible(bool(aloops))
        self.create_aloop_button.setVisible(not any_active and CONSOLE_ALOOP not in aloops)
        self.aloop_note.setVisible(not any_active)
        self.aloop_note.setText("No aloop yet: coroutine tasks run on one." if not aloops
                                else "No aloop is running: coroutine tasks need a running one.")

    def create_console_aloop(self) -> bool:
        """Create the ``console`` aloop (default if the supervisor has none)."""
        sup = self.bridge.supervisor
        make_default = sup.get_aloop() is None
        ok, _ = self._act(f"create aloop {CONSOLE_ALOOP!r}", sup.create_aloop, CONSOLE_ALOOP,
                          default=make_default, daemon=True)
        self._refresh_aloops()
        if ok:
            self.aloop_combo.setCurrentIndex(self.aloop_combo.findData(CONSOLE_ALOOP))
        return ok

    # -- submitting ------------------------------------------------------------
    def submit(self) -> list[Task]:
        """Bind the parameters and submit the batch; the tasks (empty if refused)."""
        script = self.script
        if script is None:
            self.show_error("Nothing to submit", "Choose or open a task script first.")
            return []
        try:
            kwargs = script.bind({name: edit.text() for name, edit in self.param_edits.items()})
        except TaskScriptError as exc:
            self.show_error(f"Bad parameter for {script.name}", str(exc), exc.details)
            return []
        priority = self.priority_combo.currentData()
        tt = self.type_combo.currentData()
        count = self.count_spin.value()
        delay = self.delay_spin.value() or None
        aloop = self.aloop_combo.currentData() if tt == TT_COROUTINE else None
        problem = self._type_problem(script, tt, aloop)
        if problem:
            self.show_error(f"Cannot submit {script.name}", problem)
            return []
        where = f"{TASK_TYPE_NAMES[tt]}" + (f" on {aloop}" if aloop else "")
        description = f"submit {count} × {script.name} ({PRIORITY_NAMES[priority]}, {where})"
        if delay:
            description += f" after {delay:g} s"
        tasks: list[Task] = []
        self.last_tasks = tasks
        batch = (tasks, script, kwargs, priority, tt, count, delay, aloop)
        summary = f"{count} × {script.name} ({PRIORITY_NAMES[priority]}, {where})"
        if count >= BACKGROUND_BATCH:
            # Thousands of submissions take seconds: do them on a worker thread
            # (the engine is thread-safe) so the console stays responsive.
            self._set_status(f"Submitting {summary}…")
            self.submit_button.setEnabled(False)
            future = asyncio.ensure_future(self._submit_in_background(description, batch,
                                                                      summary))
            self._batches.add(future)
            future.add_done_callback(self._batches.discard)
            return tasks
        ok, _ = self._act(description, self._submit_batch, *batch)
        self._batch_done(ok, description, tasks, count, summary)
        return tasks

    async def _submit_in_background(self, description: str, batch: tuple,
                                    summary: str) -> None:
        self._acting = description
        try:
            ok, _ = await self.bridge.act_in_thread(description, self._submit_batch, *batch)
        finally:
            self._acting = ""
            if shiboken6.isValid(self):
                self.submit_button.setEnabled(True)
        if shiboken6.isValid(self):
            self._batch_done(ok, description, batch[0], batch[5], summary)

    def _batch_done(self, ok: bool, description: str, tasks: list[Task], count: int,
                    summary: str) -> None:
        if ok:
            self._set_status(f"Submitted {summary}.")
            self.submitted.emit(description, tasks)
        elif tasks:  # refused part-way: say what did go in
            self._set_status(f"{self.last_error} — {len(tasks)} of {count} were submitted "
                             f"before that.", error=True)

    def _type_problem(self, script: TaskScript, tt: int, aloop: str | None) -> str:
        if script.is_async and tt != TT_COROUTINE:
            return (f"{script.name} has an 'async def run': it runs only as a coroutine "
                    f"task on an aloop.")
        if not script.is_async and tt == TT_COROUTINE:
            return f"{script.name} has a plain 'def run': submit it as a thread or mp task."
        if tt == TT_COROUTINE and aloop is None:
            return (f"There is no aloop to run {script.name} on: create one "
                    f"(“Create {CONSOLE_ALOOP}”) first.")
        return ""

    def _submit_batch(self, tasks: list[Task], script: TaskScript, kwargs: dict[str, Any],
                      priority: int, tt: int, count: int, delay: float | None,
                      aloop: str | None) -> list[Task]:
        """Runs inside ``bridge.act``: appends to ``tasks`` as it goes, so a
        refusal part-way still leaves the submitted ones known."""
        sup = self.bridge.supervisor
        if tt == TT_COROUTINE:
            submit = background_task(script.run, name=script.name, priority=priority,
                                     delay=delay, loop=aloop, supervisor=sup)

            def one() -> Task:
                return submit(**kwargs)
        elif tt == TT_MP:
            path = str(script.path)

            def one() -> Task:
                return sup.submit(run_script, path, kwargs, _priority=priority, _delay=delay,
                                  _name=script.name, _tt=TT_MP)
        else:
            def one() -> Task:
                return sup.submit(script.run, _priority=priority, _delay=delay,
                                  _name=script.name, _tt=TT_THREAD, **kwargs)
        pace = threading.current_thread() is not threading.main_thread()
        for i in range(1, count + 1):
            tasks.append(one())
            if pace and i % PACE_EVERY == 0:
                time.sleep(PACE_SECONDS)  # let the GUI thread have the GIL (see PACE_EVERY)
        return tasks

    def _act(self, description: str, fn: Any, *args: Any, **kwargs: Any) -> tuple[bool, Any]:
        self._acting = description
        try:
            return self.bridge.act(description, fn, *args, **kwargs)
        finally:
            self._acting = ""

    def _on_engine_refusal(self, what: str, message: str) -> None:
        if what and what == self._acting:  # ours: say it here too, no dialog
            self.last_error = f"{what} refused: {message}"
            self._set_status(self.last_error, error=True)

    # -- scenarios ---------------------------------------------------------------
    def _ask_scenario_file(self) -> None:
        self._ask_file("Open a scenario", self.load_scenario)

    def load_scenario(self, path: str | Path) -> bool:
        """Load the scenario at ``path`` and select it; False (error shown) if broken."""
        scenario = self._load_scenario(path)
        if scenario is None:
            return False
        index = self.scenario_combo.findData(str(scenario.path))
        self.scenario_combo.blockSignals(True)
        if index < 0:
            self.scenario_combo.addItem(f"{scenario.path.name} (opened)", str(scenario.path))
            index = self.scenario_combo.count() - 1
            self.scenario_combo.setItemData(index, str(scenario.path), Qt.ToolTipRole)
        self.scenario_combo.setCurrentIndex(index)
        self.scenario_combo.blockSignals(False)
        self._apply_scenario(scenario)
        return True

    def _load_scenario(self, path: str | Path) -> scenarios.Scenario | None:
        try:
            return scenarios.load(Path(path))
        except scenarios.ScenarioError as exc:
            self.show_error(f"Cannot load scenario {Path(path).name}", str(exc),
                            _cause_traceback(exc, path))
            return None

    def _on_scenario_chosen(self, index: int) -> None:
        path = self.scenario_combo.itemData(index)
        self._apply_scenario(self._load_scenario(path) if path else None)

    def _apply_scenario(self, scenario: scenarios.Scenario | None) -> None:
        self.scenario = scenario
        running = self.scenario_running()
        self.start_button.setEnabled(scenario is not None and not running)
        if scenario is None:
            self.scenario_description.setText("No scenario loaded.")
            return
        self.scenario_description.setText(scenario.description or "(no description)")
        self.scenario_description.setToolTip(str(scenario.path))
        self.duration_spin.setValue(scenario.default_duration)

    def scenario_running(self) -> bool:
        return self.scenario_task is not None and not self.scenario_task.done()

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

    def start_scenario(self) -> bool:
        """Start the chosen scenario on the running loop; False if it cannot start."""
        if self.scenario_running():
            return False
        if self.scenario is None:
            self.show_error("No scenario", "Choose or open a scenario first.")
            return False
        # Fresh import: the operator may have edited the file since choosing it.
        scenario = self._load_scenario(self.scenario.path)
        if scenario is None:
            return False
        loop = self.loop or _host_loop()
        if loop is None or loop.is_closed():
            self.show_error("Cannot start the scenario", "No asyncio loop is running.")
            return False
        duration = self.duration_spin.value()  # the box keeps it in (0, MAX_DURATION]
        ctx = scenarios.ScenarioContext(self.bridge.supervisor, duration, scenario.name)
        self.scenario, self.scenario_ctx = scenario, ctx
        self.scenario_task = loop.create_task(scenario.run(ctx), name=f"scenario {scenario.name}")
        self.scenario_task.add_done_callback(self._on_scenario_done)
        log.info("scenario %s started for %g s", scenario.name, duration)
        self.bridge.action_applied.emit(f"start scenario {scenario.name} ({duration:g} s)")
        self._set_scenario_state("running")
        self.start_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.scenario_combo.setEnabled(False)
        self.open_scenario_button.setEnabled(False)
        self._progress_timer.start()
        self._update_progress()
        return True

    def stop_scenario(self) -> None:
        """Ask the running scenario to end; cancel it if it has not within ``STOP_GRACE``."""
        if not self.scenario_running() or self.scenario_ctx is None:
            return
        self.scenario_ctx.request_stop()
        self._set_scenario_state("stopping")
        self.stop_button.setEnabled(False)
        self._stop_timer.start(int(STOP_GRACE * 1000))
        self._update_progress()

    def _cancel_scenario(self) -> None:
        if self.scenario_running():
            log.warning("scenario did not end %g s after Stop: canceling it", STOP_GRACE)
            self.scenario_task.cancel()

    def _on_scenario_done(self, task: asyncio.Task) -> None:
        if not shiboken6.isValid(self) or task is not self.scenario_task:
            if not task.cancelled() and task.exception() is not None:  # retrieve it
                log.error("scenario raised after its panel was gone", exc_info=task.exception())
            return
        self._stop_timer.stop()
        self._progress_timer.stop()
        name = self.scenario.name if self.scenario else "scenario"
        stopping = self.scenario_state == "stopping"
        if task.cancelled():
            state = "stopped"
        else:
            exc = task.exception()  # retrieved: the loop does not report it again
            if exc is not None:  # a ScenarioRunError: the scenario's error is its cause
                state = "failed"
                path = self.scenario.path if self.scenario else ""
                self.show_error(f"Scenario {name} failed", str(exc),
                                _cause_traceback(exc, path))
            else:
                state = "stopped" if stopping else "finished"
        self._set_scenario_state(state)
        self._update_progress()
        self.start_button.setEnabled(self.scenario is not None)
        self.stop_button.setEnabled(False)
        self.scenario_combo.setEnabled(True)
        self.open_scenario_button.setEnabled(True)

    def _set_scenario_state(self, state: str) -> None:
        self.scenario_state = state
        self.scenario_state_changed.emit(state)

    def _update_progress(self) -> None:
        ctx = self.scenario_ctx
        if ctx is None:
            return
        elapsed = min(ctx.elapsed(), ctx.duration)
        if self.scenario_state == "finished":
            elapsed = ctx.duration
        self.progress_bar.setValue(round(1000 * elapsed / ctx.duration) if ctx.duration else 0)
        self.progress_bar.setFormat(f"{elapsed:.1f} / {ctx.duration:g} s")
        name = self.scenario.name if self.scenario else "scenario"
        color = FAILED_COLOR if self.scenario_state == "failed" else None
        text = f"{name}: {self.scenario_state} — {len(ctx.tasks)} tasks submitted"
        self.scenario_label.setText(text)
        self.scenario_label.setStyleSheet(f"color: {color};" if color else "")

    # -- errors and status -------------------------------------------------------
    @property
    def error_box(self) -> QMessageBox | None:
        """The open error box (shared with the window in the console), or ``None``."""
        return self.errors.box

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Show ``message`` (and ``details``, a traceback) inline and in the error box."""
        self.last_error = f"{message}\n\n{details}".strip() if details else message
        log.warning("%s: %s", title, message)
        self._set_status(message, error=True)
        self.errors.show(title, message, details, QMessageBox.Critical)
        self.error_shown.emit(self.last_error)

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status_label.setText(text)
        self.status_label.setVisible(bool(text))
        self.status_label.setStyleSheet(f"color: {FAILED_COLOR};" if error else "")


def _row(*widgets: QWidget) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget)
    return row


def _cause_traceback(exc: BaseException, path: str | Path) -> str:
    """The traceback of what the scenario raised (the error's cause), trimmed to
    the scenario file; empty for errors of our own (a missing ``run``...)."""
    cause = exc.__cause__
    return format_user_traceback(cause, path) if cause is not None else ""


def _host_loop() -> asyncio.AbstractEventLoop | None:
    """The loop scenarios run on: the running one, else the thread's current one."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        return asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:
        return None
