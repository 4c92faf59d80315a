"""The task rows of an attached console while its service is away: kept as
they were (never marked finished for an unanswered question), asked again
once it answers, and ended when another service replaces it."""

from __future__ import annotations

import time

from engine import TASK_STATUS_COMPLETED, TASK_STATUS_STARTED, TT_THREAD
from gui.client import TaskEvent, TaskState
from gui.remote import MonitorUnavailable
from gui.task_model import GONE, TaskRows


class Snapshot:
    last_event_seq = 0


class FlakyClient:
    """Answers from ``live`` / ``finished`` while ``up``; ``MonitorUnavailable`` otherwise."""

    def __init__(self) -> None:
        self.up = True
        self.live: dict = {}
        self.finished: dict = {}
        self.asked = 0

    def _check(self) -> None:
        self.asked += 1
        if not self.up:
            raise MonitorUnavailable("the monitor at unix:/x does not answer: refused")

    def snapshot(self):
        self._check()
        return Snapshot()

    def live_tasks(self, ids):
        self._check()
        return {i: self.live[i] for i in ids if i in self.live}

    def finished_tasks(self, ids):
        self._check()
        return {i: self.finished[i] for i in ids if i in self.finished}


def event(seq: int, kind: str, task_id) -> TaskEvent:
    return TaskEvent(seq, time.monotonic(), kind, task_id, f"t{task_id}", TT_THREAD, 100)


def done(task_id, result: str):
    class Done:
        pass
    record = Done()
    for name in ("name", "tt", "priority", "delay", "time_submitted", "time_queued",
                 "time_started", "time_completed", "supervisor_id", "target", "args",
                 "kwargs", "callback", "exception"):
        setattr(record, name, None)
    record.id, record.status, record.result = task_id, TASK_STATUS_COMPLETED, result
    record.time_completed = time.monotonic()
    return record


def started(task_id) -> TaskState:
    now = time.monotonic()
    return TaskState(task_id, f"t{task_id}", TT_THREAD, 100, TASK_STATUS_STARTED, None, now,
                     now, now)


def test_rows_are_kept_while_the_service_is_away_and_checked_once_it_answers():
    client = FlakyClient()
    rows = TaskRows(client)
    rows.apply_events([event(1, "queued", 1), event(2, "started", 1), event(3, "queued", 2),
                       event(4, "started", 2)])
    client.up = False
    rows.apply_events([event(5, "completed", 1)])  # its result cannot be asked for
    assert rows.task_row(1).status == "completed" and rows.task_row(1).summary() == ""
    assert rows.reconcile_all() == 0  # a gap while away: nothing is decided
    for _ in range(6):
        rows.tick()
    assert [rows.task_row(i).status for i in (1, 2)] == ["completed", "started"]
    assert GONE not in {r.status for r in rows.rows} and rows.reconciled == 0
    # Back: the owed reconciliation and the result come on the next tick.
    client.up = True
    client.live = {2: started(2)}
    client.finished = {1: done(1, "'forty-two'")}
    rows.tick()
    assert rows.task_row(1).summary() == "'forty-two'"
    assert rows.task_row(2).status == "started"
    asked = client.asked
    rows.tick()
    assert client.asked == asked  # nothing was left owed


def test_without_the_service_coming_back_a_row_never_reads_finished():
    client = FlakyClient()
    rows = TaskRows(client)
    rows.apply_events([event(1, "queued", 7)])
    client.up = False
    for _ in range(20):
        rows.tick()
    assert rows.task_row(7).status == "queued"


def test_a_restarted_service_ends_the_old_ones_unfinished_rows():
    client = FlakyClient()
    rows = TaskRows(client)
    rows.apply_events([event(1, "queued", 1), event(2, "delayed", 2), event(3, "queued", 3),
                       event(4, "started", 3), event(5, "completed", 3)])
    asked = client.asked
    assert rows.end_unfinished("ended with the old service") == 2
    assert client.asked == asked  # the new service's ids are not these: nobody is asked
    assert [rows.task_row(i).status for i in (1, 2, 3)] == [GONE, GONE, "completed"]
    assert rows.task_row(2).summary() == "ended with the old service"
    # The new service's task 1 is a new row, beside the old one.
    rows.apply_events([event(7, "queued", 1)])
    assert rows.task_row(1).status == "queued" and len(rows) == 4
