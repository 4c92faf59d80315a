"""Per-priority tally of a supervisor's task events.

Fed with ``events_since`` batches, it counts tasks submitted, completed,
failed and canceled per priority and keeps their queue waits, so a report
covers every task (including those workers submit), not only the ones a
scenario tracked. Events missed because the ring wrapped are counted in
``missed``. Single-threaded: feed it from one thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine import PRIORITIES, PRIORITY_NAMES, TaskEvent, TaskSupervisor, percentiles


@dataclass
class PriorityRow:
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    canceled: int = 0
    waits: list[float] = field(default_factory=list)


class EventTally:
    def __init__(self) -> None:
        self.seq = 0
        self.missed = 0
        self.rows = {p: PriorityRow() for p in PRIORITIES}
        self._queued_at: dict[Any, float | None] = {}  # live task id → queued time

    def poll(self, supervisor: TaskSupervisor) -> None:
        self.feed(supervisor.events_since(self.seq))

    def feed(self, events: list[TaskEvent]) -> None:
        for ev in events:
            if ev.seq > self.seq + 1:
                self.missed += ev.seq - self.seq - 1
            self.seq = ev.seq
            row = self.rows[ev.priority]
            kind = ev.kind
            if kind == "delayed":
                row.submitted += 1
                self._queued_at[ev.task_id] = None
            elif kind == "queued":
                if ev.task_id not in self._queued_at:
                    row.submitted += 1
                self._queued_at[ev.task_id] = ev.time
            elif kind == "started":
                queued = self._queued_at.get(ev.task_id)
                if queued is not None:
                    row.waits.append(ev.time - queued)
            elif kind in ("completed", "failed", "canceled"):
                setattr(row, kind, getattr(row, kind) + 1)
                self._queued_at.pop(ev.task_id, None)

    def format(self, elapsed: float) -> str:
        """A table: per priority submitted, completed, failed, canceled, waits, tasks/s."""
        header = (f"{'priority':<10}{'submitted':>10}{'completed':>10}{'failed':>8}"
                  f"{'canceled':>9}{'wait p50':>10}{'wait p95':>10}{'tasks/s':>9}")
        lines = [header, "-" * len(header)]
        total = PriorityRow()
        rows = [(PRIORITY_NAMES[p], self.rows[p]) for p in PRIORITIES]
        for _, row in rows:
            for name in ("submitted", "completed", "failed", "canceled"):
                setattr(total, name, getattr(total, name) + getattr(row, name))
            total.waits.extend(row.waits)
        for label, row in rows + [("total", total)]:
            p50, p95, _ = percentiles(row.waits)
            rate = (row.completed + row.failed) / elapsed if elapsed else 0.0
            lines.append(f"{label:<10}{row.submitted:>10}{row.completed:>10}{row.failed:>8}"
                         f"{row.canceled:>9}{p50 * 1000:>8.1f}ms{p95 * 1000:>8.1f}ms"
                         f"{rate:>9.1f}")
        if self.missed:
            lines.append(f"({self.missed} events were not seen: the event ring wrapped)")
        return "\n".join(lines)
