"""Scripts, scenarios and task results are untrusted: whatever they raise --
``SystemExit`` and ``KeyboardInterrupt`` included -- gives one readable message
(one error box, the log) and the console keeps running."""

from __future__ import annotations

import asyncio
import logging
import textwrap
import time
from pathlib import Path

import pytest
from guikit import run
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from gui.widgets.error_dialog import ErrorDialog
from gui.widgets.task_table import COL_ID, COL_RESULT, TaskTablePanel

WAIT_MS = 5000


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def drive(loop, predicate, timeout: float = 5.0) -> None:
    async def poll():
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not met in time"
            await asyncio.sleep(0.01)
    loop.run_until_complete(poll())


@pytest.mark.parametrize("source", [
    "import sys\nsys.exit(7)\n\ndef run():\n    pass\n",
    "raise KeyboardInterrupt\n\ndef run():\n    pass\n",
], ids=["sys_exit", "keyboard_interrupt"])
def test_a_task_script_that_exits_at_import_is_one_error(window, tmp_path, source, caplog):
    path = write(tmp_path, "exits.py", source)
    with caplog.at_level(logging.WARNING, logger="gui"):
        assert window.submit_panel.load_script(path) is False  # no SystemExit escapes
    box = window.error_box
    assert box is not None and "exits.py failed to import" in box.text()
    assert any("exits.py failed to import" in r.getMessage() for r in caplog.records)
    assert window.errors.reported == 1 and window.isVisible()


@pytest.mark.parametrize(("where", "source", "named"), [
    ("import", "import sys\nsys.exit(5)\n\nasync def run(ctx):\n    pass\n",
     "SystemExit: sys.exit(5)"),
    ("run", "import sys\n\nasync def run(ctx):\n    sys.exit(9)\n", "SystemExit: sys.exit(9)"),
    ("run", "async def run(ctx):\n    raise KeyboardInterrupt\n", "KeyboardInterrupt"),
], ids=["exit_at_import", "exit_in_run", "interrupt_in_run"])
def test_a_scenario_that_exits_is_one_error_and_the_console_runs_on(window, supervisor, qloop,
                                                                   qtbot, tmp_path, where,
                                                                   source, named):
    panel = window.submit_panel
    path = write(tmp_path, "quits.py", source)
    if where == "import":
        assert panel.load_scenario(path) is False
    else:
        assert panel.load_scenario(path) and panel.start_scenario()
        drive(qloop, lambda: panel.scenario_state == "failed")
        run(qloop, asyncio.sleep(0.2))  # a few more loop turns: no further error comes
    assert named in window.error_box.text()
    assert window.errors.reported == 1  # one message, not one per loop turn
    assert supervisor.is_active() and window.isVisible()
    qtbot.mouseClick(window.error_box.button(QMessageBox.Ok), Qt.LeftButton)
    assert supervisor.submit(lambda: 3).wait(2)  # still working


def test_repeated_errors_are_coalesced_into_the_open_box(window, qtbot):
    for i in range(200):
        window.show_error("Event loop error", f"failure {i}", f"details {i}")
    box = window.error_box
    assert box.text() == "failure 199" and box.detailedText() == "details 199"
    assert "199 more errors" in box.informativeText()
    assert window.errors.coalesced == 199
    assert len([w for w in window.findChildren(QMessageBox) if w.isVisible()]) == 1
    qtbot.mouseClick(box.button(QMessageBox.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.error_box is None, timeout=WAIT_MS)
    assert window.show_error("Again", "a new one").informativeText() == ""


def test_an_error_dialog_on_its_own_widget(qtbot):
    from PySide6.QtWidgets import QWidget
    parent = QWidget()
    qtbot.addWidget(parent)
    dialog = ErrorDialog(parent)
    first = dialog.show("t", "one")
    assert dialog.show("t", "two") is first and dialog.coalesced == 1


class ExitingRepr:
    def __repr__(self):
        raise SystemExit(3)


class ExitingId:
    def __hash__(self):
        return 1

    def __str__(self):
        raise SystemExit(4)

    __repr__ = __str__


def test_a_result_whose_repr_exits_is_shown_safely(supervisor, bridge, qtbot):
    panel = TaskTablePanel(bridge)
    qtbot.addWidget(panel)
    panel.resize(1000, 400)
    panel.show()
    task = supervisor.submit(ExitingRepr, _name="exiting repr")
    assert task.wait(2)

    def row_done():
        row = panel.model().task_row(task.id)
        return row is not None and row.status == "completed"
    qtbot.waitUntil(row_done, timeout=WAIT_MS)
    model = panel.model()
    index = model.index(model.row_of(task.id), COL_RESULT)
    shown = "<ExitingRepr object: repr() raised SystemExit>"
    assert model.data(index, Qt.DisplayRole) == shown
    assert panel.select_task(task.id)
    assert f"result:      {shown}" in panel.detail.toPlainText()


def test_a_task_id_whose_str_exits_is_shown_safely(supervisor, bridge, qtbot):
    panel = TaskTablePanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    odd = ExitingId()

    def target(_task_id):
        supervisor.mark_task_completed(task_id=_task_id)

    task = supervisor.put_task(target, task_id=odd)
    assert task.wait(2)
    qtbot.waitUntil(lambda: panel.model().task_row(odd) is not None, timeout=WAIT_MS)
    model = panel.model()
    text = model.data(model.index(model.row_of(odd), COL_ID), Qt.DisplayRole)
    assert "repr() raised SystemExit" in text
