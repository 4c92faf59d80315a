"""Why is it stuck, attached: the console on a real service process
(``monitor_service.py --stuck``: a thread task blocked in
``stuck_in_the_service``) sets the service's run thresholds, colours and
counts its stuck task, and shows its live stack read over the monitor, off
the GUI thread; while the service is away the last stack stays, saying so."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from servicekit import WAIT, Service

from gui.remote import MonitorUnavailable, RemoteClient
from gui.theme import TIMEOUT_WARNING_COLOR
from gui.widgets.stack_view import UNANSWERED
from gui.widgets.task_table import COL_STATUS

MS = int(WAIT * 1000)


@pytest.fixture
def service(socket_path: str):
    """The service with its stuck task (``--stuck``); conftest's
    ``attached_console`` attaches to this one in this module."""
    pytest.importorskip("aiohttp")
    svc = Service(socket_path, "--stuck")
    yield svc
    svc.end()


def stuck_row(window, qtbot):
    rows = window.task_table.model().store.rows
    qtbot.waitUntil(lambda: any(r.name == "stuck" and r.status == "started" for r in rows),
                    timeout=MS)
    return next(r for r in rows if r.name == "stuck")


def test_the_attached_console_shows_a_service_tasks_live_stack(attached_console, service,
                                                                qtbot):
    win = attached_console.window
    table = win.task_table
    row = stuck_row(win, qtbot)
    # The service's run thresholds, set from the Timeouts panel.
    panel = win.timeouts
    box = panel.fields["run_warning"]
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), "0.2")
    box.interpretText()
    assert panel.apply()
    assert win.bridge.last_stats.run_warning == 0.2  # read back from the service
    model = table.model()
    qtbot.waitUntil(lambda: model.data(model.index(model.row_of(row.task_id), COL_STATUS),
                                       Qt.ItemDataRole.BackgroundRole)
                    == QColor(TIMEOUT_WARNING_COLOR), timeout=MS)
    qtbot.waitUntil(lambda: "1 stuck" in win.stuck.text(), timeout=MS)
    assert f"task {row.task_id} (stuck, NORMAL)" in win.stuck.toolTip()
    # Its stack, over the monitor: the read is made off the GUI thread.
    client, readers = win.bridge.client, []
    read = client.task_stack
    client.task_stack = lambda task_id: (readers.append(threading.current_thread()),
                                         read(task_id))[1]
    qtbot.mouseClick(win.stuck, Qt.MouseButton.LeftButton)
    view = table.stack_view
    assert table.selected_task_ids() == [row.task_id]
    qtbot.waitUntil(lambda: view.stack is not None, timeout=MS)
    assert [f.function for f in view.stack.user_frames] == ["stuck_in_the_service"]
    assert "▶ stuck_in_the_service" in view.text.toPlainText()
    assert "ending.wait(3600)" in view.text.toPlainText()
    assert view.stack.where.startswith("supervisor_service_pool_")
    assert readers and threading.main_thread() not in readers
    reads, seconds = view.reads, view.stack.seconds
    qtbot.waitUntil(lambda: view.reads >= reads + 2, timeout=MS)  # auto-refresh
    assert view.stack.seconds > seconds
    assert len(readers) >= 3 and len(set(readers)) == 1  # one reading thread, kept
    # The service goes away: the last stack stays, greyed, and the view says why.
    service.kill()
    qtbot.waitUntil(lambda: view.message == UNANSWERED, timeout=MS)
    assert view.stack is not None and view.message_label.isVisible()
    assert win.error_box is None


def test_the_remote_client_reads_stacks_and_says_why_not(service):
    client = RemoteClient(service.address, service.token_file)
    try:
        assert client.wait_connected(WAIT)
        live = client.live_tasks(None)
        stuck = next(t for t in live.values() if t.name == "stuck")
        later = next(t for t in live.values() if t.name == "later")
        stack = client.task_stack(stuck.id)
        assert stack.task_id == stuck.id and stack.kind == "thread"
        assert [f.function for f in stack.user_frames] == ["stuck_in_the_service"]
        assert 0 < stack.seconds < 600  # a duration, not a time of the service's clock
        with pytest.raises(LookupError, match="delayed, not running"):
            client.task_stack(later.id)
        with pytest.raises(LookupError, match="not a live task"):
            client.task_stack(10**9)
        service.kill()
        with pytest.raises(MonitorUnavailable):
            client.task_stack(stuck.id)
    finally:
        client.close()
