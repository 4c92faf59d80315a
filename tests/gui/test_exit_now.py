"""The console can always be closed: while a stop waits for a task that never
ends, the stop dialog offers Stop waiting and Exit now.

``astop`` runs on the running asyncio loop, so the operator's clicks are made
inside coroutines driven with ``guikit.run`` (qtbot waits would process Qt
events without a running asyncio loop)."""

from __future__ import annotations

import logging
import threading

import pytest
from guikit import run, until
from PySide6.QtCore import Qt

from engine import TASK_STATUS_CANCELED

WAIT = 10.0


@pytest.fixture
def gate():
    event = threading.Event()
    yield event
    event.set()  # whatever happens, the blocked threads end


async def close_waiting_until_done(win, supervisor, qtbot, gate, begun=True):
    """A task that never ends, then close with "wait until every task is done"
    (``begun``: until the stop refuses new tasks, i.e. ``astop`` waits)."""
    blocker = supervisor.submit(gate.wait, _name="never ends")
    await until(blocker.is_started, WAIT)
    queued = [supervisor.submit(gate.wait) for _ in range(12)]  # past the pool's limits
    win.close()
    dialog = win.stop_dialog
    assert win.isVisible() and dialog.isVisible()  # closing asks how to stop
    assert not dialog.exit_now_button.isVisible()  # offered only while a stop waits
    dialog.wait_all.setChecked(True)
    dialog.cancel_tasks.setChecked(False)
    qtbot.mouseClick(dialog.stop_button, Qt.LeftButton)
    assert dialog.is_stopping() and dialog.exit_now_button.isVisible()
    if begun:
        await until(lambda: not supervisor.is_active(), WAIT)
    return blocker, queued


def test_exit_now_closes_the_window_while_a_task_never_ends(window, supervisor, qloop, qtbot,
                                                            gate,
                                                            caplog):
    dialog = window.stop_dialog

    async def operate():
        blocker, _ = await close_waiting_until_done(window, supervisor, qtbot, gate)
        qtbot.mouseClick(dialog.exit_now_button, Qt.LeftButton)
        await until(lambda: not window.isVisible(), WAIT)
        await until(lambda: not dialog.is_stopping(), WAIT)  # the stop ended too
        return blocker

    with caplog.at_level(logging.INFO), qtbot.waitSignal(window.closed, timeout=1000):
        blocker = run(qloop, operate(), timeout=2 * WAIT)
    messages = [r.getMessage() for r in caplog.records]
    assert any("exit now: 6 running task(s) abandoned" in m and "never ends" in m
               for m in messages), messages
    assert any("abandoned" in r.getMessage() for r in caplog.records if r.name.startswith(
        "engine")), messages
    assert not supervisor.is_active() and not blocker.is_completed()
    gate.set()  # only now does the task end
    assert blocker.wait(5)


def test_stop_waiting_ends_the_stop_and_the_console_can_start_again(window, supervisor,
                                                                     qloop, qtbot, gate,
                                                                     caplog):
    dialog = window.stop_dialog

    async def operate():
        blocker, queued = await close_waiting_until_done(window, supervisor, qtbot, gate)
        window.close_when_stopped(False)  # the operator changed their mind: keep the window
        qtbot.mouseClick(dialog.stop_waiting_button, Qt.LeftButton)
        await until(lambda: not dialog.is_stopping(), WAIT)
        return blocker, queued

    with caplog.at_level(logging.WARNING, logger="engine"), \
            qtbot.waitSignal(dialog.stopped, timeout=1000):
        blocker, queued = run(qloop, operate(), timeout=2 * WAIT)
    assert not supervisor.is_active()
    assert "Stopped without waiting" in dialog.status.text()
    assert not dialog.exit_now_button.isVisible()
    assert all(t.status == TASK_STATUS_CANCELED for t in queued if not t.is_started())
    assert any("abandoned" in r.getMessage() for r in caplog.records)
    assert window.isVisible() and window.start_action.isEnabled()
    gate.set()
    assert blocker.wait(5)
    window.start_action.trigger()
    assert supervisor.is_active() and supervisor.submit(lambda: 1).wait(5)


def test_exit_now_right_after_stop_still_stops_the_supervisor(window, supervisor, qloop, qtbot,
                                                             gate):
    async def operate():
        # astop not begun:
        await close_waiting_until_done(window, supervisor, qtbot, gate, begun=False)
        qtbot.mouseClick(window.stop_dialog.exit_now_button, Qt.LeftButton)
        await until(lambda: not window.stop_dialog.is_stopping(), WAIT)

    with qtbot.waitSignal(window.closed, timeout=1000):
        run(qloop, operate(), timeout=2 * WAIT)
    assert not supervisor.is_active()
