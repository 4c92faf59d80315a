"""The task-script panel: a task script submitted as a batch of tasks.

``TaskScriptPanel`` shows a task script (built-in, or any ``.py`` file
through "Open…" / ``load_script(path)``), its description, one line edit per
``PARAMS`` entry (pre-filled with the defaults), priority, task type (thread
/ mp for plain scripts, coroutine on a chosen aloop for ``async`` ones),
count and delay. Submit binds the parameters (``runner.taskscript``), builds
a ``runner.batch.Batch`` (which refuses a batch that cannot run before any
task exists) and hands it to the client in one ``bridge.act_async`` call:
the client submits big batches from a worker thread, so the console keeps
drawing, and the engine's refusal is reported like any other operator
action. ``submitted(description, ids)`` follows an accepted batch.

The aloops offered come from the snapshot (``aloops``, ``default_aloop``),
redrawn when the bridge says they changed. Errors in user code (a script
that does not load, a bad parameter) are shown in the status line and the
window's one error box, with the traceback as details; the console keeps
running.

GUI thread only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.constants import (
    PRIORITIES,
    PRIORITY_NAMES,
    TASK_NORMAL,
    TASK_TYPE_NAMES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
)
from runner.batch import MAX_COUNT, MAX_DELAY, Batch, type_problem
from runner.taskscript import (
    TASK_DIR,
    TaskScript,
    TaskScriptError,
    builtin_task_scripts,
    convert,
    load_task_script,
)

from ..bridge import EngineBridge
from ..client import BACKGROUND_BATCH, SupervisorStats
from ..theme import FAILED_COLOR, priority_color
from .error_dialog import ErrorDialog
from .form_kit import ReportingPanel, ask_file, default_text, guard_wheel, row, swatch

CONSOLE_ALOOP = "console"
TYPE_ORDER = (TT_THREAD, TT_MP, TT_COROUTINE)


class TaskScriptPanel(ReportingPanel):
    """Submit task-script batches (see the module docstring)."""

    # (description, task ids) of an accepted batch; object: a list of 100,000 ids
    # passes as it is (a "list" signature converts it at every hop, ~0.1 s)
    submitted = Signal(str, object)

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 errors: ErrorDialog | None = None) -> None:
        super().__init__(errors, parent)
        self.bridge = bridge
        self.script: TaskScript | None = None
        self.last_ids: list[Any] = []
        self.param_edits: dict[str, QLineEdit] = {}
        self._batches: set[asyncio.Future] = set()  # submissions in progress
        self._aloops: dict[str, bool] = {}
        self._default_aloop: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build())
        bridge.aloops_changed.connect(self._on_aloops)
        stats = bridge.current_stats()  # None: an attached service has not answered yet
        if stats is not None:
            self._on_aloops(stats)
        self._on_script_chosen(self.script_combo.currentIndex())

    # -- building ----------------------------------------------------------
    def _build(self) -> QWidget:
        group = QWidget()  # its tab names it
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
        self.open_script_button.clicked.connect(self._ask_script_file)  # no lambda: a cycle
        form.addRow("Script", row(self.script_combo, self.open_script_button))

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
            self.priority_combo.addItem(swatch(priority_color(priority)),
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
        aloop_layout.addWidget(row(self.aloop_combo, self.create_aloop_button))
        aloop_layout.addWidget(self.aloop_note)
        self.aloop_label = QLabel("Aloop")
        form.addRow(self.aloop_label, self.aloop_row)

        self.count_spin = QSpinBox()
        self.count_spin.setRange(1, MAX_COUNT)
        self.count_spin.setGroupSeparatorShown(True)
        form.addRow("Count", self.count_spin)

        self.delay_spin = QDoubleSpinBox()
        self.delay_spin.setRange(0.0, MAX_DELAY)
        self.delay_spin.setDecimals(2)
        self.delay_spin.setSingleStep(0.5)
        self.delay_spin.setSuffix(" s")
        self.delay_spin.setSpecialValueText("none")
        form.addRow("Delay", self.delay_spin)
        guard_wheel(self.script_combo, self.priority_combo, self.type_combo, self.aloop_combo,
                    self.count_spin, self.delay_spin)

        self.submit_button = QPushButton("Submit")
        self.submit_button.setDefault(True)
        self.submit_button.clicked.connect(self.submit)
        form.addRow(self.submit_button)
        form.addRow(self.status_label)
        return group

    # -- task scripts --------------------------------------------------------
    def _ask_script_file(self) -> None:
        ask_file(self, "Open a task script", self.load_script)

    def load_script(self, path: str | Path) -> bool:
        """Load the task script at ``path`` and select it; False (error shown) if broken."""
        try:
            script = load_task_script(Path(path))
        except TaskScriptError as exc:
            self.show_error(f"Cannot load task script {Path(path).name}", str(exc), exc.details)
            return False
        combo = self.script_combo
        combo.blockSignals(True)
        index = combo.findData(str(script.path))
        if index < 0:
            combo.addItem(f"{script.path.name} (opened)", str(script.path))
            index = combo.count() - 1
            combo.setItemData(index, str(script.path), Qt.ToolTipRole)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)
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
        self.submit_button.setEnabled(script is not None and not self._batches)
        if script is None:
            self.description_label.setText("No script loaded.")
            return
        self.set_status("")  # an earlier load error no longer applies
        self.description_label.setText(script.description or "(no description)")
        self.description_label.setToolTip(str(script.path))
        for name, default in script.params.items():
            edit = QLineEdit(default_text(default))
            edit.setObjectName(f"param_{name}")
            kind = "any literal" if default is None else type(default).__name__
            edit.setPlaceholderText(kind)
            edit.setToolTip(f"{name}: {kind}, default {default_text(default)}")
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
        edit.setToolTip(f"{name}: default {default_text(self.script.params[name])}")

    def _restrict_types(self, script: TaskScript) -> None:
        """async scripts run only as coroutine tasks; plain ones as thread or mp."""
        model = self.type_combo.model()
        allowed = {TT_COROUTINE} if script.is_async else {TT_THREAD, TT_MP}
        if isinstance(model, QStandardItemModel):
            for index, tt in enumerate(TYPE_ORDER):
                model.item(index).setEnabled(tt in allowed)
        if self.type_combo.currentData() not in allowed:
            self.type_combo.setCurrentIndex(TYPE_ORDER.index(min(allowed, key=TYPE_ORDER.index)))
        self._on_type_chosen()

    # -- aloops ------------------------------------------------------------
    def _on_type_chosen(self, *_: Any) -> None:
        coroutine = self.type_combo.currentData() == TT_COROUTINE
        self.aloop_label.setVisible(coroutine)
        self.aloop_row.setVisible(coroutine)

    def _on_aloops(self, stats: SupervisorStats) -> None:
        self._aloops = dict(stats.aloops)
        self._default_aloop = stats.default_aloop
        aloops, default = self._aloops, self._default_aloop
        chosen = self.aloop_combo.currentData()
        self.aloop_combo.blockSignals(True)
        self.aloop_combo.clear()
        for name, running in sorted(aloops.items()):
            label = name + (" (default)" if name == default else "")
            if not running:
                label += " (stopped)"
            self.aloop_combo.addItem(label, name)
        pick = chosen if chosen in aloops else default
        if pick is not None:
            self.aloop_combo.setCurrentIndex(self.aloop_combo.findData(pick))
        self.aloop_combo.blockSignals(False)
        any_running = any(aloops.values())
        self.aloop_combo.setVisible(bool(aloops))
        self.create_aloop_button.setVisible(not any_running and CONSOLE_ALOOP not in aloops)
        self.aloop_note.setVisible(not any_running)
        self.aloop_note.setText("No aloop yet: coroutine tasks run on one." if not aloops
                                else "No aloop is running: coroutine tasks need a running one.")

    def create_console_aloop(self) -> bool:
        """Create the ``console`` aloop (default if the supervisor has none)."""
        make_default = self._default_aloop is None
        ok, _ = self.bridge.act(f"create aloop {CONSOLE_ALOOP!r}", lambda c: c.create_aloop(
            CONSOLE_ALOOP, default=make_default, daemon=True))
        if ok:  # the bridge refreshed: the combo lists it now
            self.aloop_combo.setCurrentIndex(self.aloop_combo.findData(CONSOLE_ALOOP))
        return ok

    # -- submitting ------------------------------------------------------------
    def batch(self) -> Batch | None:
        """The batch the form describes, or ``None`` (the reason shown)."""
        script = self.script
        if script is None:
            self.show_error("Nothing to submit", "Choose or open a task script first.")
            return None
        try:
            kwargs = script.bind({name: edit.text() for name, edit in self.param_edits.items()})
        except TaskScriptError as exc:
            self.show_error(f"Bad parameter for {script.name}", str(exc), exc.details)
            return None
        tt = self.type_combo.currentData()
        aloop = self.aloop_combo.currentData() if tt == TT_COROUTINE else None
        problem = type_problem(script, tt)
        if not problem and tt == TT_COROUTINE and aloop is None:
            problem = (f"There is no aloop to run {script.name} on: create one "
                       f"(“Create {CONSOLE_ALOOP}”) first.")
        if problem:
            self.show_error(f"Cannot submit {script.name}", problem)
            return None
        try:
            return Batch(script, kwargs, self.count_spin.value(),
                         self.priority_combo.currentData(), tt,
                         self.delay_spin.value() or None, aloop)
        except (TypeError, ValueError) as exc:
            self.show_error(f"Cannot submit {script.name}", str(exc))
            return None

    def submit(self) -> bool:
        """Submit the batch the form describes; False if it was not sent (the
        reason shown). ``submitted`` follows once the engine took it."""
        batch = self.batch()
        if batch is None:
            return False
        if batch.count > BACKGROUND_BATCH:
            self.set_status(f"Submitting {batch.summary}…")
        self.submit_button.setEnabled(False)
        future = asyncio.ensure_future(self._submit(batch))
        self._batches.add(future)
        future.add_done_callback(self._batches.discard)
        return True

    async def _submit(self, batch: Batch) -> None:
        description = batch.describe()
        try:
            ok, answer = await self.bridge.act_async(description,
                                                     lambda c: c.submit_batch(batch))
        finally:
            if shiboken6.isValid(self):
                self.submit_button.setEnabled(self.script is not None)
        if not shiboken6.isValid(self):
            return
        if ok:
            self.last_ids = list(answer)
            self.set_status(f"Submitted {batch.summary}.")
            self.submitted.emit(description, self.last_ids)
        else:
            self.last_ids = []
            self.last_error = f"{description} refused: {answer}"
            self.set_status(self.last_error, error=True)

    def submitting(self) -> bool:
        """A batch is on its way to the engine."""
        return bool(self._batches)
