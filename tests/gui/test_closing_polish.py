"""Closing and the stop dialog as the operator meets them: what the buttons
say and do, Quit (Ctrl+Q), a dialog that opens fresh each time."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from guikit import run
from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog

from gui.main_window import MainWindow
from gui.settings import ConsoleSettings
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
