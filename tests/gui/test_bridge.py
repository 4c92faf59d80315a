"""The bridge turns snapshots and events into signals and reports refused actions."""

from __future__ import annotations

import threading

from engine import TASK_HIGH


def test_delayed_task_runs_on_the_qt_loop(supervisor, bridge, qtbot):
    done = threading.Event()
    task = supervisor.submit(done.set, _delay=0.05)
    qtbot.waitUntil(lambda: task.is_completed(), timeout=3000)
    assert done.is_set()


def test_events_and_stats_arrive_as_signals(supervisor, bridge, qtbot):
    seen = []
    bridge.events_arrived.connect(seen.extend)
    task = supervisor.submit(lambda: 42, _priority=TASK_HIGH, _name="answer")
    with qtbot.waitSignal(bridge.stats_updated, timeout=2000):
        pass
    qtbot.waitUntil(lambda: any(e.kind == "completed" and e.task_id == task.id for e in seen),
                    timeout=2000)
    kinds = [e.kind for e in seen if e.task_id == task.id]
    assert kinds == ["queued", "started", "completed"]
    assert bridge.last_stats.thread.completed >= 1


def test_refused_action_reports_the_engine_message_and_changes_nothing(supervisor, bridge,
                                                                       qtbot):
    before = supervisor.stats().thread.pool_size
    with qtbot.waitSignal(bridge.error_raised, timeout=1000) as blocker:
        ok, _ = bridge.act("set pool size", supervisor.set_thread_pool, pool_size=-3)
    assert not ok
    what, message = blocker.args
    assert what == "set pool size" and "-3" in message and "ValueError" in message
    assert supervisor.stats().thread.pool_size == before


def test_accepted_action_is_announced_and_read_back(supervisor, bridge, qtbot):
    with qtbot.waitSignal(bridge.action_applied, timeout=1000) as blocker:
        ok, _ = bridge.act("thread pool_size 4 → 9", supervisor.set_thread_pool, pool_size=9)
    assert ok and blocker.args == ["thread pool_size 4 → 9"]
    assert bridge.last_stats.thread.pool_size == 9


def test_pause_stops_refreshing(bridge, qtbot):
    bridge.set_refresh_rate(0)
    count = []
    bridge.stats_updated.connect(count.append)
    qtbot.wait(200)
    assert count == []
    bridge.set_refresh_rate(20)
    qtbot.waitUntil(lambda: len(count) >= 2, timeout=2000)


def test_loop_lag_is_measured(bridge, qtbot):
    qtbot.waitUntil(lambda: len(bridge.lags) >= 3, timeout=3000)
    assert 0 <= bridge.lag_p99() < 1.0
