"""A malformed settings file never stops the console: each bad value falls back
to its default, with a log line naming the key and the value."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from guikit import run, until
from PySide6.QtCore import QSettings

from gui.main_window import MainWindow
from gui.settings import (
    WAIT_NONE,
    WAIT_SECONDS,
    ConsoleSettings,
    StopChoice,
    read_bool,
    read_choice,
    read_float,
    read_int,
)

ROOT = Path(__file__).resolve().parents[2]

BAD_INI = textwrap.dedent(r"""
    [graphs]
    refresh_hz=abc
    [view]
    theme=purple
    [stop]
    wait_mode=sometimes
    wait_seconds=1e400
    stop_schedulers=maybe
    cancel_tasks=true
    [pools]
    thread\pool_size=lots
    thread\reserve_normal=-3
    thread\reserve_high=2
    [window]
    geometry=not a blob
    state=@ByteArray(garbage)
""")


@pytest.fixture
def bad_settings(tmp_path):
    path = tmp_path / "bad.ini"
    path.write_text(BAD_INI, encoding="utf-8")
    return path


def test_the_window_starts_with_defaults_for_every_bad_value(supervisor, client, qtbot,
                                                             bad_settings,
                                                             caplog):
    settings = QSettings(str(bad_settings), QSettings.IniFormat)
    with caplog.at_level(logging.WARNING, logger="gui"):
        win = MainWindow(client, settings=settings)
        qtbot.addWidget(win)
        win.show()
        win.open_stop_dialog()
    try:
        assert win.bridge.refresh_hz == 10  # the default
        assert win.theme_actions["light"].isChecked()
        assert win.stop_dialog.options() == {"wait": True, "stop_schedulers": True,
                                             "cancel_tasks": True}
        stats = supervisor.stats().thread
        assert stats.reserve_high == 2 and stats.pool_size == 4  # the good value applied
        messages = "\n".join(r.getMessage() for r in caplog.records)
        for key, value in [("graphs/refresh_hz", "'abc'"), ("view/theme", "'purple'"),
                           ("stop/wait_mode", "'sometimes'"), ("stop/wait_seconds", "'1e400'"),
                           ("stop/stop_schedulers", "'maybe'"),
                           ("pools/thread/pool_size", "'lots'"),
                           ("pools/thread/reserve_normal", "'-3'"),
                           ("window/geometry", "'not a blob'")]:
            assert f"setting {key}={value}" in messages, key
        assert "window/state is not a saved dock layout" in messages
        assert str(bad_settings) in messages
    finally:
        win.bridge.stop()
        win.log_view.close_handler()


@pytest.mark.parametrize(("read", "raw", "expected"), [
    (lambda s: read_float(s, "k", 1.5, 0, 10), "2.5", 2.5),
    (lambda s: read_float(s, "k", 1.5, 0, 10), "nan", 1.5),
    (lambda s: read_float(s, "k", 1.5, 0, 10), "11", 1.5),
    (lambda s: read_int(s, "k", None, 0, 9), "3", 3),
    (lambda s: read_int(s, "k", None, 0, 9), "3.5", None),
    (lambda s: read_bool(s, "k", False), "yes", True),
    (lambda s: read_bool(s, "k", False), "2", False),
    (lambda s: read_choice(s, "k", "a", ("a", "b")), "b", "b"),
    (lambda s: read_choice(s, "k", "a", ("a", "b")), "c", "a"),
])
def test_readers_parse_text_and_fall_back(tmp_path, read, raw, expected):
    path = tmp_path / "one.ini"
    path.write_text(f"[General]\nk={raw}\n", encoding="utf-8")
    assert read(QSettings(str(path), QSettings.IniFormat)) == expected


def test_values_written_this_session_read_back(tmp_path):
    settings = QSettings(str(tmp_path / "typed.ini"), QSettings.IniFormat)
    settings.setValue("f", 2.0)
    settings.setValue("b", True)
    settings.setValue("i", True)  # a bool is no integer
    assert read_float(settings, "f", 0.0, 0, 5) == 2.0
    assert read_bool(settings, "b", False) is True
    assert read_int(settings, "i", 7, 0, 9) == 7


class _Pool:
    def __init__(self, **values):
        self.__dict__.update(values)


def test_console_settings_read_back_what_they_wrote_as_their_types(tmp_path):
    path = str(tmp_path / "typed.ini")
    settings = ConsoleSettings(QSettings(path, QSettings.IniFormat))
    settings.save_theme("dark")
    settings.save_refresh_hz(5.0)
    settings.save_stop_choice(StopChoice(WAIT_SECONDS, 2.5, False, True))
    thread = _Pool(pool_size=7, reserve_normal=3, reserve_high=1, min_size=0, max_size=11)
    settings.save_pools(thread, _Pool(pool_size=2, reserve_normal=0, reserve_high=1))
    settings.sync()
    again = ConsoleSettings(QSettings(path, QSettings.IniFormat))  # text, from the file
    assert again.theme("light", ("light", "dark")) == "dark"
    assert again.refresh_hz(10) == 5.0
    choice = again.stop_choice()
    assert choice == StopChoice(WAIT_SECONDS, 2.5, False, True) and choice.wait == 2.5
    assert again.pool("thread", 1000) == vars(thread)
    assert again.pool("mp", 1000) == {"pool_size": 2, "reserve_normal": 0, "reserve_high": 1}
    again.save_pools(thread, None)  # no process pool: none is kept
    assert again.pool("mp", 1000) == {}
    assert StopChoice(WAIT_NONE).wait is False and StopChoice().wait is True
    assert ConsoleSettings.of(again) is again and ConsoleSettings.of(None) is None


def test_only_the_settings_module_reads_or_writes_the_store():
    # A store call by a settings-like name, or with a "group/key" string.
    store_call = re.compile(r"\b(settings|_settings|store)\.(setValue|value|remove)\("
                            r"""|\.(setValue|value|remove|contains)\(\s*f?["'][\w{}]+/""")
    gui = ROOT / "gui"
    for path in gui.rglob("*.py"):
        if path == gui / "settings.py":
            continue
        match = store_call.search(path.read_text(encoding="utf-8"))
        assert match is None, f"{path.relative_to(ROOT)}: {match.group(0)}"


def test_main_starts_with_a_bad_settings_file(bad_settings):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    proc = subprocess.run(
        [sys.executable, "main.py", "--scenario", "burst", "--duration", "1",
         "--settings", str(bad_settings)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "setting graphs/refresh_hz='abc'" in proc.stderr
    assert "Traceback" not in proc.stderr


def _window(client, settings, qtbot):
    win = MainWindow(client, settings=settings)
    qtbot.addWidget(win)
    return win


def _done(win):
    win.bridge.stop()
    win.log_view.close_handler()


def test_the_stop_dialogs_wait_seconds_come_back_whatever_the_mode(client, qtbot, tmp_path):
    path = str(tmp_path / "console.ini")
    first = _window(client, QSettings(path, QSettings.IniFormat), qtbot)
    dialog = first.open_stop_dialog()
    dialog.set_options(wait=3.0)
    dialog.wait_all.setChecked(True)  # "wait at most" not chosen, 3 s still shown
    dialog.remember_options()
    first.save_settings()
    _done(first)
    second = _window(client, QSettings(path, QSettings.IniFormat), qtbot)
    dialog = second.open_stop_dialog()
    assert dialog.seconds.value() == 3.0 and dialog.wait_all.isChecked()
    dialog.wait_seconds.setChecked(True)
    assert dialog.options()["wait"] == 3.0
    _done(second)


SCENARIO = textwrap.dedent("""
    import asyncio

    async def run(ctx):
        ctx.supervisor.set_thread_pool(pool_size=9, reserve_normal=1, reserve_high=1)
        ctx.supervisor.set_mp_pool(pool_size=1, reserve_normal=0, reserve_high=0)
        while ctx.running:
            await asyncio.sleep(0.05)
""")


def test_a_scenarios_pool_settings_are_not_saved_as_the_operators(supervisor, client, qtbot,
                                                                  tmp_path):
    path = str(tmp_path / "console.ini")
    settings = QSettings(path, QSettings.IniFormat)
    settings.setValue("pools/thread/pool_size", 5)  # the operator's, from an earlier run
    settings.sync()
    scenario = tmp_path / "resizes.py"
    scenario.write_text(SCENARIO, encoding="utf-8")
    win = _window(client, settings, qtbot)
    assert supervisor.stats().thread.pool_size == 5
    panel = win.submit_panel
    assert panel.load_scenario(scenario) and panel.set_duration(30) and panel.start_scenario()
    qtbot.waitUntil(lambda: supervisor.stats().thread.pool_size == 9, timeout=5000)
    win.bridge.refresh()
    # The operator changes one setting while the scenario runs (as the pool panel does).
    ok, _ = win.bridge.act("thread pool: reserve_high 1 → 3",
                           lambda c: c.set_thread_pool(reserve_high=3))
    assert ok
    win.save_settings()
    win.submit_panel.stop_scenario()
    _done(win)
    again = ConsoleSettings(QSettings(path, QSettings.IniFormat))
    saved = again.pool("thread", 10_000)
    assert saved["pool_size"] == 5 and saved["reserve_high"] == 3
    assert "reserve_normal" not in saved  # the scenario's 1 is not the operator's
    assert "max_size" not in saved  # derived by the engine (pool + reserves): not pinned
    assert again.pool("mp", 10_000) == {}  # the scenario's process pool is not kept
    supervisor.set_thread_pool(pool_size=2)  # the next launch restores the operator's
    third = _window(client, QSettings(path, QSettings.IniFormat), qtbot)
    assert supervisor.stats().thread.pool_size == 5
    assert supervisor.stats().thread.reserve_high == 3
    assert third.operator_pools()["thread"] == {"pool_size": 5, "reserve_high": 3}
    _done(third)


def test_a_scripted_stop_leaves_the_operators_stop_choice_saved(client, qtbot, qloop,
                                                                tmp_path):
    path = str(tmp_path / "console.ini")
    settings = ConsoleSettings(QSettings(path, QSettings.IniFormat))
    settings.save_stop_choice(StopChoice(WAIT_NONE, 3.0, False, False))
    win = _window(client, settings, qtbot)
    win.show()
    async def scripted_end():  # as --duration ends a run, on the loop
        win.stop_and_close(wait=10.0, stop_schedulers=True, cancel_tasks=True)
        await until(lambda: not win.isVisible(), timeout=8)
    with qtbot.waitSignal(win.closed, timeout=10_000):
        run(qloop, scripted_end())
    _done(win)
    again = ConsoleSettings(QSettings(path, QSettings.IniFormat))
    assert again.stop_choice() == StopChoice(WAIT_NONE, 3.0, False, False)
