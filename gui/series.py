"""The console's recorded time series and the rates derived from them (Qt-free).

``SeriesRecorder`` owns what the console remembers of the supervisor over
time: one sample per snapshot (``SupervisorStats``) in fixed-size numpy ring
buffers -- 30 minutes at the fastest offered refresh rate -- and the rates
computed from them: tasks started / completed / failed per second over a
trailing ``RATE_WINDOW``, all pools (threads, processes, coroutines) summed.
The graphs draw these series and the status bar shows the same rate: it is
computed once, here, per snapshot.

``record(stats)`` is idempotent per snapshot (the same snapshot twice, or
one older than the newest, records nothing), so every view that shows a
snapshot may call it first, in any order, and all of them read one sample.

Besides the raw series (``RAW_COLUMNS``, what ``write_csv`` exports) each
sample holds derived series that are only drawn (``PLOT_COLUMNS``): the
wall-clock x, the cumulative stacks of running tasks per priority and the
heights of the admission limit lines. ``decimate``, ``drop_flat_points`` and
``nice_ceiling`` turn a view of the ring into what is worth painting.

No Qt here, no engine but its constants: a recorder works on any object with
the shape of ``SupervisorStats``. Not thread-safe: one owner thread (the
console's GUI thread) records and reads.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from engine.constants import PRIORITIES, PRIORITY_NAMES

HISTORY = 30 * 60  # seconds of samples kept
MAX_SAMPLE_HZ = 20  # the fastest refresh rate the console offers
#: Samples kept: ``HISTORY`` seconds at ``MAX_SAMPLE_HZ``.
CAPACITY = HISTORY * MAX_SAMPLE_HZ
RATE_WINDOW = 1.0  # seconds: rates are averaged over this trailing window
POOLS = ("thread", "mp")  # the pools recorded per priority (and drawn)
RATE_POOLS = ("thread", "mp", "coroutine")  # the pools the rates sum
LIMITS = ("pool_size", "reserve_normal", "reserve_high", "max_size")
TOTALS = ("started", "completed", "failed")


def priority_name(priority: int) -> str:
    return PRIORITY_NAMES[priority]


def _pool_columns(pool: str) -> list[str]:
    cols = []
    for p in PRIORITIES:
        cols += [f"{pool}_running_{priority_name(p)}", f"{pool}_queued_{priority_name(p)}"]
    cols += [f"{pool}_{limit}" for limit in LIMITS]
    cols += [f"{pool}_{total}" for total in TOTALS]
    return cols


#: The recorded raw series, in CSV column order ("time" is monotonic seconds).
RAW_COLUMNS: tuple[str, ...] = (
    "time", *_pool_columns("thread"), *_pool_columns("mp"),
    *(f"coroutine_{total}" for total in TOTALS),
    *(f"{total}_per_s" for total in TOTALS), "wait_p50_ms", "wait_p95_ms",
)
#: Derived series that are only drawn: wall-clock x, cumulative stacks, limit lines.
PLOT_COLUMNS: tuple[str, ...] = (
    "x",
    *(f"{pool}_stack_{priority_name(p)}" for pool in POOLS for p in PRIORITIES),
    *(f"{pool}_line_{limit}" for pool in POOLS for limit in LIMITS),
)
_FLOAT_COLUMNS = frozenset((*(f"{t}_per_s" for t in TOTALS), "wait_p50_ms", "wait_p95_ms"))


@dataclass(frozen=True)
class Rates:
    """Tasks per second over the trailing ``RATE_WINDOW``, all pools summed."""

    started: float = 0.0
    completed: float = 0.0
    failed: float = 0.0

    @property
    def finished(self) -> float:
        """Completed or failed per second (what the status bar shows)."""
        return self.completed + self.failed


class SeriesRing:
    """Named float64 columns holding the last ``capacity`` samples, oldest first.

    Rows live in a buffer 1.5 x ``capacity`` wide, so ``column()`` is always a
    contiguous no-copy view; when the buffer fills up, the newest samples are
    moved to its front (amortized O(1) per append).
    """

    def __init__(self, names: tuple[str, ...], capacity: int) -> None:
        if capacity < 2:
            raise ValueError(f"capacity must be at least 2, got {capacity!r}")
        self.names = names
        self.index = {name: i for i, name in enumerate(names)}
        self.capacity = capacity
        self._buf = np.full((len(names), capacity + capacity // 2), np.nan)
        self._start = 0
        self._end = 0
        self.appended = 0  # samples ever appended; absolute index of the next one

    def __len__(self) -> int:
        return self._end - self._start

    def append(self, row: np.ndarray) -> None:
        if self._end == self._buf.shape[1]:
            keep = self.capacity - 1
            self._buf[:, :keep] = self._buf[:, self._end - keep:self._end]
            self._start, self._end = 0, keep
        self._buf[:, self._end] = row
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1
        self.appended += 1

    def column(self, name: str) -> np.ndarray:
        """A read-only view of one column, valid until the next append."""
        view = self._buf[self.index[name], self._start:self._end]
        view.flags.writeable = False
        return view

    def at(self, name: str, i: int) -> float:
        return float(self._buf[self.index[name], self._start + i])


class SeriesRecorder:
    """One sample per snapshot, and the rates (see the module docstring)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.ring = SeriesRing(RAW_COLUMNS + PLOT_COLUMNS, capacity)
        self._row = np.full(len(self.ring.names), np.nan)
        # x is wall-clock time so a time axis reads as a clock; samples keep the
        # engine's monotonic time, shifted by this constant.
        self.clock_offset = time.time() - time.monotonic()
        self._last: Any = None  # the snapshot recorded last
        self.start_time: float | None = None  # engine time of the first sample recorded
        self._rates = Rates()

    def __len__(self) -> int:
        return len(self.ring)

    @property
    def appended(self) -> int:
        """Samples recorded since the recorder was created (the ring keeps the newest)."""
        return self.ring.appended

    def rates(self) -> Rates:
        """The rates of the newest sample (zero before any)."""
        return self._rates

    def record(self, stats: Any) -> bool:
        """Record one snapshot; False if it (or a newer one) was already recorded."""
        if stats is self._last or (self._last is not None and stats.time <= self._last.time):
            return False
        self._last = stats
        if self.start_time is None:
            self.start_time = stats.time
        row, index = self._row, self.ring.index
        row[index["time"]] = stats.time
        row[index["x"]] = stats.time + self.clock_offset
        for pool in POOLS:
            self._record_pool(pool, getattr(stats, pool))
        for total in TOTALS:
            row[index[f"coroutine_{total}"]] = getattr(stats.coroutine, total)
        self._rates = self._rates_at(stats)
        for total in TOTALS:
            row[index[f"{total}_per_s"]] = getattr(self._rates, total)
        row[index["wait_p50_ms"]] = stats.wait_p50 * 1000.0
        row[index["wait_p95_ms"]] = stats.wait_p95 * 1000.0
        self.ring.append(row)
        return True

    def _record_pool(self, pool: str, ps: Any) -> None:
        row, index = self._row, self.ring.index
        stack = 0
        for p in PRIORITIES:
            name = priority_name(p)
            running = ps.running.get(p, 0)
            stack += running
            row[index[f"{pool}_running_{name}"]] = running
            row[index[f"{pool}_queued_{name}"]] = ps.queued.get(p, 0)
            row[index[f"{pool}_stack_{name}"]] = stack
        for limit in LIMITS:
            row[index[f"{pool}_{limit}"]] = getattr(ps, limit)
        for total in TOTALS:
            row[index[f"{pool}_{total}"]] = getattr(ps, total)
        for limit, height in limit_lines(ps).items():
            row[index[f"{pool}_line_{limit}"]] = height

    def _rates_at(self, stats: Any) -> Rates:
        ref = self._rate_reference(stats.time)
        if ref is None:
            return Rates()
        ring = self.ring
        # With less than a window of history (just started), do not blow a few
        # tasks up into a spike by dividing by a tiny interval.
        dt = max(stats.time - ring.at("time", ref), RATE_WINDOW)
        values = {}
        for total in TOTALS:
            now = sum(getattr(getattr(stats, pool), total) for pool in RATE_POOLS)
            then = sum(ring.at(f"{pool}_{total}", ref) for pool in RATE_POOLS)
            values[total] = max(0.0, now - then) / dt
        return Rates(**values)

    def _rate_reference(self, now: float) -> int | None:
        """The newest sample at least ``RATE_WINDOW`` old (else the oldest one)."""
        if not len(self.ring):
            return None
        times = self.ring.column("time")
        ref = max(0, int(np.searchsorted(times, now - RATE_WINDOW, side="right")) - 1)
        return ref if now > times[ref] else None

    # -- reading ---------------------------------------------------------------
    def series(self) -> dict[str, np.ndarray]:
        """Copies of the recorded raw series (``RAW_COLUMNS``), oldest first."""
        return {name: self.ring.column(name).copy() for name in RAW_COLUMNS}

    def write_csv(self, path: str, markers: Iterable[tuple[float, str]] = ()) -> None:
        """Write the raw series (not the plotted sums), one row a sample.

        Columns (the header row names them): ``timestamp`` (ISO 8601 local
        time with date and UTC offset, milliseconds), ``seconds_since_start``
        (since the first sample the recorder took; the ring may have dropped
        the oldest rows), the ``RAW_COLUMNS``, and ``action``: the ``markers``
        (monotonic time, description) that fell since the previous sample.
        ``OSError`` if the file cannot be written.
        """
        data = self.series()
        times = data["time"]
        actions: dict[int, list[str]] = {}
        for when, description in markers:
            if not len(times) or when < times[0]:
                continue  # older than the recorded history
            i = min(int(np.searchsorted(times, when, side="left")), len(times) - 1)
            actions.setdefault(i, []).append(description)
        names = RAW_COLUMNS[1:]
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow([*TIME_COLUMNS, *names, "action"])
            start = self.start_time if self.start_time is not None else 0.0
            for i, t in enumerate(times):
                clock = datetime.fromtimestamp(t + self.clock_offset).astimezone()
                writer.writerow([
                    clock.isoformat(timespec="milliseconds"), f"{t - start:.3f}",
                    *(csv_value(name, data[name][i]) for name in names),
                    "; ".join(actions.get(i, ()))])


#: The graphs CSV's time columns: wall-clock ISO 8601 and seconds since the start.
TIME_COLUMNS = ("timestamp", "seconds_since_start")


def limit_lines(ps: Any) -> dict[str, float]:
    """Heights of a pool's limit lines; the pool and reserve lines vanish (NaN)
    while the pool is unlimited (``pool_size`` 0)."""
    lines = {"max_size": float(ps.max_size)}
    if ps.pool_size == 0:
        lines.update(pool_size=math.nan, reserve_normal=math.nan, reserve_high=math.nan)
    else:
        lines["pool_size"] = float(ps.pool_size)
        lines["reserve_normal"] = lines["pool_size"] + ps.reserve_normal
        lines["reserve_high"] = lines["reserve_normal"] + ps.reserve_high
    return lines


def csv_value(name: str, value: float) -> str:
    """A recorded value as CSV text: rates and waits with 3 decimals, counts whole."""
    if math.isnan(value):
        return ""
    if name in _FLOAT_COLUMNS:
        return f"{value:.3f}"
    return str(int(value))


# -- views for drawing ------------------------------------------------------------
NICE_STEPS = (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)  # y ranges end on these x 10^k


def decimate(values: np.ndarray, i0: int, i1: int, step: int,
             middle: bool = False) -> np.ndarray:
    """``values[i0:i1]`` with each block of ``step`` samples reduced to its maximum
    (or, for x, its middle sample); the partial last block is kept as is."""
    if step == 1:
        return values[i0:i1]
    blocks = (i1 - i0) // step
    end = i0 + blocks * step
    if middle:
        head = values[i0 + step // 2:end:step]
    else:
        head = np.fmax.reduce(values[i0:end].reshape(blocks, step), axis=1)
    return np.concatenate((head, values[end:i1]))


def drop_flat_points(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same polyline without the inner points of runs of equal values.

    Task counts and limits stay constant for long stretches: an idle pool's
    curves shrink to two points, which is most of the cost of painting them.
    """
    if len(ys) < 3:
        return xs, ys
    keep = np.ones(len(ys), dtype=bool)
    keep[1:-1] = (ys[1:-1] != ys[:-2]) | (ys[1:-1] != ys[2:])
    return xs[keep], ys[keep]


def nice_ceiling(value: float) -> float:
    """The smallest round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k)
    that is >= ``value`` (> 0)."""
    scale = 10.0 ** math.floor(math.log10(value))
    return next(m * scale for m in NICE_STEPS if m * scale >= value)


__all__ = [
    "CAPACITY", "HISTORY", "LIMITS", "PLOT_COLUMNS", "POOLS", "RATE_WINDOW", "RAW_COLUMNS",
    "TOTALS", "Rates", "SeriesRecorder", "SeriesRing", "csv_value", "decimate",
    "drop_flat_points", "limit_lines", "nice_ceiling", "priority_name",
]
