"""Pool controls: the sizes and reserves of the thread pool or the process pool.

Apply sends only the fields the operator changed, through the bridge, to
``set_thread_pool`` / ``set_mp_pool``; the engine's refusal is shown inline
and nothing changes. The fields read the state back from every snapshot,
except while the operator is editing them.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine import SupervisorStats

from ..bridge import EngineBridge

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


class PoolControls(QWidget):
    """Controls of one pool: ``kind`` is ``"thread"`` or ``"mp"``."""

    def __init__(self, bridge: EngineBridge, kind: str = "thread",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if kind not in ("thread", "mp"):
            raise ValueError(f"kind must be 'thread' or 'mp', got {kind!r}")
        self._bridge = bridge
        self.kind = kind
        names = ["pool_size", "reserve_normal", "reserve_high"]
        if kind == "thread":
            names += ["min_size", "max_size"]
        self.fields: dict[str, QSpinBox] = {}
        self._shown: dict[str, int] = {}
        form = QFormLayout()
        for name in names:
            box = QSpinBox()
            box.setRange(0, 100_000)
            box.setToolTip(TOOLTIPS[name])
            box.setObjectName(f"{kind}_{name}")
            if name == "pool_size":
                box.setSpecialValueText("unlimited")
            label = QLabel(name.replace("_", " "))
            label.setToolTip(TOOLTIPS[name])
            form.addRow(label, box)
            self.fields[name] = box
        if kind == "thread":
            self.fields["max_size"].setMinimum(1)
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setEnabled(False)
        self.revert_button.clicked.connect(self.revert)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()
        self.state_label = QLabel()
        self.state_label.setStyleSheet("color: gray;")
        buttons = QHBoxLayout()
        buttons.addWidget(self.state_label, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        for box in self.fields.values():
            box.valueChanged.connect(self._on_edited)
        bridge.stats_updated.connect(self._on_stats_updated)
        if bridge.last_stats is not None:
            self._on_stats_updated(bridge.last_stats)

    # -- state ----------------------------------------------------------------
    def changes(self) -> dict[str, int]:
        """Fields the operator changed since the last read-back."""
        return {name: box.value() for name, box in self.fields.items()
                if name in self._shown and box.value() != self._shown[name]}

    def is_dirty(self) -> bool:
        return bool(self.changes())

    def apply(self) -> bool:
        changes = self.changes()
        if not changes:
            return True
        old = ", ".join(f"{k} {self._shown.get(k)} → {v}" for k, v in changes.items())
        sup = self._bridge.supervisor
        fn = sup.set_thread_pool if self.kind == "thread" else sup.set_mp_pool
        label = "thread pool" if self.kind == "thread" else "process pool"
        ok, result = self._bridge.act(f"{label}: {old}", fn, **changes)
        if ok:
            self.error_label.hide()
            self._read_back(self._bridge.last_stats)
        else:
            self.error_label.setText(result)
            self.error_label.show()
        return ok

    def revert(self) -> None:
        self.error_label.hide()
        self._read_back(self._bridge.last_stats)

    # -- bridge ----------------------------------------------------------------
    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        if not self.is_dirty():
            self._read_back(stats)

    def _read_back(self, stats: SupervisorStats | None) -> None:
        """Show the engine's values, over any edits."""
        if stats is None:
            return
        pool = stats.thread if self.kind == "thread" else stats.mp
        for name, box in self.fields.items():
            value = getattr(pool, name)
            self._shown[name] = value
            if box.value() != value:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        live = (f"{pool.threads_alive} threads, {pool.threads_busy} busy" if self.kind == "thread"
                else f"{pool.threads_alive} processes")
        self.state_label.setText(live)
        self._on_edited()

    def _on_edited(self) -> None:
        dirty = self.is_dirty()
        self.apply_button.setEnabled(dirty)
        self.revert_button.setEnabled(dirty)
        for name, box in self.fields.items():
            box.setStyleSheet("font-weight: bold;" if box.value() != self._shown.get(name)
                              else "")
