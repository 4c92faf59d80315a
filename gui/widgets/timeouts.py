"""Timeouts, run thresholds and poll_delay, applied live through the bridge (see ``LiveForm``).

The queue timeouts (``timeout_warning`` / ``timeout_critical``: seconds a
task waits in its queue) and beside them the run thresholds (``run_warning``
/ ``run_critical``: seconds a task has been running, off by default).
The changed fields go in ONE ``client.set_timeouts(...)`` call: the engine
checks every value first, so a refused one leaves all of them as they were.
A timeout or threshold of 0 in the field means "off" (``None`` in the
engine). The run thresholds go up to beyond the engine's bound: a value past
it reaches the engine, which says why not. Fields hold
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

#: The highest run threshold a field takes: past the engine's own bound
#: (``threading.TIMEOUT_MAX``, about 292 years), which the engine enforces.
RUN_MAX = 1e10
RUN_FIELDS = ("run_warning", "run_critical")

FIELDS = {
    "timeout_warning": ("queued: warning after", "A task waiting in a queue longer than "
                        "this is logged at WARNING and its row turns amber (0 = off)."),
    "timeout_critical": ("queued: critical after", "A task waiting in a queue longer than "
                         "this is logged at CRITICAL and its row turns red (0 = off)."),
    "run_warning": ("running: warning after", "A task running longer than this (stuck?) is "
                    "logged at WARNING, its row turns amber and the status bar counts it "
                    "(0 = off)."),
    "run_critical": ("running: critical after", "A task running longer than this is logged "
                     "at CRITICAL and its row turns red (0 = off)."),
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
    """The queue timeouts, the run thresholds and poll_delay, in one form."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(bridge, parent)
        for name, (label, tip) in FIELDS.items():
            box = SecondsBox()
            box.setSuffix(" s")
            if name == "poll_delay":
                box.setRange(0.0, 3600.0)  # 0 reaches the engine, which says why not
                box.setSingleStep(0.01)
            else:
                box.setRange(0.0, RUN_MAX if name in RUN_FIELDS else 3600.0)
                box.setSingleStep(1.0 if name in RUN_FIELDS else 0.5)
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
