"""The monitor's wire format: the engine's read records as JSON values, and back.

``encode_*`` turn a ``SupervisorStats``, an ``EventBatch``, ``TaskState``
and ``FinishedTask`` records into plain JSON values (dicts, lists, strings,
numbers); ``decode_*`` rebuild the same record types from them, so that a
client in another process hands the console exactly what a local
supervisor would. Times stay the serving process's ``time.monotonic()``
values: every answer of the monitor carries that clock's reading
(``"monotonic"``) for the client to convert them.

Task ids travel as they are when they are JSON strings or integers (what
the engine and nearly every caller use); any other id travels as its
``repr`` (readable, but a command naming it cannot find the task).

Pure functions of their arguments: callable from any thread.
"""

from __future__ import annotations

import dataclasses
import operator
from dataclasses import fields
from typing import Any

from .stacks import StackFrame, TaskStack
from .stats import (
    EventBatch,
    PoolStats,
    RunningTask,
    SchedulerStats,
    SupervisorStats,
    TaskEvent,
    TaskState,
)
from .task import FinishedTask, RecordedError

#: The version of this format, in every answer; a client refuses another.
WIRE_VERSION = 2

_POOL_DICTS = ("running", "queued", "delayed", "limits")
_POOL_FIELDS = tuple(f.name for f in fields(PoolStats))
_STATS_FIELDS = tuple(f.name for f in fields(SupervisorStats))
_SCHEDULER_FIELDS = tuple(f.name for f in fields(SchedulerStats))


_TASK_ID = operator.itemgetter(3)  # TaskEvent.task_id
_PLAIN_IDS = {int, str}


def wire_id(task_id: Any) -> Any:
    """A task id as it travels: itself if a JSON string or integer, else its repr."""
    if type(task_id) is int or type(task_id) is str:
        return task_id
    return repr(task_id)


# -- snapshot ----------------------------------------------------------------------------
def _encode_pool(pool: PoolStats) -> dict:
    out = {name: getattr(pool, name) for name in _POOL_FIELDS}
    for name in _POOL_DICTS:  # JSON keys are strings
        out[name] = {str(k): v for k, v in out[name].items()}
    longest = pool.longest
    if longest is not None:
        out["longest"] = [wire_id(longest.id), longest.name, longest.priority, longest.seconds]
    return out


def _decode_pool(data: dict) -> PoolStats:
    values = {name: data[name] for name in _POOL_FIELDS}
    for name in _POOL_DICTS:
        values[name] = {int(k): v for k, v in values[name].items()}
    if values["longest"] is not None:
        values["longest"] = RunningTask(*values["longest"])
    return PoolStats(**values)


def encode_stats(stats: SupervisorStats) -> dict:
    out = {name: getattr(stats, name) for name in _STATS_FIELDS}
    for pool in ("thread", "mp", "coroutine"):
        out[pool] = _encode_pool(out[pool])
    out["scheduler_info"] = {name: {f: getattr(info, f) for f in _SCHEDULER_FIELDS}
                             for name, info in stats.scheduler_info.items()}
    return out


def decode_stats(data: dict) -> SupervisorStats:
    values = {name: data[name] for name in _STATS_FIELDS}
    for pool in ("thread", "mp", "coroutine"):
        values[pool] = _decode_pool(values[pool])
    values["scheduler_info"] = {name: SchedulerStats(**info)
                                for name, info in values["scheduler_info"].items()}
    return SupervisorStats(**values)


# -- events ------------------------------------------------------------------------------
def encode_events(batch: EventBatch) -> dict:
    return encode_event_rows(batch.events, batch.oldest_seq, batch.last_seq)


def encode_event_rows(rows: list[tuple], oldest_seq: int, last_seq: int) -> dict:
    """``encode_events`` of events given as tuples of ``TaskEvent``'s fields
    (``TaskEvent`` objects or the ring's plain rows: JSON writes either as an
    array)."""
    if not set(map(type, map(_TASK_ID, rows))) <= _PLAIN_IDS:  # in C: thousands of events
        rows = [(*e[:3], wire_id(e[3]), *e[4:]) for e in rows]
    return {"events": rows, "oldest_seq": oldest_seq, "last_seq": last_seq}


def decode_events(data: dict, seq_base: int = 0, time_offset: float = 0.0) -> EventBatch:
    """The batch ``encode_events`` made, each event's seq moved by ``seq_base``
    and its time by ``time_offset`` (a reader's numbering and clock): one
    tuple built per event, for the thousands a batch holds."""
    make = tuple.__new__
    return EventBatch([make(TaskEvent, (seq + seq_base, at + time_offset, kind, task_id, name,
                                        tt, priority))
                       for seq, at, kind, task_id, name, tt, priority in data["events"]],
                      data["oldest_seq"], data["last_seq"])


# -- task records ------------------------------------------------------------------------
def encode_live(state: TaskState) -> list:
    return [wire_id(state.id), *state[1:]]


def decode_live(data: list) -> TaskState:
    return TaskState(*data)


def _encode_error(exc: BaseException | None) -> dict | None:
    if exc is None:
        return None
    if not isinstance(exc, RecordedError):
        exc = RecordedError.of(exc)
    return {"type": exc.type_name, "message": exc.message, "traceback": exc.traceback_text}


def encode_finished(record: FinishedTask) -> dict:
    result = record.result
    return {"id": wire_id(record.id), "name": record.name, "tt": record.tt,
            "priority": record.priority, "status": record.status, "delay": record.delay,
            "time_submitted": record.time_submitted, "time_queued": record.time_queued,
            "time_started": record.time_started, "time_completed": record.time_completed,
            "supervisor_id": record.supervisor_id, "auto": record.auto,
            "result": None if result is None else str(result),
            "exception": _encode_error(record.exception)}


def decode_finished(data: dict) -> FinishedTask:
    error = data["exception"]
    exception = None if error is None else RecordedError(error["type"], error["message"],
                                                         error["traceback"])
    plain = (data["id"], data["name"], data["tt"], data["priority"], data["status"],
             data["delay"], data["time_submitted"], data["time_queued"], data["time_started"],
             data["time_completed"], data["supervisor_id"], data["auto"])
    return FinishedTask(plain, (data["result"], exception, None, (), {}, None))


# -- live stacks -------------------------------------------------------------------------
def encode_stack(stack: TaskStack) -> dict:
    return {"task_id": wire_id(stack.task_id), "name": stack.name, "priority": stack.priority,
            "kind": stack.kind, "where": stack.where, "seconds": stack.seconds,
            "note": stack.note, "frames": [list(frame) for frame in
                                           (dataclasses.astuple(f) for f in stack.frames)]}


def decode_stack(data: dict) -> TaskStack:
    frames = tuple(StackFrame(*frame) for frame in data["frames"])
    return TaskStack(data["task_id"], data["name"], data["priority"], data["kind"],
                     data["where"], data["seconds"], frames, data["note"])
