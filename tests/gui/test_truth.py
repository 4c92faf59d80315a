"""The task table tells the truth under floods (issue 8, point 3).

A real supervisor runs on the Qt loop; another thread floods it with 100,000+
no-op tasks (as a service's threads would) while the bridge refreshes at
10 Hz, or while the refresh is paused and then resumed; and the operator
submits 100,000 × sleep(0) from the Submit panel. The engine's event ring
wraps long before the console reads it. After the engine has drained, within
a few refreshes no row may show a task as queued, delayed or started, and at
no moment may the table hold more rows than its cap.

The Qt-free rows are also checked alone, against a scripted client.
"""

from __future__ import annotations

import gc
import threading
import time

import pytest
from guikit import run, until
from PySide6.QtCore import Qt

from engine import (
    TASK_STATUS_COMPLETED,
    TASK_STATUS_QUEUED,
    TT_THREAD,
    FinishedTask,
    TaskEvent,
    TaskState,
)
from gui.task_model import GONE, UNFINISHED, TaskRows
from gui.widgets.task_script_panel import TaskScriptPanel
from gui.widgets.task_table import TaskTablePanel

FLOOD = 120_000
REFRESH_HZ = 10
#: Refreshes after the drain within which every row must tell the truth.
FEW_REFRESHES = 8
DRAIN_MS = 45_000  # within the suite's 60 s per test


def noop() -> None:
    return None


# -- fixtures and helpers ------------------------------------------------------------
@pytest.fixture
def table(bridge, qtbot):
    bridge.set_refresh_rate(REFRESH_HZ)
    panel = TaskTablePanel(bridge)
    qtbot.addWidget(panel)
    panel.resize(1200, 500)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


class Watch:
    """Counts refreshes and the most rows the table ever held."""

    def __init__(self, bridge, panel: TaskTablePanel) -> None:
        self.refreshes = 0
        self.most_rows = 0
        self.gaps = 0
        self.model = panel.model()
        bridge.stats_updated.connect(self._on_refresh)
        bridge.events_gap.connect(self._on_gap)
        self.model.rowsInserted.connect(self._on_rows)

    def _on_refresh(self, _stats) -> None:
        self.refreshes += 1
        self._on_rows()

    def _on_gap(self, _lost: int) -> None:
        self.gaps += 1

    def _on_rows(self, *_args) -> None:
        self.most_rows = max(self.most_rows, self.model.rowCount())

    def lying_rows(self) -> list:
        return [r for r in self.model.rows if r.status in UNFINISHED]


@pytest.fixture
def gc_held():
    """A flood makes garbage enough to start the cycle collector on whichever
    thread allocates (the flood's, the pool's), which could then free Qt
    objects earlier tests left in cycles off the GUI thread: a crash. Collect
    here, hold the collector off during the flood, collect here again."""
    gc.collect()
    gc.disable()
    yield
    gc.enable()
    gc.collect()


def flood_from_thread(supervisor, count: int) -> threading.Thread:
    def submit_all() -> None:
        for _ in range(count):
            supervisor.submit(noop)
    thread = threading.Thread(target=submit_all, name="flood")
    thread.start()
    return thread


def drained(supervisor, submitted: int) -> bool:
    pool = supervisor.stats().thread
    return (pool.submitted >= submitted and not sum(pool.queued.values())
            and not sum(pool.running.values()) and not sum(pool.delayed.values()))


def wait_for_truth(qtbot, watch: Watch) -> int:
    """Refreshes it took, after the drain, until no row shows a finished task
    as unfinished."""
    start = watch.refreshes
    qtbot.waitUntil(lambda: not watch.lying_rows(), timeout=DRAIN_MS)
    return watch.refreshes - start


# -- floods ----------------------------------------------------------------------------
def test_a_flood_from_another_thread_at_10_hz(supervisor, bridge, table, qtbot, gc_held):
    supervisor.set_thread_pool(pool_size=8)
    watch = Watch(bridge, table)
    t0 = time.monotonic()
    thread = flood_from_thread(supervisor, FLOOD)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=DRAIN_MS)
    qtbot.waitUntil(lambda: drained(supervisor, FLOOD), timeout=DRAIN_MS)
    flood_seconds = time.monotonic() - t0
    took = wait_for_truth(qtbot, watch)
    store = table.model().store
    print(f"\nflood of {FLOOD:,} in {flood_seconds:.1f} s; {bridge.events_lost:,} events "
          f"lost in {watch.gaps} gaps; truth {took} refreshes after the drain; "
          f"{store.reconciled:,} rows reconciled, last in "
          f"{store.last_reconcile_seconds * 1e3:.1f} ms; most rows {watch.most_rows:,}")
    assert took <= FEW_REFRESHES
    assert watch.most_rows <= store.cap
    assert table.model().rowCount() <= store.cap
    table.set_status_filter("unfinished")
    assert table.proxy().rowCount() == 0


def test_a_flood_while_paused_then_resumed(supervisor, bridge, table, qtbot, gc_held):
    supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = threading.Event()
    blocker = supervisor.submit(gate.wait, 20, _name="blocker")
    waiting = [supervisor.submit(noop, _name="waiting") for _ in range(50)]
    ids = {t.id for t in waiting} | {blocker.id}
    model = table.model()
    qtbot.waitUntil(lambda: all(model.task_row(i) is not None for i in ids), timeout=5000)
    assert {model.task_row(i).status for i in ids} == {"started", "queued"}
    del waiting  # nobody holds them: once ended they are only in the bounded history

    bridge.set_refresh_rate(0)  # paused: the table hears nothing from here on
    watch = Watch(bridge, table)
    supervisor.set_thread_pool(pool_size=8)
    gate.set()
    thread = flood_from_thread(supervisor, FLOOD)
    qtbot.waitUntil(lambda: not thread.is_alive(), timeout=DRAIN_MS)
    qtbot.waitUntil(lambda: drained(supervisor, FLOOD + 51), timeout=DRAIN_MS)
    assert {model.task_row(i).status for i in ids} == {"started", "queued"}  # still stale

    bridge.set_refresh_rate(REFRESH_HZ)
    took = wait_for_truth(qtbot, watch)
    store = model.store
    print(f"\npaused flood of {FLOOD:,}: {bridge.events_lost:,} events lost; truth {took} "
          f"refreshes after resuming; {store.reconciled:,} rows reconciled, last in "
          f"{store.last_reconcile_seconds * 1e3:.1f} ms")
    assert watch.gaps >= 1 and took <= FEW_REFRESHES
    statuses = {model.task_row(i).status for i in ids if model.task_row(i) is not None}
    assert statuses <= {"completed", GONE}
    assert model.rowCount() <= store.cap and watch.most_rows <= store.cap


def test_the_submit_panel_100_000_sleeps(supervisor, bridge, table, qloop, qtbot, gc_held):
    supervisor.set_thread_pool(pool_size=8)
    panel = TaskScriptPanel(bridge)
    qtbot.addWidget(panel)
    panel.show()
    watch = Watch(bridge, table)
    panel.param_edits["seconds"].setText("0")
    panel.count_spin.setValue(100_000)
    submitted: list = []
    panel.submitted.connect(lambda _description, ids: submitted.append(ids))

    async def operate() -> None:  # the batch is awaited on the running loop, as in the console
        assert panel.submit()
        await until(lambda: submitted, timeout=DRAIN_MS / 1000)

    run(qloop, operate(), timeout=DRAIN_MS / 1000)
    assert len(submitted[0]) == 100_000
    qtbot.waitUntil(lambda: drained(supervisor, 100_000), timeout=DRAIN_MS)
    took = wait_for_truth(qtbot, watch)
    print(f"\nsubmit panel 100,000 × sleep(0): truth {took} refreshes after the drain; "
          f"{bridge.events_lost:,} events lost; most rows {watch.most_rows:,}")
    assert took <= FEW_REFRESHES
    table.set_status_filter("started")
    assert table.proxy().rowCount() == 0
    store = table.model().store
    assert watch.most_rows <= store.cap and table.model().rowCount() <= store.cap


def test_cancelling_a_task_that_already_finished_says_so(supervisor, bridge, table, qtbot):
    supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    gate = threading.Event()
    blocker = supervisor.submit(gate.wait, 20, _name="blocker")
    late = supervisor.submit(noop, _name="late")
    model = table.model()
    qtbot.waitUntil(lambda: getattr(model.task_row(late.id), "status", "") == "queued",
                    timeout=5000)
    bridge.set_refresh_rate(0)  # the table will not hear that it ended
    gate.set()
    assert late.wait(5) and blocker.wait(5)
    assert model.task_row(late.id).status == "queued"
    assert table.select_task(late.id) and table.cancel_button.isEnabled()
    qtbot.mouseClick(table.cancel_button, Qt.LeftButton)
    assert table.last_message == (f"Task {late.id} (late) had already finished (completed): "
                                  f"nothing to cancel.")
    assert model.task_row(late.id).status == "completed"  # and the row says so now
    assert not table.cancel_button.isEnabled() and table.rerun_button.isEnabled()


# -- the rows alone, against a scripted client --------------------------------------------
class ScriptedClient:
    """Answers the rows' questions from dicts the test fills."""

    def __init__(self) -> None:
        self.live: dict = {}
        self.finished: dict = {}
        self.last_event_seq = 0
        self.calls: list = []

    def snapshot(self):
        return type("Stats", (), {"last_event_seq": self.last_event_seq})()

    def live_tasks(self, ids):
        self.calls.append(("live", list(ids)))
        return {i: self.live[i] for i in ids if i in self.live}

    def finished_tasks(self, ids):
        self.calls.append(("finished", list(ids)))
        return {i: self.finished[i] for i in ids if i in self.finished}


def event(seq: int, kind: str, task_id) -> TaskEvent:
    return TaskEvent(seq, time.monotonic(), kind, task_id, f"t{task_id}", TT_THREAD, 100)


def record(task_id, status: int, result: str | None = None) -> FinishedTask:
    class Done:
        pass
    done = Done()
    for name in ("name", "tt", "priority", "delay", "time_submitted", "time_queued",
                 "time_started", "time_completed", "supervisor_id", "target", "args",
                 "kwargs", "callback", "result", "exception"):
        setattr(done, name, None)
    done.id, done.status, done.result, done.time_completed = task_id, status, result, 1.0
    return done  # type: ignore[return-value]


def test_rows_reconcile_in_one_batch_and_mark_what_nobody_kept():
    client = ScriptedClient()
    rows = TaskRows(client)
    rows.apply_events([event(i, "queued", i) for i in range(1, 7)])
    client.live = {1: TaskState(1, "t1", TT_THREAD, 100, TASK_STATUS_QUEUED, None, 0.0, 0.0,
                                None)}
    client.finished = {2: record(2, TASK_STATUS_COMPLETED, "42")}
    client.last_event_seq = 10
    client.calls.clear()
    rows.reconcile_all()
    assert client.calls == [("live", [1, 2, 3, 4, 5, 6]), ("finished", [2, 3, 4, 5, 6])]
    assert [rows.task_row(i).status for i in range(1, 7)] == [
        "queued", "completed", GONE, GONE, GONE, GONE]
    assert rows.task_row(2).summary() == "42"
    assert rows.task_row(3).summary() == "finished, details not kept"
    # Events older than the reconciliation change nothing; newer ones do.
    rows.apply_events([event(8, "started", 3), event(9, "queued", 2), event(11, "started", 1)])
    assert [rows.task_row(i).status for i in (1, 2, 3)] == ["started", "completed", GONE]
    assert len(rows) == 6


def test_stale_rows_are_reconciled_every_few_ticks_without_any_gap():
    client = ScriptedClient()
    rows = TaskRows(client)
    rows.apply_events([event(1, "queued", "a"), event(2, "started", "a")])
    client.finished = {"a": record("a", TASK_STATUS_COMPLETED, "'ok'")}
    client.last_event_seq = 2
    ticks = 0
    while rows.task_row("a").status == "started":
        rows.tick()
        ticks += 1
        assert ticks <= 6
    assert rows.task_row("a").status == "completed"


def test_the_cap_holds_for_unfinished_rows_too():
    rows = TaskRows(None, max_finished=10, max_failed=5, max_unfinished=20)
    rows.apply_events([event(i, "queued", i) for i in range(1, 101)])
    assert len(rows) == 20 and rows.skipped == 80
    # Their ends: finished rows, bounded too.
    rows.apply_events([event(100 + i, "completed", i) for i in range(1, 101)])
    assert len(rows) <= rows.cap and rows.unfinished_count() == 0
    assert len(rows) == 10
