"""The whole window: layout, shortcuts, settings, themes, closing cleanly, screenshots."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

from guikit import run, until
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtWidgets import QApplication

from engine import TT_MP
from gui.main_window import SHORTCUTS, MainWindow
from runner.workloads import burn

ROOT = Path(__file__).resolve().parents[2]


def close_window(win, qloop, qtbot) -> None:
    """Close as the operator does: the stop dialog opens, Stop, the window goes."""
    with qtbot.waitSignal(win.closed, timeout=10_000):
        async def closing():
            win.close()
            assert win.stop_dialog.isVisible()  # closing asks how to stop
            qtbot.mouseClick(win.stop_dialog.stop_button, Qt.LeftButton)
            await until(lambda: not win.isVisible(), timeout=8)
        run(qloop, closing())


def test_screenshot_of_the_full_window_is_large_and_not_blank(window, supervisor, qtbot,
                                                              tmp_path):
    gate = threading.Event()
    for _ in range(12):
        supervisor.submit(gate.wait)
    qtbot.waitUntil(lambda: window.bridge.last_stats.thread.queued[100] > 0, timeout=3000)
    window.resize(1400, 900)
    path = tmp_path / "window.png"
    assert window.grab().save(str(path))
    image = QImage(str(path))
    assert image.width() >= 1000 and image.height() >= 650
    colors = {image.pixel(x, y) for x in range(0, image.width(), 37)
              for y in range(0, image.height(), 29)}
    assert len(colors) > 20, "the screenshot looks blank"
    gate.set()


def test_shortcuts_pause_graphs_and_submit(window, supervisor, qtbot):
    assert window.pause_action.shortcut().toString() == SHORTCUTS["pause"]
    assert window.start_action.shortcut().toString() == SHORTCUTS["start"]
    assert window.stop_action.shortcut().toString() == SHORTCUTS["stop"]
    window.pause_action.trigger()
    assert window.graphs.paused
    window.pause_action.trigger()
    assert not window.graphs.paused
    before = supervisor.stats().thread.submitted
    window.submit_action.trigger()  # the Submit panel's current script (sleep)
    # the batch goes through the client's async submit_batch: it lands on the loop
    qtbot.waitUntil(lambda: supervisor.stats().thread.submitted == before + 1, timeout=5000)


def test_theme_switch_changes_the_palette_and_persists(window, settings, qtbot, qapp):
    window.theme_actions["light"].trigger()
    light = qapp.palette().color(QPalette.Window).lightness()
    window.theme_actions["dark"].trigger()
    dark = qapp.palette().color(QPalette.Window).lightness()
    assert dark < light
    assert settings.value("view/theme") == "dark"
    window.theme_actions["light"].trigger()


def test_the_theme_is_one_choice(window):
    actions = window.theme_actions
    assert window.theme_group.isExclusive()
    assert set(window.theme_group.actions()) == set(actions.values())
    actions["dark"].trigger()
    actions["dark"].trigger()  # choosing the current theme again keeps it chosen
    assert [name for name, a in actions.items() if a.isChecked()] == ["dark"]
    actions["light"].trigger()
    assert [name for name, a in actions.items() if a.isChecked()] == ["light"]


def test_settings_round_trip(supervisor, client, settings, qtbot):
    first = MainWindow(client, settings=settings)
    qtbot.addWidget(first)
    first.resize(760, 590)
    first.bridge.set_refresh_rate(5)
    first.bridge.act("resize", lambda c: c.set_thread_pool(pool_size=7, reserve_normal=3))
    first.bridge.act("processes", lambda c: c.set_mp_pool(pool_size=1, reserve_normal=0,
                                                          reserve_high=1))
    first.docks["Log"].hide()
    first.save_settings()
    first.bridge.stop()
    first.log_view.close_handler()
    supervisor.set_thread_pool(pool_size=2, reserve_normal=1)
    supervisor.mp_pool = None  # the saved process pool settings recreate one
    second = MainWindow(client, settings=settings)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (760, 590)
    assert second.bridge.refresh_hz == 5
    assert supervisor.stats().thread.pool_size == 7
    assert supervisor.stats().thread.reserve_normal == 3
    mp = supervisor.stats().mp
    assert (mp.pool_size, mp.reserve_normal, mp.reserve_high) == (1, 0, 1)
    assert supervisor.mp_pool is not None
    assert second.docks["Log"].isHidden()
    second.bridge.stop()
    second.log_view.close_handler()


class _Executor(concurrent.futures.Executor):
    """An executor whose worker count cannot be known (like a Dask client's)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_process_pool_settings_are_saved_whenever_a_pool_exists(window, supervisor, settings):
    window.save_settings()
    assert not settings.contains("pools/mp/pool_size")  # no pool: none would be recreated
    supervisor.mp_pool = _Executor()  # a pool whose processes are not counted
    window.bridge.act("processes", lambda c: c.set_mp_pool(pool_size=2, reserve_normal=0,
                                                           reserve_high=1))
    window.save_settings()
    assert [int(settings.value(f"pools/mp/{key}"))
            for key in ("pool_size", "reserve_normal", "reserve_high")] == [2, 0, 1]
    supervisor.mp_pool = None
    window.save_settings()
    assert not settings.contains("pools/mp/pool_size")


def test_closing_stops_the_supervisor_and_leaves_nothing_behind(window, supervisor, qloop,
                                                               qtbot):
    supervisor.create_mp_pool(processes=1)
    supervisor.create_aloop("console-test", daemon=True)
    mp_task = supervisor.submit(burn, 1000, _tt=TT_MP)
    assert mp_task.wait(30)
    assert multiprocessing.active_children()
    close_window(window, qloop, qtbot)
    assert not supervisor.is_active()
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith(f"supervisor_{supervisor.id}_")], names
    for child in multiprocessing.active_children():
        child.join(5)
    assert not [c for c in multiprocessing.active_children() if c.is_alive()]


def test_restart_after_stop_from_the_toolbar(window, supervisor, qloop, qtbot):
    window.open_stop_dialog()
    run(qloop, window.stop_dialog.start_stopping())
    qtbot.waitUntil(lambda: window.start_action.isEnabled(), timeout=3000)
    assert not window.stop_action.isEnabled()
    window.start_action.trigger()
    assert supervisor.is_active()
    assert supervisor.submit(lambda: 1).wait(2)


def test_refused_action_does_not_crash_and_shows_in_the_status_bar(window, qtbot):
    window.bridge.act("bad", lambda c: c.set_thread_pool(reserve_high=-1))
    assert "reserve_high" in window.statusBar().currentMessage()
    assert window.isVisible()


def test_a_refusal_and_its_notes_show_on_one_status_line(window):
    def refuse(client):
        exc = ValueError("pool_size must be at most 1000")
        exc.add_note("use 0 for unlimited")
        raise exc

    window.bridge.act("thread pool", refuse)
    assert window.statusBar().currentMessage() == (
        "Refused: thread pool: ValueError: pool_size must be at most 1000 — use 0 for "
        "unlimited")


def test_main_without_a_display_says_so(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "main.py"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "no display" in proc.stderr and "--headless" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_main_runs_a_scenario_and_saves_a_screenshot(tmp_path):
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "main.py", "--scenario", "burst", "--duration", "3", "--screenshot",
         str(shot), "--settings", str(tmp_path / "s.ini")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    image = QImage(str(shot))
    assert image.width() >= 1000 and image.height() >= 650
    assert "Traceback" not in proc.stderr


def test_status_bar_says_when_events_were_skipped(window, supervisor, qtbot):
    assert window.health["events"].isHidden()  # nothing skipped yet
    window.bridge.set_refresh_rate(0)  # the console falls behind: nothing is read
    window.bridge.refresh()
    tasks = []
    flood = threading.Thread(target=lambda: tasks.extend(
        supervisor.submit(int) for _ in range(8_000)))  # 24,000 events: past the ring
    flood.start()
    flood.join(30)
    qtbot.waitUntil(lambda: all(t.is_completed() for t in tasks), timeout=30_000)
    with qtbot.waitSignal(window.bridge.events_gap, timeout=2000) as gap:
        window.bridge.refresh()
    assert gap.args[0] > 0 and window.health["events"].isVisible()
    assert f"{window.bridge.events_lost:,} events skipped" in window.health["events"].text()
    assert "skipped" in window.statusBar().currentMessage()


def test_status_bar_rate_is_the_graphs_rate(window, supervisor, qtbot):
    assert window.graphs.recorder is window.series  # one recorder, one computation
    tasks = [supervisor.submit(int) for _ in range(200)]
    qtbot.waitUntil(lambda: all(t.is_completed() for t in tasks), timeout=5000)
    qtbot.waitUntil(lambda: window.series.rates().finished > 0, timeout=5000)
    window.bridge.refresh()
    shown = window.health["rate"].text()
    assert shown == f"{window.series.rates().finished:,.0f} tasks/s"
    assert window.series.series()["completed_per_s"][-1] == window.series.rates().completed


def test_the_first_run_layout_gives_the_task_table_and_the_graphs_room(client, settings, qtbot):
    """At 1440x900 with no saved layout: nine or more task rows (room for a
    task's details and live stack beside them), and the graphs keep half of
    the window."""
    win = MainWindow(client, settings=settings)
    qtbot.addWidget(win)
    win.resize(1440, 900)
    win.show()
    qtbot.waitExposed(win)
    view = win.task_table.view

    def rows() -> int:
        return view.viewport().height() // view.verticalHeader().defaultSectionSize()

    qtbot.waitUntil(lambda: win.first_run_layout_done)
    QApplication.processEvents()  # the layout requests the sizing posted
    assert rows() >= 9, rows()
    assert win.centralWidget().height() >= 900 // 2, win.centralWidget().height()
    win.bridge.stop()
