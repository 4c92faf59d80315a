"""The console at its edges, in a real window offscreen on the qasync loop:

* a task script that calls ``sys.exit(3)`` in its ``run`` (as a thread, a
  coroutine or an mp task) or at import gives one readable message and the
  console keeps running;
* 100,000 queue timeouts firing at once, end to end (engine alerts on the
  console's loop, the bridge's event batches, the log panel, the task
  table), keep the console's loop lag bounded.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import textwrap
import threading
import time
from pathlib import Path

import pytest
from guikit import run, until
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from engine import (
    TASK_LOW,
    TASK_STATUS_COMPLETED,
    TASK_STATUS_FAILED,
    TT_COROUTINE,
    TT_MP,
    TT_THREAD,
)
from gui.app import GC_THRESHOLDS
from gui.widgets.task_table import COL_RESULT

WAIT_MS = 5000
MP_WAIT_MS = 20000  # the first mp task starts the forkserver and its child


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def submit_through_the_panel(qtbot, window) -> list:
    """Click the task-script panel's Submit; the ids the engine accepted."""
    panel = window.submit_panel.tasks
    with qtbot.waitSignal(panel.submitted, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.submit_button, Qt.LeftButton)
    return blocker.args[1]


def shown_result(window, task_id) -> str | None:
    """The task table's Result cell of a finished row, else ``None``."""
    model = window.task_table.model()
    row = model.task_row(task_id)
    if row is None or row.status not in ("failed", "completed"):
        return None
    return model.data(model.index(model.row_of(task_id), COL_RESULT), Qt.DisplayRole)


# -- 4. a task script calling sys.exit(3) ------------------------------------------------
EXIT_IN_RUN = '''
    """Quit the process (it must not)."""
    import sys


    def run():
        sys.exit(3)
'''

ASYNC_EXIT_IN_RUN = '''
    """Quit the process from a coroutine (it must not)."""
    import sys


    async def run():
        sys.exit(3)
'''


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["thread", "coroutine", "mp"])
def test_a_task_script_calling_sys_exit_in_run_is_one_readable_failure(
        window, supervisor, qtbot, tmp_path, kind):
    panel = window.submit_panel.tasks
    source = ASYNC_EXIT_IN_RUN if kind == "coroutine" else EXIT_IN_RUN
    path = write(tmp_path, "quits.py", source)
    if kind == "coroutine":
        supervisor.create_aloop("console", default=True, daemon=True)
        qtbot.waitUntil(lambda: panel.aloop_combo.count() == 1, timeout=WAIT_MS)
    if kind == "mp":
        supervisor.create_mp_pool(processes=1)
    assert window.submit_panel.load_script(path)
    if kind == "mp":
        panel.type_combo.setCurrentIndex(panel.type_combo.findData(TT_MP))
    assert panel.type_combo.currentData() == {"thread": TT_THREAD, "coroutine": TT_COROUTINE,
                                               "mp": TT_MP}[kind]
    panel.count_spin.setValue(3)
    ids = submit_through_the_panel(qtbot, window)
    assert len(ids) == 3
    timeout = MP_WAIT_MS if kind == "mp" else WAIT_MS
    # A failed row reads "failed …" until the engine has recorded its error.
    qtbot.waitUntil(lambda: all((shown_result(window, i) or "…")[-1] != "…" for i in ids),
                    timeout=timeout)
    for task_id in ids:
        assert supervisor.get_task(task_id).status == TASK_STATUS_FAILED
        text = shown_result(window, task_id)
        # One readable line naming what happened, not a traceback or a repr.
        assert "SystemExit" in text and "3" in text, text
        assert "\n" not in text and "Traceback" not in text, text
    assert window.task_table.select_task(ids[0])
    assert "SystemExit" in window.task_table.detail.toPlainText()
    # A failing task is the engine's news, not an error of the console.
    assert window.error_box is None and window.errors.reported == 0
    # The console keeps running: its loop, its supervisor, its pool.
    assert window.isVisible() and supervisor.is_active()
    assert supervisor.stats().active
    follow = supervisor.submit(lambda: "still here")
    qtbot.waitUntil(follow.is_completed, timeout=WAIT_MS)
    assert follow.status == TASK_STATUS_COMPLETED
    panel.count_spin.setValue(1)
    again = submit_through_the_panel(qtbot, window)  # and the panel still submits
    qtbot.waitUntil(lambda: shown_result(window, again[0]) is not None, timeout=timeout)


@pytest.mark.parametrize("source", [
    "import sys\nsys.exit(3)\n\ndef run():\n    pass\n",
    "import sys\n\ndef _quit():\n    sys.exit(3)\n\n_quit()\n\ndef run():\n    pass\n",
], ids=["module_level", "in_a_function_called_at_import"])
def test_a_task_script_calling_sys_exit_at_import_is_one_message(window, supervisor, qtbot,
                                                                 tmp_path, source):
    panel = window.submit_panel.tasks
    before = panel.script_combo.currentText()
    path = write(tmp_path, "quits_early.py", source)
    assert window.submit_panel.load_script(path) is False  # no SystemExit escapes
    box = window.error_box
    assert box is not None and box.isVisible()
    assert "quits_early.py failed to import" in box.text()
    assert "SystemExit" in box.text() + box.informativeText() + box.detailedText()
    assert window.errors.reported == 1  # one message
    assert "quits_early.py" in panel.status_label.text()
    assert panel.script_combo.currentText() == before  # the choice did not change
    qtbot.mouseClick(box.button(QMessageBox.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: window.error_box is None, timeout=WAIT_MS)
    # The console keeps running: a built-in script still goes through.
    panel.param_edits["seconds"].setText("0.01")
    (task_id,) = submit_through_the_panel(qtbot, window)
    qtbot.waitUntil(lambda: shown_result(window, task_id) is not None, timeout=WAIT_MS)
    assert supervisor.get_task(task_id).status == TASK_STATUS_COMPLETED
    assert window.isVisible() and window.errors.reported == 1


# -- 5. a flood of queue timeouts ----------------------------------------------------------
FLOOD = 100_000
#: The worst loop lag the console may show while the flood of alerts is handled.
#: Measured on the 2-core development machine: 31-41 ms with the alerts fired at
#: most ``TIMEOUTS_PER_TURN`` a turn, 204-211 ms when all of them are fired in
#: one loop turn; on a day when that machine's thread wake-ups cost twice as
#: much, 71-123 ms with the same code (and the code before the live wait cell).
#: The bound is set between the two.
MAX_LAG = 0.150
PROBE_INTERVAL = 0.010


class LagProbe:
    """A callback scheduled every 10 ms on the loop; records how late each fires."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.lags: list[float] = []
        self._due = 0.0
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        self._due = time.monotonic() + PROBE_INTERVAL
        self._handle = self.loop.call_later(PROBE_INTERVAL, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.lags.append(max(0.0, now - self._due))
        self._due = now + PROBE_INTERVAL
        self._handle = self.loop.call_later(PROBE_INTERVAL, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()

    @property
    def worst(self) -> float:
        return max(self.lags, default=0.0)


@pytest.fixture
def console_gc():
    """The cyclic collector as the console sets it (``gui.app``), from a clean start."""
    previous = gc.get_threshold()
    gc.collect()
    gc.set_threshold(*GC_THRESHOLDS)
    yield
    gc.set_threshold(*previous)
    gc.collect()


@pytest.mark.timeout(120)
def test_a_flood_of_100_000_queue_timeouts_keeps_the_console_loop_responsive(
        window, supervisor, qloop, qtbot, console_gc):
    """100,000 thread tasks wait behind a pool of one held slot; the operator
    lowers timeout_warning so that all of them are due at once. Until every
    alert has fired and the console has shown it (events read, log drained),
    a probe every 10 ms on the console's loop never fires 150 ms late."""
    supervisor.set_thread_pool(pool_size=1, reserve_normal=0, reserve_high=0)
    supervisor.timeout_warning = None  # armed below, once all of them wait
    supervisor.timeout_critical = None
    gate = threading.Event()
    blocker = supervisor.submit(gate.wait, 60)  # the pool's only slot, held
    qtbot.waitUntil(blocker.is_started, timeout=WAIT_MS)
    fired = itertools.count(1)
    last = [0]
    all_fired = threading.Event()

    def count_alert(_task) -> None:
        last[0] = next(fired)
        if last[0] == FLOOD:
            all_fired.set()

    supervisor.timeout_warning_func = count_alert
    supervisor.submit_many(time.sleep, itertools.repeat((0,), FLOOD), priority=TASK_LOW)
    assert supervisor.stats().thread.queued[TASK_LOW] == FLOOD
    seen = [0]
    window.bridge.events_arrived.connect(lambda events: seen.__setitem__(0, events[-1].seq))
    probe = LagProbe(qloop)
    t0 = time.monotonic()

    async def flood() -> None:
        probe.start()
        # The operator lowers timeout_warning: every queued task is past it at once.
        assert window.bridge.act("timeouts", lambda c: c.set_timeouts(timeout_warning=0.05))[0]
        await until(all_fired.is_set, timeout=60)
        final = supervisor.stats().last_event_seq
        # ... and until the console has shown all of it: events read, log drained.
        await until(lambda: seen[0] >= final and window.log_view.handler.pending() == 0,
                    timeout=30)

    try:
        run(qloop, flood(), timeout=100)
    finally:
        probe.stop()
        gate.set()
    took = time.monotonic() - t0
    ordered = sorted(probe.lags)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    print(f"\n{FLOOD:,} queue timeouts through the console: handled in {took:.1f} s, "
          f"{len(probe.lags)} probes, worst loop lag {probe.worst * 1000:.0f} ms, "
          f"p99 {p99 * 1000:.0f} ms")
    assert last[0] == FLOOD  # each fired once
    assert probe.worst < MAX_LAG, f"worst loop lag {probe.worst * 1000:.0f} ms"
    assert window.error_box is None and window.isVisible()
