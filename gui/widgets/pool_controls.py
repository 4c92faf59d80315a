"""Pool controls: the sizes and reserves of the thread pool or the process pool,
applied live in one ``client.set_thread_pool`` / ``client.set_mp_pool`` call
(see ``LiveForm``), read back from the snapshot. GUI thread only."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QSpinBox, QWidget

from ..bridge import EngineBridge
from ..client import MP_POOL_BROKEN, MP_POOL_REBUILDING, SupervisorStats
from ..formatting import describe_changes
from .live_form import LiveForm

TOOLTIPS = {
    "pool_size": "Tasks of any priority may start while fewer than this many run "
                 "(0 = unlimited).",
    "reserve_normal": "Extra places only NORMAL and more urgent tasks may use once "
                      "pool_size is full.",
    "reserve_high": "Further places only HIGH and CRITICAL tasks may use once the normal "
                    "reserve is full.",
    "min_size": "Threads kept alive even when idle.",
    "max_size": "Most OS threads for non-critical work (critical tasks may exceed it).",
}


class PoolControls(LiveForm):
    """Controls of one pool: ``kind`` is ``"thread"`` or ``"mp"``."""

    def __init__(self, bridge: EngineBridge, kind: str = "thread",
                 parent: QWidget | None = None) -> None:
        if kind not in ("thread", "mp"):
            raise ValueError(f"kind must be 'thread' or 'mp', got {kind!r}")
        super().__init__(bridge, parent)
        self.kind = kind
        names = ["pool_size", "reserve_normal", "reserve_high"]
        if kind == "thread":
            names += ["min_size", "max_size"]
        for name in names:
            box = QSpinBox()
            box.setRange(1 if name == "max_size" else 0, 100_000)
            if name == "pool_size":
                box.setSpecialValueText("unlimited")
            self.add_field(name, box, name.replace("_", " "), TOOLTIPS[name])
            box.setObjectName(f"{kind}_{name}")
        self.finish()

    def _pool(self, stats: SupervisorStats) -> Any:
        return stats.thread if self.kind == "thread" else stats.mp

    def _values(self, stats: SupervisorStats) -> dict[str, float]:
        pool = self._pool(stats)
        return {name: getattr(pool, name) for name in self.fields}

    def _status(self, stats: SupervisorStats) -> str:
        pool = self._pool(stats)
        if self.kind == "thread":
            return f"{pool.threads_alive} threads, {pool.threads_busy} busy"
        return _mp_status(stats.mp_pool_kind, pool.threads_alive)

    def _send(self, changes: dict[str, Any]) -> tuple[bool, Any]:
        what = describe_changes(changes, self._shown)
        if self.kind == "thread":
            return self._bridge.act(f"thread pool: {what}",
                                    lambda client: client.set_thread_pool(**changes))
        return self._bridge.act(f"process pool: {what}",
                                lambda client: client.set_mp_pool(**changes))


def _mp_status(kind: str | None, processes: int) -> str:
    """The process pool's status line, from the snapshot alone."""
    if kind is None:
        return "no process pool yet (the first mp task or Apply creates one)"
    if kind == MP_POOL_REBUILDING:
        return "rebuilding: a worker process died"
    if kind == MP_POOL_BROKEN:
        return "broken: mp tasks fail until a new pool is set"
    if not processes:  # an executor that does not say (a Dask client's...)
        return f"{kind}, processes unknown"
    return f"{kind}, {processes} process{'' if processes == 1 else 'es'}"
