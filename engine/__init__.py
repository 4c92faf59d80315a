"""The task supervisor engine: prioritized thread pool with reserves.

Public names only. ``task_supervisor`` is the default supervisor (id
``"default"``), created on import and not started.
"""

from .constants import (
    PRIORITIES,
    PRIORITY_NAMES,
    STATUS_NAMES,
    TASK_CRITICAL,
    TASK_HIGH,
    TASK_LOW,
    TASK_NORMAL,
    TASK_STATUS_CANCELED,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_DELAYED,
    TASK_STATUS_FAILED,
    TASK_STATUS_QUEUED,
    TASK_STATUS_STARTED,
    TASK_TYPE_NAMES,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
)
from .stats import PoolStats, SupervisorInfo, SupervisorStats, TaskEvent
from .supervisor import TaskSupervisor
from .task import Task, TaskCanceledError
from .tasks import background_task, wait_completed

task_supervisor = TaskSupervisor(supervisor_id="default")

__all__ = [
    "PRIORITIES", "PRIORITY_NAMES", "STATUS_NAMES", "TASK_CRITICAL", "TASK_HIGH",
    "TASK_LOW", "TASK_NORMAL", "TASK_STATUS_CANCELED", "TASK_STATUS_COMPLETED",
    "TASK_STATUS_DELAYED", "TASK_STATUS_FAILED", "TASK_STATUS_QUEUED", "TASK_STATUS_STARTED",
    "TASK_TYPE_NAMES", "TT_COROUTINE", "TT_MP", "TT_THREAD", "PoolStats", "SupervisorInfo",
    "SupervisorStats", "Task", "TaskCanceledError", "TaskEvent", "TaskSupervisor",
    "background_task", "task_supervisor", "wait_completed",
]
