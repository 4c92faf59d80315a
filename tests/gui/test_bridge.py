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
        ok, _ = bridge.act("set pool size", lambda c: c.set_thread_pool(pool_size=-3))
    assert not ok
    what, message = blocker.args
    assert what == "set pool size" and "-3" in message and "ValueError" in message
    assert supervisor.stats().thread.pool_size == before


def test_a_refusal_shows_the_exception_notes(bridge, qtbot):
    def refuse(client):
        exc = LookupError("no aloop named 'x'")
        exc.add_note("create it first in the aloops panel")
        exc.add_note("names are case-sensitive")
        raise exc

    with qtbot.waitSignal(bridge.error_raised, timeout=1000) as blocker:
        ok, message = bridge.act("stop aloop 'x'", refuse)
    assert not ok and blocker.args[1] == message
    assert message.splitlines() == ["LookupError: no aloop named 'x'",
                                    "create it first in the aloops panel",
                                    "names are case-sensitive"]


def test_a_refusal_without_notes_or_a_readable_message_is_still_shown(bridge):
    class Unprintable(ValueError):
        def __str__(self):
            raise RuntimeError("no text")

    def refuse(client):
        exc = Unprintable()
        exc.__notes__ = ["a note", 42]  # a note that is not text is shown by its repr
        raise exc

    ok, message = bridge.act("bad", lambda c: c.set_thread_pool(pool_size=-3))
    assert not ok and len(message.splitlines()) == 1
    ok, message = bridge.act("worse", refuse)
    assert not ok
    assert message.splitlines() == ["Unprintable: <exception str() failed>", "a note", "42"]


def test_accepted_action_is_announced_and_read_back(supervisor, bridge, qtbot):
    with qtbot.waitSignal(bridge.action_applied, timeout=1000) as blocker:
        ok, _ = bridge.act("thread pool_size 4 → 9", lambda c: c.set_thread_pool(pool_size=9))
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


def test_a_change_is_emitted_once_by_its_own_signal(supervisor, bridge, qtbot):
    """Panels redraw from changes: an unchanged snapshot emits no change signal."""
    changes = {"settings": 0, "aloops": 0, "schedulers": 0}
    bridge.settings_changed.connect(lambda _s: changes.__setitem__("settings",
                                                                   changes["settings"] + 1))
    bridge.aloops_changed.connect(lambda _s: changes.__setitem__("aloops", changes["aloops"] + 1))
    bridge.schedulers_changed.connect(
        lambda _s: changes.__setitem__("schedulers", changes["schedulers"] + 1))
    for _ in range(5):
        bridge.refresh()
    assert changes == {"settings": 0, "aloops": 0, "schedulers": 0}
    bridge.act("timeouts", lambda c: c.set_timeouts(timeout_warning=7.5))
    bridge.refresh()
    assert changes == {"settings": 1, "aloops": 0, "schedulers": 0}
    assert bridge.last_stats.timeout_warning == 7.5
    bridge.act("aloop", lambda c: c.create_aloop("changes", daemon=True))
    bridge.refresh()
    assert changes == {"settings": 1, "aloops": 1, "schedulers": 0}


def test_a_gap_in_the_event_stream_is_emitted_and_counted(supervisor, bridge, qtbot):
    """When the ring wraps between two reads, the bridge says how many events
    it never saw, then goes on from the oldest event still held."""
    bridge.set_refresh_rate(0)
    bridge.refresh()
    read = supervisor.event_batch(0).last_seq
    gaps, arrived = [], []
    bridge.events_gap.connect(gaps.append)
    bridge.events_arrived.connect(arrived.extend)
    tasks = [supervisor.submit(int) for _ in range(12_000)]  # 3 events each: the ring wraps
    qtbot.waitUntil(lambda: all(t.is_completed() for t in tasks), timeout=20_000)
    held = supervisor.event_batch(read, limit=1)
    assert held.oldest_seq > read + 1  # the engine really dropped some
    bridge.refresh()
    assert gaps == [held.oldest_seq - read - 1]
    assert bridge.events_lost == gaps[0]
    assert arrived[0].seq == held.oldest_seq
    bridge.refresh()
    assert len(gaps) == 1  # reading on from there is no new gap
