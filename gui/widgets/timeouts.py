"""Timeouts and poll_delay, applied live through the bridge (see ``LiveForm``).

The changed fields go in ONE ``client.set_timeouts(...)`` call: the engine
checks every value first, so a refused one leaves all of them as they were.
A timeout of 0 in the field means "off" (``None`` in the engine). Fields hold
microseconds (the engine takes any positive number of seconds) and show no
trailing zeros; a poll_delay of 0 goes to the engine, which refuses it (the
form shows why). GUI thread only.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDoubleSpinBox, QWidget

from ..bridge import EngineBridge
from ..client import SupervisorStats
from ..formatting import format_seconds
from .live_form import LiveForm

#: Decimals of the fields: microseconds.
DECIMALS = 6

FIELDS = {
    "timeout_warning": ("warning after", "A task waiting in a queue longer than this is "
                        "logged at WARNING and its row turns amber (0 = off)."),
    "timeout_critical": ("critical after", "A task waiting in a queue longer than this is "
                         "logged at CRITICAL and its row turns red (0 = off)."),
    "poll_delay": ("poll delay", "Bounds reaction time only where polling is unavoidable "
                   "(block(), idle workers); the task hot path never polls."),
}


class SecondsBox(QDoubleSpinBox):
    """Seconds to the microsecond, shown without trailing zeros (``0.0001 s``,
    ``2.5 s``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(DECIMALS)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt)
        text = self.locale().toString(value, "f", self.decimals())
        point = self.locale().decimalPoint()
        if point in text:
            text = text.rstrip("0").rstrip(point)
        return text


class TimeoutsPanel(LiveForm):
    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        for name, (label, tip) in FIELDS.items():
            box = SecondsBox()
            box.setSuffix(" s")
            if name == "poll_delay":
                box.setRange(0.0, 3600.0)  # 0 reaches the engine, which says why not
                box.setSingleStep(0.01)
            else:
                box.setRange(0.0, 3600.0)
                box.setSingleStep(0.5)
                box.setSpecialValueText("off")
            self.add_field(name, box, label, tip)
        self.finish()

    def _values(self, stats: SupervisorStats) -> dict[str, float]:
        return {name: getattr(stats, name) or 0.0 for name in self.fields}

    def _send(self, changes: dict[str, Any]) -> tuple[bool, Any]:
        values = {k: None if v == 0 and k != "poll_delay" else v for k, v in changes.items()}
        what = ", ".join(f"{k} → {format_seconds(v)}" for k, v in values.items())
        asked = "set " + ", ".join(f"{k} {format_seconds(v)}" for k, v in values.items())
        return self._bridge.act(what, lambda client: client.set_timeouts(**values),
                                attempt=asked)
