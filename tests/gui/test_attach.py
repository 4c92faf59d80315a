"""The console attached to a real service in another process (``servicekit``):
it shows the service's supervisor, controls it, rides out the service going
away and coming back, and never stops it unless the operator uses the stop
dialog."""

from __future__ import annotations

import asyncio
import logging

import pytest
from guikit import run
from servicekit import WAIT, Service

from gui.main_window import ATTACHED_SUBMIT
from gui.remote import RemoteClient
from gui.settings import ConsoleSettings
from gui.task_model import GONE
from gui.widgets.task_table import SERVICE_GONE_TEXT

MS = int(WAIT * 1000)


def rows_named(window, name: str) -> list:
    return [r for r in window.task_table.model().store.rows if r.name == name]


def connection_text(window) -> str:
    return window.health["connection"].text()


def later_row(window, qtbot, status: str = "delayed"):
    qtbot.waitUntil(lambda: any(r.status == status for r in rows_named(window, "later")),
                    timeout=MS)
    return next(r for r in rows_named(window, "later") if r.status == status)


def probe(service: Service) -> RemoteClient:
    client = RemoteClient(service.address, service.token_file)
    assert client.wait_connected(WAIT)
    return client


def test_the_attached_window_shows_the_service(attached_console, service, qtbot):
    win = attached_console.window
    assert win.attached and service.address in win.windowTitle()
    # The service's table rows and graphs: its worker's tasks, its delayed one.
    later_row(win, qtbot)
    qtbot.waitUntil(lambda: any(r.status == "completed" for r in rows_named(win, "ticker")),
                    timeout=MS)
    qtbot.waitUntil(lambda: len(win.series) >= 3, timeout=MS)
    stats = win.bridge.last_stats
    assert stats.supervisor_id == "service" and stats.thread.pool_size == 3
    assert win.thread_controls.fields["pool_size"].value() == 3
    workers = win.workers.table  # the service's worker, in the Workers panel
    qtbot.waitUntil(lambda: any(workers.item(r, 0) is not None
                                and workers.item(r, 0).text() == "ticker"
                                for r in range(workers.rowCount())), timeout=MS)
    # The status bar leads with the connection.
    label = win.health["connection"]
    assert label.isVisible() and "connected" in label.text() and " ms" in label.text()
    assert service.address in label.toolTip()
    # What only makes sense in-process is off, and says why.
    panel = win.submit_panel
    assert panel.unavailable_reason == ATTACHED_SUBMIT and panel.unavailable.isVisible()
    assert "it runs its own work" in panel.unavailable.text()
    assert not panel.tabs.isEnabled()
    assert not win.submit_action.isEnabled() and not win.start_action.isEnabled()
    assert win.stop_action.isEnabled()
    assert win.error_box is None


def test_a_pool_change_from_the_console_changes_the_service_and_reads_back(
        attached_console, service, qtbot):
    win = attached_console.window
    qtbot.waitUntil(lambda: win.bridge.last_stats is not None, timeout=MS)
    form = win.thread_controls
    form.fields["pool_size"].setValue(7)
    assert form.apply()
    # Read back at once, not a refresh later: the field shows the service's value.
    assert win.bridge.last_stats.thread.pool_size == 7
    assert form.fields["pool_size"].value() == 7 and form.changes() == {}
    other = probe(service)
    try:
        assert other.snapshot().thread.pool_size == 7
    finally:
        other.close()
    # A service's pools are not the operator's settings: nothing saved for them.
    win.save_settings()
    assert ConsoleSettings(win.settings.store).pool("thread", 10_000) == {}


def test_cancel_and_rerun_from_the_table(attached_console, service, qtbot):
    win = attached_console.window
    table = win.task_table
    later = later_row(win, qtbot)
    assert table.select_task(later.task_id)
    assert table.cancel_selected() == {later.task_id: None}
    qtbot.waitUntil(lambda: table.model().task_row(later.task_id).status == "canceled",
                    timeout=MS)
    other = probe(service)
    try:
        assert later.task_id not in other.live_tasks(None)
        assert table.select_task(later.task_id)
        new_ids = table.rerun_selected()
        assert len(new_ids) == 1 and new_ids[0] != later.task_id
        assert other.live_tasks(new_ids)[new_ids[0]].name == "later"
    finally:
        other.close()
    qtbot.waitUntil(lambda: table.model().task_row(new_ids[0]) is not None
                    and table.model().task_row(new_ids[0]).status == "delayed", timeout=MS)
    assert win.error_box is None


def test_the_service_killed_then_restarted(attached_console, service, socket_path, qtbot,
                                           caplog):
    win = attached_console.window
    bridge = win.bridge
    later = later_row(win, qtbot)
    shown = len(win.task_table.model().store)
    with caplog.at_level(logging.WARNING, logger="gui"):
        service.kill()
        qtbot.waitUntil(lambda: "disconnected — retrying" in connection_text(win), timeout=MS)
        # Many refreshes while it is away: rows kept, no error box, said once.
        refreshes = len(bridge.refresh_durations)
        qtbot.waitUntil(lambda: len(bridge.refresh_durations) >= refreshes + 20, timeout=MS)
        store = win.task_table.model().store
        assert len(store) >= shown and store.task_row(later.task_id) is later
        assert later.status == "delayed" and GONE not in {r.status for r in store.rows}
        assert win.error_box is None
        assert "state unknown" in win.health["state"].text()
        assert not win.stop_action.isEnabled()
        assert not win.health["threads"].isEnabled()  # the last values known, greyed
        away = [r for r in caplog.records if "does not answer" in r.getMessage()]
        assert len(away) == 1, [r.getMessage() for r in away]
        # A table action meanwhile is refused in words, not in a box.
        assert win.task_table.select_task(later.task_id)
        win.task_table.cancel_selected()
        assert win.error_box is None
        restarted = Service(socket_path)  # the same address: a new process, a new token
        try:
            qtbot.waitUntil(lambda: "connected" in connection_text(win)
                            and "disconnected" not in connection_text(win), timeout=MS)
            # The old service's unfinished task ended with it; the new one's shows.
            qtbot.waitUntil(lambda: later.status == GONE, timeout=MS)
            assert later.summary() == SERVICE_GONE_TEXT
            new_later = later_row(win, qtbot)
            assert new_later is not later
            # A restart is not the console falling behind: no events counted skipped.
            assert win.bridge.events_lost == 0 and not win.health["events"].isVisibleTo(win)
            assert "restarted" in win.task_table.last_message
            qtbot.waitUntil(lambda: win.bridge.last_stats.active, timeout=MS)
            assert win.stop_action.isEnabled() and win.error_box is None
            back = [r for r in caplog.records if "answers again" in r.getMessage()]
            assert len(back) == 1
        finally:
            restarted.end()


def test_a_service_not_up_yet_is_shown_connecting(tmp_path, qapp, qtbot, socket_path):
    from PySide6.QtCore import QSettings

    from gui.app import Console

    token = tmp_path / "token"
    token.write_text("not served yet")
    app = Console(attach=socket_path, token_file=str(token),
                  settings=QSettings(str(tmp_path / "n.ini"), QSettings.IniFormat))
    try:
        win = app.window
        win.show()
        assert "connecting…" in connection_text(win)
        qtbot.waitUntil(lambda: "no answer yet" in connection_text(win), timeout=MS)
        refreshes = len(win.bridge.refresh_durations)
        qtbot.waitUntil(lambda: len(win.bridge.refresh_durations) >= refreshes + 10, timeout=MS)
        assert "connecting…" in connection_text(win)  # never "lost": it was never there
        assert win.bridge.last_stats is None and win.error_box is None
        assert "does not answer" in win.health["connection"].toolTip()
    finally:
        app.restore_hooks()
        win.bridge.stop()
        win.log_view.close_handler()
        win.close()
        app.client.close()
        app.loop.close()


def test_closing_the_attached_console_leaves_the_service_running(attached_console, service,
                                                                 qtbot):
    win = attached_console.window
    later_row(win, qtbot)
    assert win.quit_action.text().replace("&", "") == "Detach and close"
    win.close()  # the close button: no stop confirmation
    assert not win.isVisible() and not win.stop_dialog.isVisible()
    assert attached_console.windows == [] and attached_console._done.done()
    assert attached_console.client._closed.is_set()  # detached
    assert service.answers()


@pytest.mark.parametrize("how", ["exit_cleanly", "ctrl_c", "exit_now", "ctrl_c_twice"])
def test_scripted_ends_and_ctrl_c_detach(attached_console, service, qtbot, how):
    win = attached_console.window
    qtbot.waitUntil(lambda: win.bridge.last_stats is not None, timeout=MS)
    if how == "exit_cleanly":  # what --duration does at its end
        attached_console.exit_cleanly()
    elif how == "exit_now":
        attached_console.exit_now()
    else:
        attached_console._on_interrupt(1)
        if how == "ctrl_c_twice":
            attached_console._on_interrupt(2)
        assert attached_console.exit_code == 130
    assert not win.isVisible() and attached_console._done.done()
    attached_console._shutdown()  # what run() does once the window closed
    assert service.alive() and service.answers()


def test_the_stop_dialog_stops_the_service(attached_console, service, qtbot):
    win = attached_console.window
    qtbot.waitUntil(lambda: win.stop_action.isEnabled(), timeout=MS)
    dialog = win.open_stop_dialog()
    assert "service" in dialog.windowTitle() and "detaches" in dialog.status.text()
    assert dialog.stop_button.text() == "Stop"  # not the close confirmation
    dialog.set_options(wait=3.0, stop_schedulers=True, cancel_tasks=True)
    ok, _ = run(attached_console.loop, dialog.start_stopping(), timeout=WAIT)
    assert ok
    assert service.proc.wait(timeout=WAIT) == 0  # the service's own process ended
    assert "monitor closed" in dialog.status.text()
    qtbot.waitUntil(lambda: "disconnected — retrying" in connection_text(win), timeout=MS)
    assert win.isVisible() and win.error_box is None  # the console stays, detached in effect


def test_connect_to_opens_a_window_on_a_service(console, service, qtbot):
    local = console.window
    assert not local.attached and not local.health["connection"].isVisible()
    dialog = local.open_connect_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.set_values("nowhere")
    dialog.accept()
    assert "address must be" in dialog.error_text and dialog.isVisible()
    dialog.set_values(service.address, str(service.token_file) + ".missing")
    dialog.accept()
    assert "token file" in dialog.error_text and len(console.windows) == 1
    dialog.set_values(service.address, service.token_file)
    dialog.accept()
    assert not dialog.isVisible() and len(console.windows) == 2
    remote = console.windows[1]
    try:
        assert remote.attached and remote.isVisible()
        qtbot.waitUntil(lambda: "connected" in connection_text(remote)
                        and "connecting" not in connection_text(remote), timeout=MS)
        later_row(remote, qtbot)
        # From the attached window the dialog offers its own service again.
        again = remote.open_connect_dialog()
        assert again.address.text() == service.address
        again.reject()
    finally:
        remote.close()  # detaches: the local console and the service run on
    assert console.windows == [local] and not console._done.done()
    assert console.supervisor.is_active() and service.answers()


def test_timeouts_aloops_workers_and_details_work_over_the_monitor(attached_console, service,
                                                                   qtbot):
    win = attached_console.window
    loop = attached_console.loop
    later = later_row(win, qtbot)
    # Timeouts: applied and read back; the engine's refusal shown inline, nothing changed.
    form = win.timeouts
    form.fields["timeout_warning"].setValue(2.5)
    assert form.apply() and win.bridge.last_stats.timeout_warning == 2.5
    form.fields["poll_delay"].setValue(0.0)
    assert not form.apply()
    assert "poll_delay" in form.error_label.text() and form.error_label.isVisibleTo(form)
    assert form.fields["poll_delay"].value() == win.bridge.last_stats.poll_delay > 0
    # Aloops: created in the service, stopped there.
    aloops = win.aloops
    aloops.name_edit.setText("remote-loop")
    aloops.create()
    assert win.bridge.last_stats.aloops == {"remote-loop": True}
    aloops.select("remote-loop")
    ok, _ = run(loop, aloops.stop_selected(), timeout=WAIT)
    assert ok
    qtbot.waitUntil(lambda: win.bridge.last_stats.aloops == {"remote-loop": False}, timeout=MS)
    # Workers: the service's own, stopped and started again from the panel.
    workers = win.workers
    workers.select("ticker")
    ok, _ = run(loop, workers.stop_selected(), timeout=WAIT)
    assert ok
    qtbot.waitUntil(lambda: not win.bridge.last_stats.scheduler_info["ticker"].active,
                    timeout=MS)
    ok, _ = run(loop, workers.start_selected(), timeout=WAIT)
    assert ok
    qtbot.waitUntil(lambda: win.bridge.last_stats.scheduler_info["ticker"].active, timeout=MS)
    # A task's details come from the service.
    assert win.task_table.select_task(later.task_id)
    detail = win.task_table.detail.toPlainText()
    assert "name:        later" in detail and "delay:       3600" in detail
    other = probe(service)
    try:
        stats = other.snapshot()
        assert stats.timeout_warning == 2.5 and stats.aloops == {"remote-loop": False}
    finally:
        other.close()
    assert win.error_box is None


@pytest.mark.parametrize("when", ["before the command went", "while the service waits"])
def test_exit_now_during_a_stop_detaches_and_sends_nothing_more(attached_console, service,
                                                                qtbot, monkeypatch, when):
    win = attached_console.window
    client = attached_console.client
    qtbot.waitUntil(lambda: win.stop_action.isEnabled(), timeout=MS)
    sent: list[str] = []
    real_call = client._call
    monkeypatch.setattr(client, "_call", lambda name, args, timeout: (
        sent.append(name), real_call(name, args, timeout))[1])
    dialog = win.open_stop_dialog()
    dialog.set_options(wait=3.0, stop_schedulers=True, cancel_tasks=False)
    future = dialog.start_stopping()
    assert dialog.exit_now_button.isVisible()  # the stop waits: Exit now is offered
    if when == "while the service waits":
        async def service_stopping():
            while not future.done() and win.bridge.last_stats.active:
                await asyncio.sleep(0.02)
                win.bridge.refresh()

        run(attached_console.loop, service_stopping(), timeout=WAIT)
        assert sent == ["stop"]
    dialog.exit_now()
    assert not win.isVisible()
    attached_console._shutdown()
    assert future.cancelled()
    if when == "while the service waits":  # it stops as it was asked, on its own
        assert sent == ["stop"]
        assert service.proc.wait(timeout=WAIT) == 0
    else:  # nothing was sent: a detach, the service runs on
        assert sent == [] and service.answers()
