"""Closing and the stop dialog as the operator meets them: what the buttons
say and do, Quit (Ctrl+Q), a dialog that opens fresh each time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from guikit import run, until
from PySide6.QtCore import QSettings, QStandardPaths, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QFileDialog

from gui.settings import ConsoleSettings
from gui.widgets.stop_dialog import INITIAL_STATUS, StopDialog


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


def test_qt_settings_and_file_dialog_state_stay_out_of_the_users_home(qapp, tmp_path,
                                                                     config_isolation):
    session = config_isolation  # tests/conftest.py
    home = Path.home().resolve()
    test_config = session.config.resolve()
    assert os.environ["XDG_CONFIG_HOME"] == str(session.config)
    stores = [ConsoleSettings().store,  # the console's store without --settings
              QSettings(QSettings.UserScope, "QtProject"),  # QFileDialog's history
              QSettings(QSettings.IniFormat, QSettings.UserScope, "TaskSupervisor", "Console"),
              QSettings(QSettings.SystemScope, "TaskSupervisor", "Console")]
    for store in stores:
        path = Path(store.fileName()).resolve()
        assert path.is_relative_to(session.home.resolve()), path
        assert not path.is_relative_to(home / ".config"), path
    config = Path(QStandardPaths.writableLocation(QStandardPaths.GenericConfigLocation))
    assert config.resolve() == test_config
    dialog = QFileDialog(None, "Export", str(tmp_path))
    dialog.setOption(QFileDialog.Option.DontUseNativeDialog)
    dialog.show()
    dialog.reject()
    dialog.deleteLater()
    stores[1].sync()
    assert session.changes() == []


def test_ctrl_q_asks_through_the_close_confirmation_and_its_accept_button_quits(
        window, supervisor, qtbot, qloop):
    assert window.quit_action.shortcut().matches(QKeySequence("Ctrl+Q")) \
        == QKeySequence.ExactMatch
    file_menu = window.menuBar().actions()[0]
    assert file_menu.text() == "&File" and window.quit_action in file_menu.menu().actions()
    qtbot.keyClick(window, Qt.Key_Q, Qt.ControlModifier)
    dialog = window.stop_dialog
    assert dialog.isVisible() and window.isVisible()  # the same path as closing: it asks
    assert dialog.stop_button.text() == "Stop and quit" and dialog.stop_button.isDefault()
    assert dialog.cancel_button.text() == "Cancel"
    dialog.wait_none.setChecked(True)
    with qtbot.waitSignal(window.closed, timeout=10_000):
        async def accept():  # the stop is awaited on the loop, as in the console
            qtbot.mouseClick(dialog.stop_button, Qt.LeftButton)
            await until(lambda: not window.isVisible(), timeout=8)
        run(qloop, accept())
    assert not supervisor.is_active()


@pytest.mark.parametrize("how", ["button", "escape"])
def test_the_close_confirmations_cancel_keeps_the_window(window, supervisor, qtbot, qloop,
                                                         how):
    window.close()
    dialog = window.stop_dialog
    assert dialog.isVisible() and dialog.stop_button.text() == "Stop and quit"
    if how == "button":
        qtbot.mouseClick(dialog.cancel_button, Qt.LeftButton)
    else:
        qtbot.keyClick(dialog, Qt.Key_Escape)
    assert not dialog.isVisible() and window.isVisible() and supervisor.is_active()
    # A later stop from the Stop action no longer closes the window.
    window.stop_action.trigger()
    assert dialog.isVisible() and dialog.stop_button.text() == "Stop"
    dialog.wait_none.setChecked(True)
    ok, _ = run(qloop, dialog.start_stopping())
    assert ok and not supervisor.is_active()
    qtbot.wait(50)
    assert window.isVisible()
    assert dialog.cancel_button.text() == "Close"  # nothing left to cancel
    window.close()  # stopped: closes at once, no question
    assert not window.isVisible()


def test_stop_dialog_grab(window, tmp_path):
    """A picture of the close confirmation, to look at (tmp_path/close.png)."""
    window.close()
    dialog = window.stop_dialog
    path = os.environ.get("CLOSING_PNG") or str(tmp_path / "close.png")
    assert dialog.grab().save(path)
    dialog.reject()
