"""Timeouts and poll_delay, applied live through the bridge and read back.

A timeout of 0 in the field means "off" (``None`` in the engine).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine import SupervisorStats

from ..bridge import EngineBridge

FIELDS = {
    "timeout_warning": ("warning after", "A task waiting in a queue longer than this is "
                        "logged at WARNING and its row turns amber (0 = off)."),
    "timeout_critical": ("critical after", "A task waiting in a queue longer than this is "
                         "logged at CRITICAL and its row turns red (0 = off)."),
    "poll_delay": ("poll delay", "Bounds reaction time only where polling is unavoidable "
                   "(block(), idle workers); the task hot path never polls."),
}


class TimeoutsPanel(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._shown: dict[str, float] = {}
        self.fields: dict[str, QDoubleSpinBox] = {}
        form = QFormLayout()
        for name, (label, tip) in FIELDS.items():
            box = QDoubleSpinBox()
            box.setDecimals(3)
            box.setSuffix(" s")
            box.setRange(0.001 if name == "poll_delay" else 0.0, 3600.0)
            box.setSingleStep(0.5 if name != "poll_delay" else 0.01)
            if name != "poll_delay":
                box.setSpecialValueText("off")
            box.setToolTip(tip)
            box.setObjectName(name)
            text = QLabel(label)
            text.setToolTip(tip)
            form.addRow(text, box)
            self.fields[name] = box
        self.apply_button = QPushButton("Apply")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self.apply)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()
        buttons = QHBoxLayout()
        buttons.addStretch(1)
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

    def changes(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for name, box in self.fields.items():
            if name in self._shown and abs(box.value() - self._shown[name]) > 1e-9:
                value = box.value()
                out[name] = None if value == 0 and name != "poll_delay" else value
        return out

    def apply(self) -> bool:
        changes = self.changes()
        if not changes:
            return True
        sup = self._bridge.supervisor
        text = ", ".join(f"{k} → {'off' if v is None else f'{v:g} s'}"
                         for k, v in changes.items())

        def set_all() -> None:
            for name, value in changes.items():
                setattr(sup, name, value)

        ok, result = self._bridge.act(text, set_all)
        if ok:
            self.error_label.hide()
        else:
            self.error_label.setText(result)
            self.error_label.show()
        self._read_back(self._bridge.last_stats)
        return ok

    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        if not self.changes():
            self._read_back(stats)

    def _read_back(self, stats: SupervisorStats | None) -> None:
        if stats is None:
            return
        for name, box in self.fields.items():
            value = getattr(stats, name) or 0.0
            self._shown[name] = value
            if abs(box.value() - value) > 1e-9:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
        self._on_edited()

    def _on_edited(self) -> None:
        self.apply_button.setEnabled(bool(self.changes()))
