"""The stop dialog: how to stop the supervisor, and what remains while it stops.

Non-modal: the stop is the client's awaitable ``stop(...)`` (``astop`` on the
console's loop), awaited through ``bridge.act_async``, so the window stays
responsive; the dialog shows the tasks still queued or running per priority
(from the snapshots) until the supervisor has stopped, then emits ``stopped``. The chosen options
are remembered (``gui.settings.ConsoleSettings``: a bad value falls back to
its default) and preselected next time.

A stop that waits can always be ended, since a running thread may never
return: while it waits, **Stop waiting** interrupts it (the ``astop`` task
is canceled; the engine then finishes the stop at once -- what was still
queued or delayed is canceled, running tasks are abandoned and logged) and
**Exit now** does the same and asks the window to close at once
(``exit_requested``). A stop canceled before it began is finished with
``client.stop_now()``.

It is also the window's close confirmation (``set_quitting``): the buttons
say what they do -- "Stop and quit" (the default, Return) or "Stop", and
"Cancel" (Escape: ``rejected``, the window keeps open), "Hide" / "Don't
quit" while a stop goes on, "Close" once stopped. Each opening starts from
the state before any stop (``reset``). Attached to a service
(``bridge.attached``) it stops the service's supervisor, says so, and is
never the close confirmation (closing an attached console detaches).
GUI thread only.
"""

from __future__ import annotations

import asyncio
from typing import Any

import shiboken6
from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from engine.constants import PRIORITIES

from ..bridge import EngineBridge
from ..client import SupervisorStats
from ..formatting import format_wait
from ..settings import (
    MAX_WAIT,
    MIN_WAIT,
    WAIT_ALL,
    WAIT_NONE,
    WAIT_SECONDS,
    ConsoleSettings,
    StopChoice,
)
from ..theme import PRIORITY_COLORS, priority_label
from .form_kit import guard_wheel

#: What the dialog says before a stop: shown again each time it opens.
INITIAL_STATUS = ("The supervisor refuses new tasks as soon as Stop is pressed; "
                  "running threads are never killed.")
#: ... and when the supervisor is a service's.
ATTACHED_STATUS = ("This stops the service's supervisor (its monitor closes with it); "
                   "it refuses new tasks as soon as Stop is pressed; running threads are "
                   "never killed. Closing the console instead only detaches.")


class StopDialog(QDialog):
    stopped = Signal()
    exit_requested = Signal()  # "Exit now": the window should close without waiting

    def __init__(self, bridge: EngineBridge,
                 settings: ConsoleSettings | QSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._attached = bridge.attached
        self.setWindowTitle("Stop the service's supervisor" if self._attached
                            else "Stop the supervisor")
        self.setModal(False)
        self._bridge = bridge
        self._settings = ConsoleSettings.of(settings)
        self._future: asyncio.Future | None = None
        self._stopping = False
        self._wait_ended = False  # the operator pressed Stop waiting / Exit now
        self._stopped_shown = False  # "Stopped." is shown: Cancel has nothing to cancel
        self.wait_all = QRadioButton("wait until every task is done")
        self.wait_seconds = QRadioButton("wait at most")
        self.wait_none = QRadioButton("don't wait (cancel queued and delayed tasks)")
        self.seconds = QDoubleSpinBox()
        self.seconds.setRange(MIN_WAIT, MAX_WAIT)
        self.seconds.setValue(10)
        self.seconds.setSuffix(" s")
        guard_wheel(self.seconds)
        group = QButtonGroup(self)
        for button in (self.wait_all, self.wait_seconds, self.wait_none):
            group.addButton(button)
        self.stop_schedulers = QCheckBox("stop schedulers and workers first")
        self.stop_schedulers.setChecked(True)
        self.cancel_tasks = QCheckBox("cancel queued and delayed tasks and pending coroutines")
        seconds_row = QHBoxLayout()
        seconds_row.addWidget(self.wait_seconds)
        seconds_row.addWidget(self.seconds)
        seconds_row.addWidget(QLabel("then cancel what still waits"))
        seconds_row.addStretch(1)
        options = QGroupBox("Wait")
        options_layout = QVBoxLayout(options)
        options_layout.addWidget(self.wait_all)
        options_layout.addLayout(seconds_row)
        options_layout.addWidget(self.wait_none)
        remaining = QGroupBox("Remaining (queued / running)")
        grid = QGridLayout(remaining)
        self.remaining_labels: dict[int, QLabel] = {}
        for col, p in enumerate(PRIORITIES):
            name = QLabel(priority_label(p))
            name.setStyleSheet(f"color: {PRIORITY_COLORS[p]}; font-weight: bold;")
            value = QLabel("–")
            grid.addWidget(name, 0, col)
            grid.addWidget(value, 1, col)
            self.remaining_labels[p] = value
        self.status = QLabel(self._initial_status())
        self.status.setWordWrap(True)
        self._quitting = False  # the window closes once stopped: say so on the buttons
        self.stop_button = QPushButton("Stop")
        self.stop_button.setDefault(True)  # Return stops; Escape is Cancel (reject)
        self.stop_button.clicked.connect(lambda: self.start_stopping())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.reject)
        self.stop_waiting_button = QPushButton("Stop waiting")
        self.stop_waiting_button.setToolTip(
            "End the wait now: queued and delayed tasks are canceled, running ones are "
            "abandoned (they keep their threads; the log names them)")
        self.stop_waiting_button.clicked.connect(self.stop_waiting)
        self.exit_now_button = QPushButton("Exit now")
        self.exit_now_button.setToolTip(
            "End the wait and close the console at once; running tasks are abandoned "
            "and named in the log")
        if self._attached:
            self.exit_now_button.setToolTip(
                "Close the console at once: the service's stop goes on as it was asked")
        self.exit_now_button.clicked.connect(self.exit_now)
        buttons = QHBoxLayout()
        buttons.addWidget(self.stop_waiting_button)
        buttons.addWidget(self.exit_now_button)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.addWidget(options)
        layout.addWidget(self.stop_schedulers)
        layout.addWidget(self.cancel_tasks)
        layout.addWidget(remaining)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._load_options()
        self._show_wait_buttons(False)
        self._label_buttons()
        bridge.stats_updated.connect(self._on_stats_updated)

    # -- options ------------------------------------------------------------
    def options(self) -> dict:
        if self.wait_all.isChecked():
            wait: bool | float = True
        elif self.wait_seconds.isChecked():
            wait = self.seconds.value()
        else:
            wait = False
        return {"wait": wait, "stop_schedulers": self.stop_schedulers.isChecked(),
                "cancel_tasks": self.cancel_tasks.isChecked()}

    def set_options(self, wait: bool | float = True, stop_schedulers: bool = True,
                    cancel_tasks: bool = False) -> None:
        if wait is True:
            self.wait_all.setChecked(True)
        elif wait is False:
            self.wait_none.setChecked(True)
        else:
            self.wait_seconds.setChecked(True)
            self.seconds.setValue(float(wait))
        self.stop_schedulers.setChecked(stop_schedulers)
        self.cancel_tasks.setChecked(cancel_tasks)

    def _load_options(self) -> None:
        if self._settings is None:
            self.set_options()
            return
        choice = self._settings.stop_choice()
        self.set_options(choice.wait, choice.stop_schedulers, choice.cancel_tasks)
        self.seconds.setValue(choice.wait_seconds)  # kept whatever the mode

    def remember_options(self) -> None:
        """Keep the options shown for the next stop (no-op without settings)."""
        if self._settings is None:
            return
        opts = self.options()
        wait = opts["wait"]
        mode = WAIT_ALL if wait is True else WAIT_NONE if wait is False else WAIT_SECONDS
        self._settings.save_stop_choice(StopChoice(mode, self.seconds.value(),
                                                   opts["stop_schedulers"],
                                                   opts["cancel_tasks"]))

    # -- quitting -------------------------------------------------------------
    def set_quitting(self, quitting: bool) -> None:
        """Whether the console quits once stopped (the close confirmation):
        the buttons then read "Stop and quit" and "Cancel" (keep the window)."""
        self._quitting = quitting
        self._label_buttons()

    def is_quitting(self) -> bool:
        return self._quitting

    def _label_buttons(self) -> None:
        """The buttons say what they do, in each state."""
        stop, cancel = ("Stop and quit", "Cancel") if self._quitting else ("Stop", "Cancel")
        cancel_tip = ("Keep the console open" if self._quitting
                      else "Close this dialog without stopping")
        if self.is_stopping():  # the stop goes on whatever this button does
            cancel, cancel_tip = (("Don't quit", "Keep the console open once stopped")
                                  if self._quitting else
                                  ("Hide", "Hide this dialog; the stop goes on"))
        elif self._stopped_shown:
            cancel, cancel_tip = "Close", "Close this dialog"
        self.stop_button.setText(stop)
        self.stop_button.setToolTip("Stop the supervisor with these options, then close "
                                    "the console" if self._quitting else
                                    "Stop the supervisor with these options")
        self.cancel_button.setText(cancel)
        self.cancel_button.setToolTip(cancel_tip)

    # -- stopping -------------------------------------------------------------
    def is_stopping(self) -> bool:
        return self._stopping

    def start_stopping(self, remember: bool = True) -> asyncio.Future | None:
        """Begin ``astop`` with the chosen options (no-op while already stopping);
        ``remember=False``: a scripted stop, whose options are not the operator's
        choice to preselect next time."""
        if self.is_stopping():
            return self._future
        opts = self.options()
        if remember:
            self.remember_options()
        self.stop_button.setEnabled(False)
        for widget in (self.wait_all, self.wait_seconds, self.wait_none, self.seconds,
                       self.stop_schedulers, self.cancel_tasks):
            widget.setEnabled(False)
        self.status.setText("Stopping…")
        self._stopping = True
        self._wait_ended = False
        self._label_buttons()
        self._show_wait_buttons(opts["wait"] is not False)
        self._future = asyncio.ensure_future(self._stop(opts))
        self._future.add_done_callback(self._on_stop_done)
        return self._future

    def stop_waiting(self) -> asyncio.Future | None:
        """End the wait of the stop in progress (no-op if none): the supervisor
        stops now, abandoning what still runs. The stop's future, or ``None``."""
        future = self._future
        if not self.is_stopping() or future is None or future.done():
            return None
        self._wait_ended = True
        self.stop_waiting_button.setEnabled(False)
        self.status.setText("Ending the wait…")
        # Canceling astop interrupts its wait; the engine's stop is exception-safe:
        # it still ends stopped, canceling what waits and logging what it abandons.
        future.cancel()
        return future

    def exit_now(self) -> None:
        """End the wait, if any, and ask the window to close at once. Attached,
        nothing more is sent: the service's stop goes on with its options, and
        the console only detaches."""
        if not self._attached:
            self.stop_waiting()
        self.exit_requested.emit()

    def set_status(self, text: str) -> None:
        """Tell the operator what happens next (the window: "closes once stopped")."""
        self.status.setText(text)

    def future(self) -> asyncio.Future | None:
        """The stop in progress or last done, for a caller that must let it end."""
        return self._future

    async def _stop(self, opts: dict) -> tuple[bool, Any]:
        description = (f"stop (wait {format_wait(opts['wait'])}, "
                       f"stop_schedulers={opts['stop_schedulers']}, "
                       f"cancel_tasks={opts['cancel_tasks']})")
        return await self._bridge.act_async(description, lambda client: client.stop(**opts))

    def _on_stop_done(self, future: asyncio.Future) -> None:
        # A done callback rather than the coroutine's own code: it also runs for
        # a stop canceled before its first step (Exit now right after Stop).
        if not shiboken6.isValid(self):
            return
        self._stopping = False
        self._show_wait_buttons(False)
        for widget in (self.wait_all, self.wait_seconds, self.wait_none, self.seconds,
                       self.stop_schedulers, self.cancel_tasks):
            widget.setEnabled(True)
        if future.cancelled():
            if not self._wait_ended:
                return  # not the operator's doing: the loop is going away
            ok, message = self._end_without_waiting()
        else:
            ok, message = future.result()
        if ok:
            self.status.setText(
                ("Stopped without waiting: running tasks were abandoned (see the log). "
                 if self._wait_ended else "Stopped. ")
                + ("The service's monitor closed with its supervisor: the console shows it "
                   "as disconnected; close the console to detach." if self._attached else
                   "Start is enabled again in the main window."))
            self._stopped_shown = True
            self._label_buttons()
            self.stopped.emit()
        else:
            self.status.setText(f"Stop failed: {message}")
            self.stop_button.setEnabled(True)
            self._label_buttons()

    def _end_without_waiting(self) -> tuple[bool, Any]:
        """After Stop waiting: the interrupted ``astop`` has stopped the
        supervisor -- unless it was canceled before it began; then stop now."""
        if self._active_now():
            return self._bridge.act("stop (no wait, cancel queued)",
                                    lambda client: client.stop_now())
        self._bridge.announce("stop: the operator ended the wait")
        return True, None

    def _active_now(self) -> bool:
        """Whether the supervisor is active, from a snapshot taken now."""
        self._bridge.refresh()
        stats = self._bridge.last_stats
        return stats is not None and stats.active

    def _initial_status(self) -> str:
        return ATTACHED_STATUS if self._attached else INITIAL_STATUS

    def _show_wait_buttons(self, shown: bool) -> None:
        """Stop waiting / Exit now exist only while a stop waits."""
        for button in (self.stop_waiting_button, self.exit_now_button):
            button.setVisible(shown)
            button.setEnabled(shown)

    def reset(self) -> None:
        """Back to the state before any stop (done each time the dialog opens,
        unless a stop is under way): the last choice, the first status line,
        the remaining counts of now."""
        if self.is_stopping():
            return
        self._wait_ended = False
        self._stopped_shown = False
        self._label_buttons()
        self._show_wait_buttons(False)
        self.status.setText(self._initial_status())
        self._load_options()
        stats = self._bridge.last_stats
        self.stop_button.setEnabled(stats is not None and stats.active)
        for label in self.remaining_labels.values():
            label.setText("–")
        if stats is not None:
            self._show_remaining(stats)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt naming
        self.reset()
        super().showEvent(event)

    def _on_stats_updated(self, stats: SupervisorStats) -> None:
        if self.isVisible():
            self._show_remaining(stats)

    def _show_remaining(self, stats: SupervisorStats) -> None:
        for p, label in self.remaining_labels.items():
            queued = stats.thread.queued[p] + stats.mp.queued[p] + stats.coroutine.queued[p]
            queued += stats.thread.delayed[p] + stats.mp.delayed[p] + stats.coroutine.delayed[p]
            running = stats.thread.running[p] + stats.mp.running[p] + stats.coroutine.running[p]
            label.setText(f"{queued} / {running}")
