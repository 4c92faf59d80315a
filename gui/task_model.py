"""The task table's rows: what the console knows of each task it has seen (Qt-free).

``TaskRows`` owns the rows. They are plain records (``TaskRow``: ids, names,
status, times, a short result or error text), never the engine's ``Task``
objects: results, arguments and tracebacks stay in the engine, and a view
asks the client for them (``client.task_record(id)``) when the operator
opens a task.

Three things feed the rows, all on the GUI thread:

* ``apply_events(events)``: a batch of task events, oldest first. A row is
  created by a task's first event and updated by its later ones. When tasks
  finish, their outcomes (short result or error) are fetched for the whole
  batch in one ``client.finished_tasks`` call. ``timeout_*`` events mark a
  row late in its queue (``late``), ``run_*`` events stuck while it runs
  (``ran_over``, with the threshold then: ``set_run_limits`` keeps the
  engine's from the snapshots); the two are kept apart.
* ``reconcile(rows)``: the truth for unfinished rows, in one batch:
  ``client.live_tasks(ids)``, then ``client.finished_tasks`` for the ids no
  longer live. A row found in neither is marked ``finished`` ("finished,
  details not kept"): the engine ended it and its bounded history has since
  dropped it. Call ``reconcile_all()`` when the event stream had a gap.
* ``tick()``: once per refresh. Every ``RECONCILE_EVERY`` ticks it reconciles
  the rows left unfinished and unchecked for ``STALE_TICKS`` ticks, so a row
  whose end the console missed for any reason (any refresh rate, paused then
  resumed) tells the truth a few refreshes later anyway.
* ``end_unfinished(text)``: the supervisor the rows came from is gone (an
  attached service restarted as a new process): every unfinished row is
  marked ``finished`` with ``text`` as its summary, without asking the new
  one, whose task ids may be the same numbers.

A client that cannot reach its supervisor (an attached console whose
service is away: ``MonitorUnavailable``) changes nothing: the rows stay as
they were -- never marked finished because the question went unanswered --
and what was to be asked is asked again: outcomes on the next ticks, a
reconciliation after a gap (``reconcile_all``) on the first tick the
service answers again.

Order: every row remembers the sequence number of what it was last told
(an event's ``seq``, or for a reconciliation the engine's ``last_event_seq``
taken before asking); older events arriving afterwards are ignored, so a
late ``queued`` event never turns a finished row back into a waiting one.

Bounds (the cap holds whatever feeds the rows): at most ``max_unfinished``
unfinished rows (a task that arrives while they are all taken gets no row,
counted in ``skipped``, unless the console later sees it finish), at most
``max_finished`` completed / canceled / finished rows and, separately,
``max_failed`` failed rows (the oldest go first, counted in ``dropped``), so
failures survive a flood of successes. ``cap`` is their sum.

A ``RowListener`` (the Qt model) hears about every insertion, removal and
change before and after it happens, as Qt models need.

GUI thread only (or any one thread: nothing here is locked).
"""

from __future__ import annotations

import bisect
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol

from engine.constants import (
    PRIORITY_NAMES,
    STATUS_NAMES,
    TASK_TYPE_NAMES,
)

from .client import safe_repr
from .formatting import error_summary, format_seconds, format_wall, one_line
from .remote import MonitorUnavailable

if TYPE_CHECKING:
    from .client import FinishedTask, TaskEvent, TaskState

# -- statuses -----------------------------------------------------------------------
GONE = "finished"  # the engine ended the task; the console never learned how
GONE_TEXT = "finished, details not kept"
WAITING = frozenset(("queued", "delayed"))
UNFINISHED = frozenset(("queued", "delayed", "started"))
FINISHED = frozenset(("completed", "failed", "canceled", GONE))
STATUSES = ("queued", "delayed", "started", "completed", "failed", "canceled", GONE)
STATUS_GROUPS = {"waiting": WAITING, "unfinished": UNFINISHED, "finished": FINISHED}
STATUS_ORDER = {s: i for i, s in enumerate(STATUSES)}
_ENDS = frozenset(("completed", "failed", "canceled"))  # event kinds that finish a task

# Timeout levels a row can carry.
LATE_NONE, LATE_WARNING, LATE_CRITICAL = 0, 1, 2
LATE_TIPS = {LATE_WARNING: "waited in its queue past timeout_warning",
             LATE_CRITICAL: "waited in its queue past timeout_critical"}
# Run-time levels (the same numbers), from the run_warning / run_critical events:
# kept apart from the queue's (a task can be both late to start and stuck).
RUN_NAMES = {LATE_WARNING: "run_warning", LATE_CRITICAL: "run_critical"}
_RUN_KINDS = {"run_warning": LATE_WARNING, "run_critical": LATE_CRITICAL}

#: Rows unfinished and unchecked for this many refreshes are reconciled...
STALE_TICKS = 3
#: ...at most once every this many refreshes.
RECONCILE_EVERY = 2
#: Ticks a failed row's error is asked for again while the engine has not
#: recorded it yet (it does so just after the failure's event).
OUTCOME_RETRIES = 5


class RowClient(Protocol):
    """What the rows need of the console's client (``gui.client.SupervisorClient``)."""

    def snapshot(self) -> Any: ...
    def live_tasks(self, ids: Collection[Any]) -> dict[Any, TaskState]: ...
    def finished_tasks(self, ids: Collection[Any]) -> dict[Any, FinishedTask]: ...


def id_text(task_id: Any) -> str:
    """A task id as text: ids given to put_task may be any hashable, with any
    ``__str__`` (a failing one is named the way the engine names it)."""
    if isinstance(task_id, (int, str)):
        return str(task_id)
    try:
        return str(task_id)
    except BaseException:  # noqa: BLE001 - user __str__, sys.exit() in it included
        return safe_repr(task_id)


# -- rows ---------------------------------------------------------------------------
#: The columns of a tasks export (``TaskRows.export_record``).
EXPORT_COLUMNS = ("id", "name", "priority", "type", "status", "submitted_at", "queued_at",
                  "started_at", "finished_at", "wait_s", "run_s", "result", "error")


class TaskRow:
    """What the table knows of one task.

    ``serial`` orders rows (first seen first) and locates a row in the list
    by bisection; ``seq`` is the sequence number of what the row was last
    told; ``checked`` the tick it last changed or was reconciled. ``late``
    is the queue-wait level it reached (``timeout_*`` events), ``ran_over``
    the run-time levels (``run_*`` events) with the threshold each passed.
    """

    __slots__ = ("serial", "task_id", "name", "tt", "priority", "status", "late", "ran_over",
                 "t_submitted", "t_queued", "t_started", "t_finished", "result", "error",
                 "seq", "checked", "alive", "awaiting", "gone_text", "_queued_text")

    def __init__(self, serial: int, task_id: Any, name: str, tt: int, priority: int,
                 when: float, seq: int = 0) -> None:
        self.serial = serial
        self.task_id = task_id
        self.name = name
        self.tt = tt
        self.priority = priority
        self.status = ""
        self.late = LATE_NONE
        # Run-time levels it passed while running → the threshold then (seconds).
        self.ran_over: dict[int, float] = {}
        self.t_submitted = when
        self.t_queued: float | None = None
        self.t_started: float | None = None
        self.t_finished: float | None = None
        self.result = ""  # short repr of a completed task's result, if the engine had it
        self.error = ""   # one line for a failed task
        self.awaiting = False  # failed, and its error is asked for again (not recorded yet)
        self.gone_text = GONE_TEXT  # the summary of a GONE row
        self.seq = seq
        self.checked = 0
        self.alive = True
        self._queued_text: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def wait(self) -> float | None:
        if self.t_started is None:
            return None
        start = self.t_queued if self.t_queued is not None else self.t_submitted
        return self.t_started - start

    @property
    def run_time(self) -> float | None:
        if self.t_started is None or self.t_finished is None:
            return None
        return self.t_finished - self.t_started

    def summary(self) -> str:
        """The result / error cell."""
        if self.status == "failed":
            return self.error or ("failed …" if self.awaiting else "failed (error not kept)")
        if self.status == "completed":
            return self.result
        if self.status == GONE:
            return self.gone_text
        return ""


def _id_key(row: TaskRow) -> tuple:
    task_id = row.task_id
    if isinstance(task_id, int) and not isinstance(task_id, bool):
        return (0, task_id, "")
    return (1, 0, id_text(task_id))  # ids given to put_task may be anything


def _or_minus_one(value: float | None) -> float:
    return -1.0 if value is None else value


#: Column → sort key of a row (comparable within a column; keep them cheap).
SORT_KEYS: tuple[Callable[[TaskRow], Any], ...] = (
    _id_key,
    lambda r: r.name.lower(),
    attrgetter("priority"),
    lambda r: TASK_TYPE_NAMES.get(r.tt, str(r.tt)),
    lambda r: STATUS_ORDER.get(r.status, len(STATUSES)),
    lambda r: r.t_queued if r.t_queued is not None else r.t_submitted,
    lambda r: _or_minus_one(r.wait),
    lambda r: _or_minus_one(r.run_time),
    lambda r: r.summary().lower(),
)


# -- filters ------------------------------------------------------------------------
def parse_statuses(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """A status, a group (``waiting``, ``unfinished``, ``finished``), several, or
    ``None`` / ``"all"`` → the statuses wanted (``None``: all). ``ValueError``
    naming an unknown one."""
    if value is None or value == "all":
        return None
    names = [value] if isinstance(value, str) else list(value)
    statuses: set[str] = set()
    for name in names:
        if name in STATUS_GROUPS:
            statuses |= STATUS_GROUPS[name]
        elif name in STATUSES:
            statuses.add(name)
        else:
            raise ValueError(f"unknown status filter {name!r}: use one of "
                             f"{', '.join((*STATUSES, *STATUS_GROUPS))} or 'all'")
    return frozenset(statuses)


def parse_priorities(value: int | str | Iterable[int | str] | None) -> frozenset[int] | None:
    """A priority constant or name, several, or ``None`` / ``"all"``."""
    if value is None or value == "all":
        return None
    values = [value] if isinstance(value, (int, str)) else list(value)
    by_name = {name.lower(): p for p, name in PRIORITY_NAMES.items()}
    priorities: set[int] = set()
    for v in values:
        if isinstance(v, str) and v.lower() in by_name:
            priorities.add(by_name[v.lower()])
        elif not isinstance(v, bool) and v in PRIORITY_NAMES:
            priorities.add(v)  # type: ignore[arg-type]
        else:
            raise ValueError(f"unknown priority filter {v!r}: use TASK_CRITICAL (0), "
                             f"TASK_HIGH (50), TASK_NORMAL (100), TASK_LOW (200) or a "
                             f"name, or 'all'")
    return frozenset(priorities)


def row_matches(row: TaskRow, statuses: frozenset[str] | None,
                priorities: frozenset[int] | None, text: str) -> bool:
    """The filters: statuses, priorities, and a lower-case substring of the
    id, the name or a failed task's error."""
    if statuses is not None and row.status not in statuses:
        return False
    if priorities is not None and row.priority not in priorities:
        return False
    if text:
        return (text in id_text(row.task_id).lower() or text in row.name.lower()
                or (row.status == "failed" and text in row.error.lower()))
    return True


# -- listening ----------------------------------------------------------------------
class RowListener(Protocol):
    """Told before and after the row list changes (a Qt model forwards these)."""

    def rows_inserting(self, first: int, last: int) -> None: ...
    def rows_inserted(self) -> None: ...
    def rows_removing(self, first: int, last: int) -> None: ...
    def rows_removed(self) -> None: ...
    def rows_resetting(self) -> None: ...
    def rows_reset(self) -> None: ...
    def rows_changed(self, first: int, last: int) -> None: ...


class _Silent:
    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: None


# Removing more separate row ranges than this in one batch costs more in
# signals than one reset (which loses the selection); measured: 100 range
# removals from 7,000 rows cost less than one reset, so this is rare.
MAX_REMOVE_RANGES = 1000
_CHANGE_GAP = 8  # changed rows closer than this share one change range
_MAX_CHANGE_RANGES = 32
_SERIAL = attrgetter("serial")


# -- the rows -----------------------------------------------------------------------
class TaskRows:
    """The bounded rows of the task table; see the module docstring."""

    def __init__(self, client: RowClient | None = None, *, max_finished: int = 5000,
                 max_failed: int = 2000, max_unfinished: int = 5000,
                 listener: RowListener | None = None) -> None:
        for label, cap in (("max_finished", max_finished), ("max_failed", max_failed),
                           ("max_unfinished", max_unfinished)):
            if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
                raise ValueError(f"{label} must be an integer >= 0, got {cap!r}")
        self.client = client
        self.max_finished = max_finished
        self.max_failed = max_failed
        self.max_unfinished = max_unfinished
        self.listener: RowListener = listener or _Silent()  # type: ignore[assignment]
        self.dropped = 0     # finished rows dropped to stay within the bounds
        self.skipped = 0     # tasks that got no row: the unfinished rows were all taken
        self.reconciled = 0  # rows corrected by a reconciliation (their end was missed)
        self.last_reconcile_unanswered = False  # the client could not reach the supervisor
        self.last_reconcile_seconds = 0.0
        self.ticks = 0
        # (run_warning, run_critical) at the last snapshot; None: not known yet.
        self.run_limits: tuple[float | None, float | None] | None = None
        # Monotonic engine times → wall clock, with one offset taken now.
        self._wall_offset = time.time() - time.monotonic()
        self._rows: list[TaskRow] = []  # sorted by serial
        self._by_id: dict[Any, TaskRow] = {}
        self._open: dict[Any, TaskRow] = {}  # unfinished rows, by id
        # Failed rows whose error the engine had not recorded yet when the
        # console asked (the failing thread records it just after the event):
        # asked again on the next ticks, at most OUTCOME_RETRIES times. id → tries.
        self._outcome_pending: dict[Any, tuple[TaskRow, int]] = {}
        self._reconcile_owed = False  # a reconcile_all the client could not answer
        self._serial = 0
        # Finished rows in the order they finished: the trim candidates.
        self._done: deque[TaskRow] = deque()  # completed, canceled, finished
        self._failed: deque[TaskRow] = deque()

    @property
    def cap(self) -> int:
        """The most rows there can ever be."""
        return self.max_finished + self.max_failed + self.max_unfinished

    # -- reading -------------------------------------------------------------
    @property
    def rows(self) -> list[TaskRow]:
        """The rows in table order (read only)."""
        return self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def row_at(self, index: int) -> TaskRow:
        return self._rows[index]

    def row_of(self, task_id: Any) -> int | None:
        """Index of ``task_id``'s row, or ``None``."""
        found = self._by_id.get(task_id)
        return None if found is None else self._index_of(found)

    def task_row(self, task_id: Any) -> TaskRow | None:
        return self._by_id.get(task_id)

    def unfinished_count(self) -> int:
        return len(self._open)

    # -- run time ------------------------------------------------------------
    def set_run_limits(self, warning: float | None, critical: float | None) -> bool:
        """The engine's ``run_warning`` / ``run_critical`` now (a snapshot's);
        whether they changed (the stuck colours of running rows follow them)."""
        limits = (warning, critical)
        changed, self.run_limits = limits != self.run_limits, limits
        return changed

    def stuck_level(self, row: TaskRow) -> int:
        """The run-time level a row shows: the highest it passed whose
        threshold is still on (a running row's colour goes when the operator
        turns its threshold off; a finished row keeps what it passed)."""
        if not row.ran_over:
            return LATE_NONE
        limits = self.run_limits
        if row.finished or limits is None:
            return max(row.ran_over)
        return max((level for level in row.ran_over if limits[level - 1] is not None),
                   default=LATE_NONE)

    def stuck_text(self, row: TaskRow) -> str:
        """``running past run_warning (5 s)`` (``ran past …`` once finished), or ""."""
        level = self.stuck_level(row)
        if not level:
            return ""
        verb = "ran" if row.finished else "running"
        return f"{verb} past {RUN_NAMES[level]} ({format_seconds(row.ran_over[level])})"

    def wall_time(self, monotonic_time: float | None) -> float | None:
        return None if monotonic_time is None else monotonic_time + self._wall_offset

    def export_record(self, row: TaskRow) -> list[Any]:
        """``row`` as machine-readable values, in ``EXPORT_COLUMNS`` order:
        ISO 8601 times with date and zone, durations in seconds as numbers,
        names for priority, type and status, empty where unknown."""
        def iso(t: float | None) -> str:
            wall = self.wall_time(t)
            return "" if wall is None else datetime.fromtimestamp(
                wall, UTC).astimezone().isoformat(timespec="microseconds")

        def seconds(value: float | None) -> str:
            return "" if value is None else f"{value:.6f}"

        return [id_text(row.task_id), row.name, PRIORITY_NAMES.get(row.priority, row.priority),
                TASK_TYPE_NAMES.get(row.tt, row.tt), row.status, iso(row.t_submitted),
                iso(row.t_queued), iso(row.t_started), iso(row.t_finished),
                seconds(row.wait), seconds(row.run_time),
                row.result if row.status == "completed" else "",
                row.error if row.status == "failed" else ""]

    def queued_text(self, row: TaskRow) -> str:
        if row._queued_text is None:
            start = row.t_queued if row.t_queued is not None else row.t_submitted
            row._queued_text = format_wall(self.wall_time(start))
        return row._queued_text

    # -- events --------------------------------------------------------------
    def apply_events(self, events: Sequence[TaskEvent]) -> set[Any]:
        """Apply one batch of events, oldest first; the ids of the tasks touched."""
        touched: set[Any] = set()
        if not events:
            return touched
        by_id = self._by_id
        new_rows: list[TaskRow] = []
        first_new = self._serial + 1  # rows from here on are not in the list yet
        changed: set[TaskRow] = set()
        ended: list[TaskRow] = []
        for event in events:
            kind, task_id = event.kind, event.task_id
            row = by_id.get(task_id)
            if row is not None and event.seq <= row.seq:
                continue  # older than what the row already knows
            if row is None or (row.finished and kind in WAITING):
                # A new task (or a finished task's id given to a new one).
                if kind not in UNFINISHED and kind not in _ENDS:
                    continue  # a timeout of a task the table never had: nothing to show
                if kind in UNFINISHED and len(self._open) >= self.max_unfinished:
                    if kind in WAITING:
                        self.skipped += 1
                    continue
                row = self._new_row(event.task_id, event.name, event.tt, event.priority,
                                    event.time, event.seq)
                new_rows.append(row)
            elif row.finished and kind in UNFINISHED:
                continue  # a task never starts again after it ended
            elif row.serial < first_new:
                changed.add(row)
            touched.add(task_id)
            if self._apply(row, event):
                ended.append(row)
        self._fetch_outcomes([r for r in ended if r.alive and r.status != "canceled"])
        self._insert_and_trim(new_rows, first_new)
        self._announce_changes([r for r in changed if r.alive])
        return touched

    def _new_row(self, task_id: Any, name: str, tt: int, priority: int, when: float,
                 seq: int) -> TaskRow:
        self._serial += 1
        row = TaskRow(self._serial, task_id, name, tt, priority, when, seq)
        row.checked = self.ticks
        self._by_id[task_id] = row
        return row

    def _apply(self, row: TaskRow, event: TaskEvent) -> bool:
        """One event on its row; True if it finished the task."""
        kind = event.kind
        row.seq = event.seq
        if kind in UNFINISHED:
            if kind == "queued":
                row.t_queued = event.time
                row._queued_text = None
            elif kind == "started":
                row.t_started = event.time
            self._set_open(row, kind)
        elif kind in _ENDS:
            if row.finished:
                return False  # a task ends exactly once; never count it twice
            row.t_finished = event.time
            self._finish(row, kind)
            return True
        elif kind == "timeout_warning":
            row.late = max(row.late, LATE_WARNING)
        elif kind == "timeout_critical":
            row.late = LATE_CRITICAL
        elif kind in _RUN_KINDS:
            level = _RUN_KINDS[kind]
            limit = None if self.run_limits is None else self.run_limits[level - 1]
            if limit is None:  # not known here: what it had run when the engine said so
                limit = round(max(0.0, event.time - (row.t_started or event.time)), 1)
            row.ran_over[level] = limit
        row.checked = self.ticks
        return False

    def _set_open(self, row: TaskRow, status: str) -> None:
        row.status = status
        row.checked = self.ticks
        self._open[row.task_id] = row

    def _finish(self, row: TaskRow, status: str) -> None:
        row.status = status
        row.checked = self.ticks
        if self._open.get(row.task_id) is row:
            del self._open[row.task_id]
        (self._failed if status == "failed" else self._done).append(row)

    def _fetch_outcomes(self, rows: list[TaskRow]) -> bool:
        """Short results and errors of tasks that just finished: one batch call.
        Unanswered (the service is away: False), asked again on the next ticks,
        with no try counted."""
        if not rows or self.client is None:
            return True
        try:
            records = self.client.finished_tasks([r.task_id for r in rows])
        except MonitorUnavailable:
            for row in rows:
                tries = self._outcome_pending.get(row.task_id, (row, 0))[1]
                self._outcome_pending[row.task_id] = (row, tries)
                row.awaiting = row.status == "failed"
            return False
        for row in rows:
            record = records.get(row.task_id)
            if record is not None:
                self._take_outcome(row, record)
            if row.status == "failed" and not row.error:
                tries = self._outcome_pending.get(row.task_id, (row, 0))[1]
                if tries < OUTCOME_RETRIES:
                    self._outcome_pending[row.task_id] = (row, tries + 1)
                row.awaiting = tries < OUTCOME_RETRIES
            else:
                self._outcome_pending.pop(row.task_id, None)
                row.awaiting = False
        return True

    def _retry_outcomes(self) -> None:
        """Ask again, in one batch, for the outcomes not recorded yet (or not
        answered) at the last ask."""
        pending = self._outcome_pending = {i: p for i, p in self._outcome_pending.items()
                                           if p[0].alive}
        rows = [row for row, _ in pending.values()]
        if not self._fetch_outcomes(rows):  # counts one more try for each still missing
            return  # unanswered: all of them again next time
        done = [row for row in rows if row.task_id not in pending or not row.awaiting]
        for row in done:
            row.awaiting = False
            pending.pop(row.task_id, None)
        self._announce_changes(done)

    @staticmethod
    def _take_outcome(row: TaskRow, record: FinishedTask) -> None:
        if record.result is not None:
            row.result = one_line(str(record.result))
        if record.exception is not None:
            row.error = error_summary(record.exception)

    # -- reconciling ---------------------------------------------------------
    def tick(self) -> int:
        """One refresh went by: reconcile the stale unfinished rows now and then;
        how many rows that corrected."""
        self.ticks += 1
        if self._outcome_pending:
            self._retry_outcomes()
        if self._reconcile_owed:
            return self.reconcile_all()
        if self.ticks % RECONCILE_EVERY or not self._open:
            return 0
        horizon = self.ticks - STALE_TICKS
        stale = [r for r in self._open.values() if r.checked <= horizon]
        return self.reconcile(stale) if stale else 0

    def reconcile_all(self) -> int:
        """Check every unfinished row against the engine (after an event gap);
        unanswered, it is done again on the next tick."""
        self._reconcile_owed = False
        rows = list(self._open.values())
        changed = self.reconcile(rows)
        if rows and self.last_reconcile_unanswered:
            self._reconcile_owed = True
        return changed

    def end_unfinished(self, text: str) -> int:
        """The supervisor of these rows is gone (replaced by another at the same
        address): its unfinished rows ended with it, ``text`` saying so; how many.
        Nothing is asked of the client (the new supervisor's ids are not these)."""
        rows = list(self._open.values())
        for row in rows:
            row.t_finished = None
            row.gone_text = text
            self._finish(row, GONE)
        self.reconciled += len(rows)
        for row, _ in self._outcome_pending.values():
            row.awaiting = False  # its error stays unknown: the old supervisor is gone
        self._outcome_pending.clear()
        self._reconcile_owed = False
        self._remove(self._pick_victims())
        self._announce_changes([r for r in rows if r.alive])
        return len(rows)

    def reconcile_ids(self, ids: Iterable[Any]) -> int:
        """Check the rows of ``ids`` (those the table has and thinks unfinished)."""
        return self.reconcile([r for r in (self._open.get(i) for i in ids) if r is not None])

    def reconcile(self, rows: Sequence[TaskRow]) -> int:
        """Set ``rows`` (unfinished ones) to what the engine says now, in one
        batch; how many rows changed. Unanswered (the service is away):
        nothing changes, and ``last_reconcile_unanswered`` says so."""
        self.last_reconcile_unanswered = False
        if not rows or self.client is None:
            return 0
        t0 = time.perf_counter()
        client = self.client
        try:
            # Taken first: every event up to here is older than the answers below.
            mark = client.snapshot().last_event_seq
            ids = [r.task_id for r in rows]
            live = client.live_tasks(ids)
            missing = [i for i in ids if i not in live]
            records = client.finished_tasks(missing) if missing else {}
        except MonitorUnavailable:
            self.last_reconcile_unanswered = True
            return 0
        changed: list[TaskRow] = []
        for row in rows:
            if not row.alive or self._open.get(row.task_id) is not row:
                continue
            state = live.get(row.task_id)
            before = (row.status, row.t_queued, row.t_started)
            if state is not None:
                self._take_state(row, state)
            else:
                record = records.get(row.task_id)
                if record is not None:
                    self._take_record(row, record)
                else:
                    row.t_finished = None
                    self._finish(row, GONE)
                self.reconciled += 1
            row.seq = max(row.seq, mark)
            row.checked = self.ticks
            if (row.status, row.t_queued, row.t_started) != before:
                changed.append(row)
        self._remove(self._pick_victims())
        self._announce_changes([r for r in changed if r.alive])
        self.last_reconcile_seconds = time.perf_counter() - t0
        return len(changed)

    def _take_state(self, row: TaskRow, state: TaskState) -> None:
        status = STATUS_NAMES.get(state.status, row.status or "queued")
        if state.time_queued is not None:
            row.t_queued = state.time_queued
            row._queued_text = None
        if state.time_started is not None:
            row.t_started = state.time_started
        self._set_open(row, status if status in UNFINISHED else row.status)

    def _take_record(self, row: TaskRow, record: FinishedTask) -> None:
        if record.time_queued is not None:
            row.t_queued = record.time_queued
            row._queued_text = None
        if record.time_started is not None:
            row.t_started = record.time_started
        row.t_finished = record.time_completed
        status = STATUS_NAMES.get(record.status, GONE)
        self._take_outcome(row, record)
        self._finish(row, status if status in _ENDS else GONE)

    # -- bounds --------------------------------------------------------------
    def _insert_and_trim(self, new_rows: list[TaskRow], first_new: int) -> None:
        victims = self._pick_victims()
        self._remove([r for r in victims if r.serial < first_new])
        new_rows = [r for r in new_rows if r.alive]
        if new_rows:
            first = len(self._rows)
            self.listener.rows_inserting(first, first + len(new_rows) - 1)
            self._rows.extend(new_rows)
            self.listener.rows_inserted()

    def _pick_victims(self) -> list[TaskRow]:
        victims: list[TaskRow] = []
        for done, cap in ((self._done, self.max_finished), (self._failed, self.max_failed)):
            while len(done) > cap:
                row = done.popleft()
                row.alive = False
                if self._by_id.get(row.task_id) is row:  # not a reused id's new row
                    del self._by_id[row.task_id]
                victims.append(row)
        self.dropped += len(victims)
        return victims

    def _index_of(self, row: TaskRow) -> int:
        return bisect.bisect_left(self._rows, row.serial, key=_SERIAL)

    def _remove(self, victims: list[TaskRow]) -> None:
        """Take dead rows out of the list: a few range removals, or one reset."""
        if not victims:
            return
        indices = sorted(self._index_of(r) for r in victims)
        ranges = _ranges(indices, gap=1)
        if len(ranges) > MAX_REMOVE_RANGES:
            self.listener.rows_resetting()
            self._rows = [r for r in self._rows if r.alive]
            self.listener.rows_reset()
            return
        for first, last in reversed(ranges):
            self.listener.rows_removing(first, last)
            del self._rows[first:last + 1]
            self.listener.rows_removed()

    def _announce_changes(self, rows: list[TaskRow]) -> None:
        if not rows:
            return
        indices = sorted(self._index_of(r) for r in rows)
        ranges = _ranges(indices, gap=_CHANGE_GAP)
        if len(ranges) > _MAX_CHANGE_RANGES:
            ranges = [(indices[0], indices[-1])]
        for first, last in ranges:
            self.listener.rows_changed(first, last)


def _ranges(indices: list[int], gap: int) -> list[tuple[int, int]]:
    """Sorted indices → (first, last) ranges, merging neighbours closer than ``gap``."""
    ranges: list[tuple[int, int]] = []
    first = last = indices[0]
    for i in indices[1:]:
        if i - last <= gap:
            last = i
        else:
            ranges.append((first, last))
            first = last = i
    ranges.append((first, last))
    return ranges
