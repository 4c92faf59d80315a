"""The panels reach the supervisor only through the client, redraw from changes,
and apply a form's values in one all-or-nothing command.

``Recording`` wraps the console's real ``LocalClient`` and notes every call
the console makes through it, so a test sees exactly what a panel asked of
the engine.
"""

from __future__ import annotations

import threading

import pytest
from guikit import run, until
from PySide6.QtCore import Qt

from engine import background_worker
from gui.bridge import EngineBridge
from gui.widgets.aloops import AloopsPanel
from gui.widgets.graphs import GraphsPanel
from gui.widgets.pool_controls import PoolControls
from gui.widgets.stop_dialog import StopDialog
from gui.widgets.timeouts import TimeoutsPanel
from gui.widgets.workers import WorkersPanel

READS = {"snapshot", "events"}  # what a refresh asks


class Recording:
    """A client that notes the name of every method called on it."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)
        return call


@pytest.fixture
def recording(client):
    return Recording(client)


@pytest.fixture
def rbridge(recording, qtbot):
    b = EngineBridge(recording, refresh_hz=0)  # refreshed by hand
    yield b
    b.stop()


def type_into(qtbot, box, value) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), str(value))
    box.interpretText()


def test_panels_ask_nothing_of_the_engine_on_a_refresh_without_changes(rbridge, recording,
                                                                        qtbot):
    panels = [PoolControls(rbridge, "thread"), PoolControls(rbridge, "mp"),
              TimeoutsPanel(rbridge), AloopsPanel(rbridge), WorkersPanel(rbridge),
              StopDialog(rbridge), GraphsPanel(rbridge)]
    for panel in panels:
        qtbot.addWidget(panel)
        panel.show()
    for _ in range(5):
        rbridge.refresh()
    assert set(recording.calls) <= READS, recording.calls
    assert recording.calls.count("snapshot") == 5  # one snapshot a refresh, for all panels


def test_aloops_redraw_when_the_aloops_change_not_on_every_snapshot(supervisor, bridge, qtbot):
    supervisor.create_aloop("first", daemon=True)
    panel = AloopsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=2000)
    panel.table.item(0, 2).setText("scribbled")  # a redraw would put the count back
    for _ in range(3):
        bridge.refresh()
    assert panel.table.item(0, 2).text() == "scribbled"
    supervisor.set_default_aloop("first")  # a change: the panel redraws
    qtbot.waitUntil(lambda: panel.table.item(0, 3).text() == "✓", timeout=2000)
    assert panel.table.item(0, 2).text() == "0"
    supervisor.stop_aloop("first")


def test_timeouts_go_in_one_command(supervisor, client, qtbot):
    recording = Recording(client)
    bridge = EngineBridge(recording, refresh_hz=0)
    bridge.refresh()
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    type_into(qtbot, panel.fields["timeout_warning"], 2.5)
    type_into(qtbot, panel.fields["timeout_critical"], 7)
    type_into(qtbot, panel.fields["poll_delay"], 0.25)
    assert panel.apply()
    assert [c for c in recording.calls if c not in READS] == ["set_timeouts"]
    assert (supervisor.timeout_warning, supervisor.timeout_critical, supervisor.poll_delay) \
        == (2.5, 7, 0.25)


def test_a_refused_value_leaves_all_three_unchanged(supervisor, bridge, qtbot):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    before = (supervisor.timeout_warning, supervisor.timeout_critical, supervisor.poll_delay)
    type_into(qtbot, panel.fields["timeout_warning"], 1.5)
    type_into(qtbot, panel.fields["timeout_critical"], 3)
    panel.fields["poll_delay"].setMinimum(0)  # the operator cannot; the engine must refuse
    type_into(qtbot, panel.fields["poll_delay"], 0)
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    assert panel.error_label.isVisible() and "poll_delay" in panel.error_label.text()
    assert (supervisor.timeout_warning, supervisor.timeout_critical,
            supervisor.poll_delay) == before
    qtbot.mouseClick(panel.revert_button, Qt.LeftButton)
    assert panel.fields["timeout_warning"].value() == before[0]


def test_workers_show_kind_state_runs_errors_and_last_run_from_the_snapshot(
        supervisor, bridge, qtbot, qloop):
    failing = threading.Event()

    @background_worker(interval=0.02, name="flaky", supervisor=supervisor)
    def flaky(**_):
        if not failing.is_set():
            failing.set()
            raise RuntimeError("first run fails")

    panel = WorkersPanel(bridge)
    qtbot.addWidget(panel)

    async def scenario():
        flaky.start()
        await until(lambda: panel.table.rowCount() == 1
                    and panel.table.item(0, 4).text() == "1"
                    and int(panel.table.item(0, 3).text()) >= 2)
        info = bridge.last_stats.scheduler_info["flaky"]
        row = [panel.table.item(0, c).text() for c in range(6)]
        assert row[:3] == ["flaky", info.kind, "running"]
        assert row[5] != "—" and info.last_run is not None
        panel.select("flaky")
        await panel.stop_selected()
        await until(lambda: panel.table.item(0, 2).text() == "stopped")

    run(qloop, scenario())
    assert not flaky.is_active()


def test_starting_an_unknown_worker_is_refused_readably(bridge, qtbot, qloop):
    with qtbot.waitSignal(bridge.error_raised, timeout=2000) as blocker:
        ok, message = run(qloop, bridge.act_async(
            "start worker 'ghost'", lambda client: client.start_worker("ghost")))
    assert not ok and "ghost" in message and "ghost" in blocker.args[1]
