"""A form of live engine settings, the base of the pool and timeout panels.

Apply (the button, or Return in a field) sends only the fields the operator
changed, in one command through ``bridge.act``; the engine's refusal is shown
inline, nothing changes and the fields show the engine's values again.
The fields read the engine's values back when the bridge says the settings
changed (``settings_changed``) and after every apply or revert, except while
the operator is editing them (changed fields are shown in bold until applied
or reverted; the font changes, never the size: rows and buttons stay where
they are while the operator edits). The wheel changes a field only once it
has the focus. A subclass with a live status line (``_status``) redraws it
from snapshots while the form is visible. GUI thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..bridge import EngineBridge
from ..client import SupervisorStats
from .form_kit import guard_wheel

RETURN_KEYS = (Qt.Key_Return, Qt.Key_Enter)


class LiveForm(QWidget):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._bridge = bridge
        self._shown: dict[str, float] = {}  # the engine's values at the last read-back
        self._base: dict[str, float] = {}   # the same, as the fields hold them (rounded)
        self.fields: dict[str, QAbstractSpinBox] = {}
        self._form = QFormLayout()
        self._form.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        self.apply_button = QPushButton("Apply")
        self.apply_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(self.revert)
        self.state_label = QLabel()
        self.state_label.setStyleSheet("color: gray;")
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b;")
        self.error_label.hide()

    def add_field(self, name: str, box: QAbstractSpinBox, label: str, tip: str,
                  field: QWidget | None = None) -> None:
        """``box`` in a row of the form; ``field`` is what the row shows when
        the box comes with more (a note beside it)."""
        box.setToolTip(tip)
        box.setObjectName(name)
        guard_wheel(box)  # the wheel changes a field only once it has the focus
        box.installEventFilter(self)  # Return applies
        text = QLabel(label)
        text.setToolTip(tip)
        self._form.addRow(text, field or box)
        self.fields[name] = box

    def finish(self) -> None:
        """Lay out and connect, once every field is added."""
        buttons = QHBoxLayout()
        buttons.addWidget(self.state_label, 1)
        buttons.addWidget(self.revert_button)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self._form)
        layout.addLayout(buttons)
        layout.addWidget(self.error_label)
        layout.addStretch(1)
        for name, box in self.fields.items():
            # The bold font of a changed field must not widen it (the rows would move).
            bold = box.font()
            bold.setBold(True)
            plain = box.font()
            box.setFont(bold)
            width = box.sizeHint().width()
            box.setFont(plain)
            box.setMinimumWidth(max(width, box.sizeHint().width()))
            box.valueChanged.connect(lambda _value, name=name: self._on_field_edited(name))
        self._bridge.settings_changed.connect(self._on_settings_changed)
        if self._has_status():
            self._bridge.stats_updated.connect(self._on_stats_updated)
        self._read_back(self._bridge.last_stats)
        self._on_edited()

    # -- for subclasses -----------------------------------------------------
    def _send(self, changes: dict[str, Any]) -> tuple[bool, Any]:
        """Apply ``changes`` through the bridge; the bridge's ``(ok, result)``."""
        raise NotImplementedError

    def _values(self, stats: SupervisorStats) -> dict[str, float]:
        """The engine's current value of every field."""
        raise NotImplementedError

    def _status(self, stats: SupervisorStats) -> str:
        """A live status line (overridden by forms that have one)."""
        return ""

    def _derived(self) -> set[str]:
        """Fields that show a value derived from others, not the operator's."""
        return set()

    def _on_field_edited(self, name: str) -> None:
        self._on_edited()

    def _has_status(self) -> bool:
        return type(self)._status is not LiveForm._status

    # -- state ----------------------------------------------------------------
    def changes(self) -> dict[str, Any]:
        """Fields the operator changed since the last read-back."""
        derived = self._derived()
        return {name: box.value() for name, box in self.fields.items()
                if name in self._base and name not in derived
                and abs(box.value() - self._base[name]) > 1e-9}

    def apply(self) -> bool:
        changes = self.changes()
        if not changes:
            return True
        ok, result = self._send(changes)
        if ok:
            self.error_label.hide()
        else:
            kept = ", ".join(f"{name} {self.fields[name].textFromValue(self._base[name])}"
                             f"{self.fields[name].suffix()}" for name in changes)
            self.error_label.setText(f"Refused: {result}\nThe engine keeps {kept}.")
            self.error_label.show()
        self._read_back(self._bridge.last_stats)  # applied, or the engine's values again
        return ok

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt)
        if (event.type() == QEvent.Type.KeyPress and event.key() in RETURN_KEYS
                and watched in self.fields.values()):
            watched.interpretText()
            self.apply()
            return True
        return super().eventFilter(watched, event)

    def revert(self) -> None:
        self.error_label.hide()
        self._read_back(self._bridge.last_stats)

    def _on_settings_changed(self, stats: SupervisorStats) -> None:
        if not self.changes():
            self._read_back(stats)

    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        if self.isVisible():
            text = self._status(stats)
            if text != self.state_label.text():
                self.state_label.setText(text)

    def _read_back(self, stats: SupervisorStats | None) -> None:
        """Show the engine's values, over any edits."""
        if stats is None:
            return
        for name, value in self._values(stats).items():
            box = self.fields[name]
            self._shown[name] = value
            if abs(box.value() - value) > 1e-9:
                box.blockSignals(True)
                box.setValue(value)
                box.blockSignals(False)
            self._base[name] = box.value()
        self.state_label.setText(self._status(stats))
        self._on_edited()

    def _on_edited(self) -> None:
        changed = self.changes()
        self.apply_button.setEnabled(bool(changed))
        self.revert_button.setEnabled(bool(changed))
        for name, box in self.fields.items():
            if box.font().bold() != (name in changed):
                font = box.font()
                font.setBold(name in changed)
                box.setFont(font)
