"""The console at its edges, in a real window offscreen on the qasync loop:

* a task script that calls ``sys.exit(3)`` in its ``run`` (as a thread, a
  coroutine or an mp task) or at import gives one readable message and the
  console keeps running.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QMessageBox

from engine import TASK_STATUS_COMPLETED, TASK_STATUS_FAILED, TT_COROUTINE, TT_MP, TT_THREAD
from gui.main_window import MainWindow
from gui.widgets.task_table import COL_RESULT

WAIT_MS = 5000
MP_WAIT_MS = 20000  # the first mp task starts the forkserver and its child


@pytest.fixture
def window(client, qtbot, tmp_path):
    win = MainWindow(client, settings=QSettings(str(tmp_path / "c.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.submit_panel.end_scenario_now()
    win.bridge.stop()
    win.log_view.close_handler()


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def submit_through_the_panel(qtbot, window) -> list:
    """Click the task-script panel's Submit; the ids the engine accepted."""
    panel = window.submit_panel.tasks
    with qtbot.waitSignal(panel.submitted, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.submit_button, Qt.LeftButton)
    return blocker.args[1]


def shown_result(window, task_id) -> str | None:
    """The task table's Result cell of a finished row, else ``None``."""
    model = window.task_table.model()
    row = model.task_row(task_id)
    if row is None or row.status not in ("failed", "completed"):
        return None
    return model.data(model.index(model.row_of(task_id), COL_RESULT), Qt.DisplayRole)


# -- 4. a task script calling sys.exit(3) ------------------------------------------------
EXIT_IN_RUN = '''
    """Quit the process (it must not)."""
    import sys


    def run():
        sys.exit(3)
'''

ASYNC_EXIT_IN_RUN = '''
    """Quit the process from a coroutine (it must not)."""
    import sys


    async def run():
        sys.exit(3)
'''


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["thread", "coroutine", "mp"])
def test_a_task_script_calling_sys_exit_in_run_is_one_readable_failure(
        window, supervisor, qtbot, tmp_path, kind):
    panel = window.submit_panel.tasks
    source = ASYNC_EXIT_IN_RUN if kind == "coroutine" else EXIT_IN_RUN
    path = write(tmp_path, "quits.py", source)
    if kind == "coroutine":
        supervisor.create_aloop("console", default=True, daemon=True)
        qtbot.waitUntil(lambda: panel.aloop_combo.count() == 1, timeout=WAIT_MS)
    if kind == "mp":
        supervisor.create_mp_pool(processes=1)
    assert window.submit_panel.load_script(path)
    if kind == "mp":
        panel.type_combo.setCurrentIndex(panel.type_combo.findData(TT_MP))
    assert panel.type_combo.currentData() == {"thread": TT_THREAD, "coroutine": TT_COROUTINE,
                                               "mp": TT_MP}[kind]
    panel.count_spin.setValue(3)
    ids = submit_through_the_panel(qtbot, window)
    assert len(ids) == 3
    timeout = MP_WAIT_MS if kind == "mp" else WAIT_MS
    qtbot.waitUntil(lambda: all(shown_result(window, i) is not None for i in ids),
                    timeout=timeout)
    for task_id in ids:
        assert supervisor.get_task(task_id).status == TASK_STATUS_FAILED
        text = shown_result(window, task_id)
        # One readable line naming what happened, not a traceback or a repr.
        assert "SystemExit" in text and "3" in text, text
        assert "\n" not in text and "Traceback" not in text, text
    assert window.task_table.select_task(ids[0])
    assert "SystemExit" in window.task_table.detail.toPlainText()
    # A failing task is the engine's news, not an error of the console.
    assert window.error_box is None and window.errors.reported == 0
    # The console keeps running: its loop, its supervisor, its pool.
    assert window.isVisible() and supervisor.is_active()
    assert supervisor.stats().active
    follow = supervisor.submit(lambda: "still here")
    qtbot.waitUntil(follow.is_completed, timeout=WAIT_MS)
    assert follow.status == TASK_STATUS_COMPLETED
    panel.count_spin.setValue(1)
    again = submit_through_the_panel(qtbot, window)  # and the panel still submits
    qtbot.waitUntil(lambda: shown_result(window, again[0]) is not None, timeout=timeout)


@pytest.mark.parametrize("source", [
    "import sys\nsys.exit(3)\n\ndef run():\n    pass\n",
    "import sys\n\ndef _quit():\n    sys.exit(3)\n\n_quit()\n\ndef run():\n    pass\n",
], ids=["module_level", "in_a_function_called_at_import"])
def test_a_task_script_calling_sys_exit_at_import_is_one_message(window, supervisor, qtbot,
                                                                 tmp_path, source):
    panel = window.submit_panel.tasks
    before = panel.script_combo.currentText()
    path = write(tmp_path, "quits_early.py", source)
    assert window.submit_panel.load_script(path) is False  # no SystemExit escapes
    box = window.error_box
    assert box is not None and box.isVisible()
    assert "quits_early.py failed to import" in box.text()
    assert "SystemExit" in box.text() + box.informativeText() + box.detailedText()
    assert window.errors.reported == 1  # one message
    assert "quits_early.py" in panel.status_label.text()
    assert panel.script_combo.currentText() == before  # the choice did not change
    qtbot.mouseClick(box.button(QMessageBox.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.error_box is None, timeout=WAIT_MS)
    # The console keeps running: a built-in script still goes through.
    panel.param_edits["seconds"].setText("0.01")
    (task_id,) = submit_through_the_panel(qtbot, window)
    qtbot.waitUntil(lambda: shown_result(window, task_id) is not None, timeout=WAIT_MS)
    assert supervisor.get_task(task_id).status == TASK_STATUS_COMPLETED
    assert window.isVisible() and window.errors.reported == 1
