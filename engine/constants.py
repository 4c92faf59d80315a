"""Public constants: priorities, task types and task statuses.

Values are compatible with the original task-supervisor library: a lower
priority number is more urgent.

Constants and one pure check: importable and callable from any thread.
"""

from __future__ import annotations

TASK_CRITICAL = 0
TASK_HIGH = 50
TASK_NORMAL = 100
TASK_LOW = 200

#: Priorities from the most to the least urgent; admission walks them in this order.
PRIORITIES = (TASK_CRITICAL, TASK_HIGH, TASK_NORMAL, TASK_LOW)

PRIORITY_NAMES = {
    TASK_CRITICAL: "CRITICAL",
    TASK_HIGH: "HIGH",
    TASK_NORMAL: "NORMAL",
    TASK_LOW: "LOW",
}

TT_COROUTINE = 0
TT_THREAD = 1
TT_MP = 2

TASK_TYPES = (TT_COROUTINE, TT_THREAD, TT_MP)
TASK_TYPE_NAMES = {TT_COROUTINE: "coroutine", TT_THREAD: "thread", TT_MP: "mp"}

TASK_STATUS_QUEUED = 0
TASK_STATUS_DELAYED = 2
TASK_STATUS_STARTED = 100
TASK_STATUS_COMPLETED = 200
TASK_STATUS_CANCELED = -1
TASK_STATUS_FAILED = -2

#: Statuses a task never leaves.
FINAL_STATUSES = frozenset((TASK_STATUS_COMPLETED, TASK_STATUS_CANCELED, TASK_STATUS_FAILED))

STATUS_NAMES = {
    TASK_STATUS_QUEUED: "queued",
    TASK_STATUS_DELAYED: "delayed",
    TASK_STATUS_STARTED: "started",
    TASK_STATUS_COMPLETED: "completed",
    TASK_STATUS_CANCELED: "canceled",
    TASK_STATUS_FAILED: "failed",
}


def check_priority(priority: object) -> int:
    """Return ``priority`` if it is one of the four priorities, else raise ``ValueError``."""
    if isinstance(priority, bool) or priority not in PRIORITY_NAMES:
        raise ValueError(
            f"unknown priority {priority!r}: use TASK_LOW (200), TASK_NORMAL (100), "
            f"TASK_HIGH (50) or TASK_CRITICAL (0)"
        )
    return priority  # type: ignore[return-value]
