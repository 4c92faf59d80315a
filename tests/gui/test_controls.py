"""Pool controls and timeouts: typed by the operator, applied live, read back."""

from __future__ import annotations

import concurrent.futures
import threading

from PySide6.QtCore import Qt

from engine import TASK_LOW, TASK_STATUS_STARTED
from gui.widgets.pool_controls import PoolControls
from gui.widgets.timeouts import TimeoutsPanel


def type_into(qtbot, box, value) -> None:
    box.lineEdit().selectAll()
    qtbot.keyClicks(box.lineEdit(), str(value))
    box.interpretText()


def test_growing_the_pool_admits_waiting_tasks(supervisor, bridge, qtbot):
    gate = threading.Event()
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    tasks = [supervisor.submit(gate.wait, _priority=TASK_LOW) for _ in range(8)]
    qtbot.waitUntil(lambda: bridge.last_stats.thread.queued[TASK_LOW] == 4, timeout=2000)
    assert panel.fields["pool_size"].value() == 4  # read back from the engine
    type_into(qtbot, panel.fields["pool_size"], 8)
    assert panel.apply_button.isEnabled()
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    assert supervisor.stats().thread.pool_size == 8
    assert all(t.status == TASK_STATUS_STARTED for t in tasks)  # admitted at once
    assert not panel.apply_button.isEnabled() and panel.error_label.isHidden()
    gate.set()


def test_bad_combination_shows_the_engine_message_and_changes_nothing(supervisor, bridge,
                                                                      qtbot):
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    panel.show()
    before = supervisor.stats().thread
    type_into(qtbot, panel.fields["min_size"], 50)  # above max_size (8)
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    assert panel.error_label.isVisible()
    assert "min_size (50) must not exceed max_size" in panel.error_label.text()
    after = supervisor.stats().thread
    assert (after.min_size, after.max_size, after.pool_size) == \
        (before.min_size, before.max_size, before.pool_size)
    qtbot.mouseClick(panel.revert_button, Qt.LeftButton)
    assert panel.fields["min_size"].value() == before.min_size


def test_unlimited_label_and_reserve_tooltips(bridge, qtbot):
    panel = PoolControls(bridge, "thread")
    qtbot.addWidget(panel)
    assert panel.fields["pool_size"].specialValueText() == "unlimited"
    assert "NORMAL" in panel.fields["reserve_normal"].toolTip()
    assert "HIGH" in panel.fields["reserve_high"].toolTip()


def test_process_pool_controls_create_and_resize_the_mp_pool(supervisor, bridge, qtbot):
    panel = PoolControls(bridge, "mp")
    qtbot.addWidget(panel)
    assert set(panel.fields) == {"pool_size", "reserve_normal", "reserve_high"}
    assert panel.state_label.text().startswith("no process pool yet")
    type_into(qtbot, panel.fields["pool_size"], 1)
    type_into(qtbot, panel.fields["reserve_normal"], 0)
    type_into(qtbot, panel.fields["reserve_high"], 0)
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    stats = supervisor.stats().mp
    assert (stats.pool_size, stats.reserve_normal, stats.reserve_high) == (1, 0, 0)
    assert supervisor.mp_pool is not None
    assert panel.state_label.text() == "ProcessPool, 1 process"  # from the snapshot


class _Executor(concurrent.futures.Executor):
    """An executor whose worker count cannot be known (like a Dask client's)."""

    def submit(self, fn, /, *args, **kwargs):
        future = concurrent.futures.Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_process_pool_status_names_the_kind_of_pool(supervisor, bridge, qtbot):
    panel = PoolControls(bridge, "mp")
    qtbot.addWidget(panel)
    panel.show()
    supervisor.mp_pool = _Executor()
    qtbot.waitUntil(lambda: panel.state_label.text() == "_Executor, processes unknown",
                    timeout=2000)
    supervisor.mp_pool = None
    qtbot.waitUntil(lambda: panel.state_label.text().startswith("no process pool yet"),
                    timeout=2000)


def test_timeouts_and_poll_delay_apply_live(supervisor, bridge, qtbot):
    panel = TimeoutsPanel(bridge)
    qtbot.addWidget(panel)
    type_into(qtbot, panel.fields["timeout_warning"], 2.5)
    type_into(qtbot, panel.fields["timeout_critical"], 0)   # "off"
    type_into(qtbot, panel.fields["poll_delay"], 0.25)
    qtbot.mouseClick(panel.apply_button, Qt.LeftButton)
    assert supervisor.timeout_warning == 2.5
    assert supervisor.timeout_critical is None
    assert supervisor.poll_delay == 0.25
    assert panel.fields["timeout_critical"].text() == "off"
