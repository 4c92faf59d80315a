"""The series recorder (Qt-free): one sample per snapshot, the rates computed once.

Snapshots are built by hand here so that their times and totals are exact;
the graphs' tests drive the same recorder from a real supervisor.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from engine import PRIORITIES, TASK_HIGH, TASK_LOW
from gui.series import RATE_WINDOW, RAW_COLUMNS, SeriesRecorder


def pool(started=0, completed=0, failed=0, running=None, queued=None, pool_size=4):
    return SimpleNamespace(
        running={p: (running or {}).get(p, 0) for p in PRIORITIES},
        queued={p: (queued or {}).get(p, 0) for p in PRIORITIES},
        pool_size=pool_size, reserve_normal=2, reserve_high=1, max_size=10,
        started=started, completed=completed, failed=failed)


def snapshot(t, thread=None, mp=None, coroutine=None):
    return SimpleNamespace(time=t, thread=thread or pool(), mp=mp or pool(pool_size=0),
                           coroutine=coroutine or pool(), wait_p50=0.001, wait_p95=0.002)


def test_the_same_snapshot_is_recorded_once_whoever_asks_first():
    recorder = SeriesRecorder(capacity=100)
    first = snapshot(10.0)
    assert recorder.record(first)
    assert not recorder.record(first)  # the status bar after the graphs, or the reverse
    assert not recorder.record(snapshot(9.5))  # older than the newest: never out of order
    assert recorder.record(snapshot(10.1))
    assert len(recorder) == 2 and recorder.appended == 2


def test_rates_sum_every_pool_over_the_trailing_window():
    recorder = SeriesRecorder(capacity=100)
    recorder.record(snapshot(100.0))
    assert recorder.rates().finished == 0  # nothing to compare with yet
    later = snapshot(100.0 + 2 * RATE_WINDOW,
                     thread=pool(started=30, completed=20, failed=4),
                     mp=pool(started=6, completed=6, pool_size=0),
                     coroutine=pool(started=10, completed=10, failed=2))
    recorder.record(later)
    rates = recorder.rates()
    dt = 2 * RATE_WINDOW
    assert rates.started == pytest.approx(46 / dt)
    assert rates.completed == pytest.approx(36 / dt)
    assert rates.failed == pytest.approx(6 / dt)
    assert rates.finished == pytest.approx(42 / dt)
    data = recorder.series()
    assert data["completed_per_s"][-1] == pytest.approx(rates.completed)  # one computation
    assert data["coroutine_completed"][-1] == 10


def test_a_short_history_does_not_turn_a_few_tasks_into_a_spike():
    recorder = SeriesRecorder(capacity=100)
    recorder.record(snapshot(5.0))
    recorder.record(snapshot(5.01, thread=pool(completed=3)))
    assert recorder.rates().completed == pytest.approx(3 / RATE_WINDOW)


def test_samples_hold_per_priority_counts_stacks_and_limit_lines():
    recorder = SeriesRecorder(capacity=100)
    recorder.record(snapshot(1.0, thread=pool(running={TASK_HIGH: 2, TASK_LOW: 1},
                                              queued={TASK_LOW: 5})))
    ring = recorder.ring
    assert ring.at("thread_running_HIGH", 0) == 2
    assert ring.at("thread_queued_LOW", 0) == 5
    assert ring.at("thread_stack_LOW", 0) == 3  # LOW on top of all
    assert ring.at("thread_line_reserve_high", 0) == 4 + 2 + 1
    assert math.isnan(ring.at("mp_line_pool_size", 0))  # the mp pool is unlimited
    assert ring.at("mp_line_max_size", 0) == 10
    assert set(recorder.series()) == set(RAW_COLUMNS)


def test_csv_holds_the_raw_series_and_the_actions(tmp_path):
    recorder = SeriesRecorder(capacity=100)
    recorder.record(snapshot(1.0))
    recorder.record(snapshot(2.0, thread=pool(completed=4)))
    path = tmp_path / "s.csv"
    recorder.write_csv(str(path), [(0.5, "too old"), (1.5, "resize")])
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert header[:2] == ["timestamp", "seconds_since_start"] and header[-1] == "action"
    assert len(lines) == 3
    assert lines[2].endswith(",resize") and "too old" not in path.read_text()
    assert lines[2].split(",")[header.index("thread_completed")] == "4"
