"""The task supervisor engine: a prioritized thread pool with reserves, aloops,
a multiprocessing pool and background workers.

Public names only. ``task_supervisor`` is the default supervisor (id
``"default"``), created on import and not started. No Qt is imported here.
Every public name may be used from any thread unless its docstring says otherwise.
"""

from .aloop import ALoop
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
from .debug import set_debug
from .default import task_supervisor
from .fcollections import FunctionCollection, TaskCollection
from .jobs import AsyncJobScheduler, AsyncScheduledJob
from .local import LocalProxy, g
from .locker import Locker
from .mp import START_METHOD, RemoteTaskError, WorkerDiedError
from .procpool import PoolBrokenError, ProcessPool, WorkerStartError
from .stacks import StackFrame, TaskStack
from .stats import (
    MP_POOL_BROKEN,
    MP_POOL_REBUILDING,
    EventBatch,
    PoolStats,
    RunningTask,
    SchedulerStats,
    SupervisorInfo,
    SupervisorStats,
    TaskEvent,
    TaskState,
    percentiles,
)
from .supervisor import TaskSupervisor
from .task import FinishedTask, RecordedError, ResultDroppedError, Task, TaskCanceledError
from .tasks import background_task, co_mp_apply, wait_completed
from .usercode import safe_repr
from .validate import MAX_SIZE
from .workers import (
    BackgroundAsyncWorker,
    BackgroundEventWorker,
    BackgroundIntervalWorker,
    BackgroundQueueWorker,
    BackgroundWorker,
    background_worker,
)

__all__ = [
    "PRIORITIES", "PRIORITY_NAMES", "STATUS_NAMES", "TASK_CRITICAL", "TASK_HIGH",
    "TASK_LOW", "TASK_NORMAL", "TASK_STATUS_CANCELED", "TASK_STATUS_COMPLETED",
    "TASK_STATUS_DELAYED", "TASK_STATUS_FAILED", "TASK_STATUS_QUEUED", "TASK_STATUS_STARTED",
    "TASK_TYPE_NAMES", "TT_COROUTINE", "TT_MP", "TT_THREAD", "START_METHOD", "ALoop",
    "BackgroundAsyncWorker", "BackgroundEventWorker", "BackgroundIntervalWorker",
    "BackgroundQueueWorker", "BackgroundWorker", "PoolStats", "ProcessPool", "RemoteTaskError",
    "SupervisorInfo", "SupervisorStats", "Task", "TaskCanceledError", "TaskEvent",
    "TaskSupervisor", "WorkerDiedError", "background_task", "background_worker",
    "co_mp_apply", "task_supervisor", "wait_completed", "FinishedTask", "RecordedError",
    "ResultDroppedError", "PoolBrokenError", "WorkerStartError", "EventBatch", "SchedulerStats",
    "TaskState", "percentiles", "MP_POOL_BROKEN", "MP_POOL_REBUILDING", "safe_repr", "MAX_SIZE",
    "RunningTask", "StackFrame", "TaskStack",
]

# The original library's remaining public names (migration).
__all__ += ["AsyncJobScheduler", "AsyncScheduledJob", "FunctionCollection", "TaskCollection",
            "LocalProxy", "Locker", "g", "set_debug"]
