"""Closing and the stop dialog as the operator meets them: what the buttons
say and do, Quit (Ctrl+Q), a dialog that opens fresh each time."""

from __future__ import annotations

import pytest
from guikit import run
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow
from gui.widgets.stop_dialog import INITIAL_STATUS, StopDialog


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "console.ini"), QSettings.IniFormat)


@pytest.fixture
def window(client, settings, qtbot):
    win = MainWindow(client, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.bridge.stop()
    win.log_view.close_handler()


def test_reopening_the_stop_dialog_after_a_stop_shows_its_first_state(
        supervisor, bridge, qtbot, qloop, settings):
    dialog = StopDialog(bridge, settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.wait_none.setChecked(True)
    ok, _ = run(qloop, dialog.start_stopping())
    assert ok and "Stopped." in dialog.status.text()
    dialog.hide()
    supervisor.start(loop=qloop)  # running again
    bridge.refresh()
    dialog.show()
    assert dialog.status.text() == INITIAL_STATUS
    assert dialog.stop_button.isEnabled()
    assert not dialog.stop_waiting_button.isVisible()
    assert dialog.wait_none.isChecked()  # the last choice, preselected
    assert all(w.isEnabled() for w in (dialog.wait_all, dialog.seconds, dialog.cancel_tasks))
