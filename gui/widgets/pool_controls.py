"""Pool controls: the sizes and reserves of the thread pool or the process pool,
applied live in one ``client.set_thread_pool`` / ``client.set_mp_pool`` call
(see ``LiveForm``), read back from the snapshot.

``max_size`` the engine derives (pool_size + reserves) while nobody set it: a
thread pool whose max_size equals that sum is shown as following it ("auto"
beside the field); editing the sizes then shows the max_size they give, and
the action's description (marker and log) names that change too. Typing a
max_size sets it explicitly. GUI thread only."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QLabel, QSizePolicy, QSpinBox, QWidget

from ..bridge import EngineBridge
from ..client import MP_POOL_BROKEN, MP_POOL_REBUILDING, SupervisorStats
from ..formatting import describe_changes, describe_request, format_number
from .form_kit import row
from .live_form import LiveForm

SIZES = ("pool_size", "reserve_normal", "reserve_high")
AUTO_TEXT = "auto: pool + reserves"
FIXED_TEXT = "set explicitly"

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
        self._follows = False      # max_size is the engine's derived one
        self._max_typed = False    # ... and the operator has not typed one since
        self.derived_label = QLabel()
        self.derived_label.setStyleSheet("color: gray;")
        self.derived_label.setToolTip(
            "While no max_size was set, the engine keeps it at pool_size + reserves; "
            "typing a max_size here sets it explicitly.")
        width = max(self.derived_label.fontMetrics().horizontalAdvance(text)
                    for text in (AUTO_TEXT, FIXED_TEXT))
        self.derived_label.setFixedWidth(width + 4)  # never resizes the row
        names = ["pool_size", "reserve_normal", "reserve_high"]
        if kind == "thread":
            names += ["min_size", "max_size"]
        for name in names:
            box = QSpinBox()
            box.setRange(1 if name == "max_size" else 0, 100_000)
            if name == "pool_size":
                box.setSpecialValueText("unlimited")
            field = None
            if name == "max_size":  # as wide as the others, up to its note
                box.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
                field = row(box, self.derived_label)
            self.add_field(name, box, name.replace("_", " "), TOOLTIPS[name], field)
            box.setObjectName(f"{kind}_{name}")
        self.finish()

    def _pool(self, stats: SupervisorStats) -> Any:
        return stats.thread if self.kind == "thread" else stats.mp

    def _values(self, stats: SupervisorStats) -> dict[str, float]:
        pool = self._pool(stats)
        return {name: getattr(pool, name) for name in self.fields}

    def _derived_max(self) -> int | None:
        """The max_size the sizes in the fields give, while it follows them."""
        if not self._follows or self._max_typed:
            return None
        total = sum(self.fields[name].value() for name in SIZES)
        return total if self.fields["pool_size"].value() else None

    def _derived(self) -> set[str]:
        return {"max_size"} if self._follows and not self._max_typed else set()

    def _read_back(self, stats: SupervisorStats | None) -> None:
        if stats is not None and "max_size" in self.fields:
            pool = stats.thread
            self._follows = bool(pool.pool_size) and pool.max_size == (
                pool.pool_size + pool.reserve_normal + pool.reserve_high)
            self._max_typed = False
        super()._read_back(stats)

    def _on_field_edited(self, name: str) -> None:
        if name == "max_size":
            self._max_typed = True
        derived = self._derived_max()
        box = self.fields.get("max_size")
        if derived is not None and box is not None and box.value() != derived:
            box.blockSignals(True)
            box.setValue(derived)
            box.blockSignals(False)
        super()._on_field_edited(name)

    def _on_edited(self) -> None:
        super()._on_edited()
        if "max_size" in self.fields:
            derived = bool(self._derived())
            self.derived_label.setText(AUTO_TEXT if derived else FIXED_TEXT)
            box = self.fields["max_size"]
            font = box.font()
            if font.italic() != derived:
                font.setItalic(derived)
                box.setFont(font)

    def _status(self, stats: SupervisorStats) -> str:
        pool = self._pool(stats)
        if self.kind == "thread":
            return f"{pool.threads_alive} threads, {pool.threads_busy} busy"
        return _mp_status(stats.mp_pool_kind, pool.threads_alive)

    def _send(self, changes: dict[str, Any]) -> tuple[bool, Any]:
        what = describe_changes(changes, self._shown)
        asked = describe_request(changes)  # a refusal says what was asked, not a change
        if self.kind == "mp":
            return self._bridge.act(f"process pool: {what}",
                                    lambda client: client.set_mp_pool(**changes),
                                    attempt=f"process pool: {asked}")
        before = dict(self._shown)
        expected = {}
        derived = self._derived_max()
        if derived is not None and derived != before.get("max_size"):
            expected["max_size"] = derived
            what += f", {describe_changes(expected, before)} (derived: pool + reserves)"
        ok, result = self._bridge.act(f"thread pool: {what}",
                                      lambda client: client.set_thread_pool(**changes),
                                      attempt=f"thread pool: {asked}")
        if ok and self._bridge.last_stats is not None:
            # What else the engine changed (min_size following max, a max_size
            # set explicitly after all, an unlimited pool's): said, never silent.
            after = self._values(self._bridge.last_stats)
            side = {name: value for name, value in after.items()
                    if name not in changes and value != before.get(name)}
            if side != expected:
                said = describe_changes(side, before) + " (derived by the engine)"
                if not side:
                    said = f"max_size stays {format_number(before['max_size'])} (set explicitly)"
                self._bridge.announce(f"thread pool: {said}")
        return ok, result


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
