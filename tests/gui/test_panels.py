"""Aloops, workers, log and stop dialog panels driven as an operator would."""

from __future__ import annotations

import asyncio
import logging
import threading

from guikit import run, until
from PySide6.QtCore import QSettings, Qt

from engine import TASK_LOW, TASK_STATUS_CANCELED, TASK_STATUS_COMPLETED, background_worker
from gui.widgets.aloops import AloopsPanel
from gui.widgets.log_view import LogView
from gui.widgets.stop_dialog import StopDialog
from gui.widgets.workers import WorkersPanel


def test_aloop_create_default_stop_start(supervisor, bridge, qtbot, qloop):
    panel = AloopsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.keyClicks(panel.name_edit, "io")
    panel.default_check.setChecked(True)
    qtbot.mouseClick(panel.create_button, Qt.LeftButton)
    assert supervisor.get_aloop("io").is_active()
    assert supervisor.get_aloop() is supervisor.get_aloop("io")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=2000)
    assert panel.table.item(0, 1).text() == "running"
    assert panel.table.item(0, 3).text() == "✓"
    panel.select("io")
    future = panel.stop_selected()
    run(qloop, future)
    assert not supervisor.get_aloop("io").is_active()
    qtbot.waitUntil(lambda: panel.table.item(0, 1).text() == "stopped", timeout=2000)
    panel.select("io")
    qtbot.mouseClick(panel.start_button, Qt.LeftButton)
    assert supervisor.get_aloop("io").is_active()
    supervisor.stop_aloop("io")


def test_duplicate_aloop_name_is_refused_readably(supervisor, bridge, qtbot):
    panel = AloopsPanel(bridge)
    qtbot.addWidget(panel)
    supervisor.create_aloop("dup", daemon=True)
    with qtbot.waitSignal(bridge.error_raised, timeout=1000) as blocker:
        qtbot.keyClicks(panel.name_edit, "dup")
        qtbot.mouseClick(panel.create_button, Qt.LeftButton)
    assert "already exists" in blocker.args[1]
    supervisor.stop_aloop("dup")


def test_workers_panel_lists_stops_and_starts_a_worker(supervisor, bridge, qtbot, qloop):
    # Workers run on the supervisor's loop, the Qt loop: drive it with run().
    ran = threading.Event()

    @background_worker(interval=0.05, name="ticker", supervisor=supervisor)
    def ticker(**_):
        ran.set()

    panel = WorkersPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()

    async def scenario():
        ticker.start()
        await until(lambda: panel.table.rowCount() == 1 and ran.is_set())
        assert [panel.table.item(0, c).text() for c in (0, 1, 2)] == \
            ["ticker", "interval worker", "running"]
        await until(lambda: panel.table.item(0, 3).text() not in ("0", "—"))  # runs counted
        panel.select("ticker")
        await panel.stop_selected()
        assert not ticker.is_active()
        await until(lambda: panel.table.item(0, 2).text() == "stopped")
        panel.select("ticker")
        assert panel.start_button.isEnabled()  # a stopped worker is still listed, by name
        ran.clear()
        await panel.start_selected()
        assert ticker.is_active()
        await until(ran.is_set)
        ticker.stop(wait=False)

    run(qloop, scenario())


def test_log_view_shows_engine_records_and_filters_by_level(qtbot):
    view = LogView()
    qtbot.addWidget(view)
    try:
        logging.getLogger("engine.test").info("an info line")
        logging.getLogger("engine.test").warning("a warning line")
        qtbot.waitUntil(lambda: any("a warning line" in line for line in view.lines()),
                        timeout=2000)
        assert any("an info line" in line for line in view.lines())
        view.text.clear()
        view.set_level("WARNING")
        logging.getLogger("engine.test").info("hidden info")
        logging.getLogger("engine.test").error("shown error")
        qtbot.waitUntil(lambda: any("shown error" in line for line in view.lines()),
                        timeout=2000)
        assert not any("hidden info" in line for line in view.lines())
    finally:
        view.close_handler()


def make_dialog(bridge, tmp_path, qtbot):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.IniFormat)
    dialog = StopDialog(bridge, settings)
    qtbot.addWidget(dialog)
    return dialog, settings


def test_stop_waiting_for_tasks_keeps_the_loop_responsive(supervisor, bridge, qtbot, qloop,
                                                          tmp_path):
    gate = threading.Event()
    dialog, _ = make_dialog(bridge, tmp_path, qtbot)
    dialog.show()
    running = supervisor.submit(gate.wait)
    dialog.wait_all.setChecked(True)
    ticks = []

    async def scenario():
        future = dialog.start_stopping()
        for _ in range(5):  # the loop keeps running while astop waits
            await asyncio.sleep(0.02)
            ticks.append(1)
        assert not future.done() and dialog.is_stopping()
        assert not supervisor.is_active()
        gate.set()
        await future

    with qtbot.waitSignal(dialog.stopped, timeout=5000):
        run(qloop, scenario())
    assert len(ticks) == 5 and running.status == TASK_STATUS_COMPLETED
    assert "Stopped" in dialog.status.text()


def test_stop_with_bounded_wait_and_cancel_then_restart(supervisor, bridge, qtbot, qloop,
                                                        tmp_path):
    gate = threading.Event()
    dialog, settings = make_dialog(bridge, tmp_path, qtbot)
    blockers = [supervisor.submit(gate.wait) for _ in range(8)]  # pool is full
    queued = supervisor.submit(int, _priority=TASK_LOW)
    delayed = supervisor.submit(int, _delay=30)
    dialog.set_options(wait=0.3, stop_schedulers=True, cancel_tasks=True)
    run(qloop, dialog.start_stopping())
    assert queued.status == TASK_STATUS_CANCELED and delayed.status == TASK_STATUS_CANCELED
    assert not supervisor.is_active()
    assert settings.value("stop/wait_mode") == "seconds"
    gate.set()
    assert all(t.wait(2) for t in blockers)
    supervisor.start(loop=qloop)  # restart works
    assert supervisor.submit(lambda: 5).wait(2)


def test_stop_without_waiting_returns_at_once(supervisor, bridge, qtbot, qloop, tmp_path):
    gate = threading.Event()
    dialog, _ = make_dialog(bridge, tmp_path, qtbot)
    supervisor.submit(gate.wait)
    dialog.wait_none.setChecked(True)
    run(qloop, dialog.start_stopping(), timeout=2)
    assert not supervisor.is_active()
    gate.set()


def test_stop_dialog_defaults_to_the_last_choice(bridge, qtbot, tmp_path):
    dialog, settings = make_dialog(bridge, tmp_path, qtbot)
    dialog.set_options(wait=False, stop_schedulers=False, cancel_tasks=True)
    dialog.remember_options()
    again = StopDialog(bridge, settings)
    qtbot.addWidget(again)
    assert again.options() == {"wait": False, "stop_schedulers": False, "cancel_tasks": True}
