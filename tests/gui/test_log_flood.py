"""The log panel under a flood: 100,000 records logged from another thread are
taken and written in bounded turns, summarised, and the panel keeps its cap."""

from __future__ import annotations

import gc
import logging
import re
import threading

import pytest

from gui.widgets.log_view import (
    MAX_DROPPED_KINDS,
    MAX_PENDING,
    MAX_PER_TURN,
    SIMILAR_SHOWN,
    LogView,
)

FLOOD = 100_000
MAX_LINES = 2_000


@pytest.fixture
def view(qtbot):
    widget = LogView(max_lines=MAX_LINES)
    qtbot.addWidget(widget)
    engine = logging.getLogger("engine")
    propagate, engine.propagate = engine.propagate, False  # keep pytest's capture out of it
    yield widget
    engine.propagate = propagate
    widget.close_handler()


def count(pattern: str, lines: list[str]) -> int:
    total = 0
    for line in lines:
        match = re.search(pattern, line)
        if match:
            total += int(match.group(1).replace(",", "")) if match.groups() else 1
    return total


@pytest.mark.timeout(120)
def test_a_flood_from_another_thread_is_drained_in_bounded_turns(view, qtbot):
    turns = []
    view.turn_done.connect(turns.append)
    pending_seen = []
    flood = logging.getLogger("engine.flood")

    def log_flood():
        for i in range(FLOOD):
            flood.warning("task %d waited too long in its queue", i)
            if i % 1000 == 0:
                pending_seen.append(view.handler.pending())

    # 100,000 records are garbage enough to start the cycle collector on the
    # flooding thread, which could then free Qt objects earlier tests left in
    # cycles there (off the GUI thread: a crash). Collect here, then hold it off.
    gc.collect()
    gc.disable()
    try:
        thread = threading.Thread(target=log_flood)
        thread.start()
        qtbot.waitUntil(lambda: not thread.is_alive(), timeout=60_000)
    finally:
        gc.enable()
    # Every record of the flood is accounted for once the panel has caught up:
    # shown, or summarised as similar, or counted as not kept.
    qtbot.waitUntil(lambda: sum(accounted(view.lines())) == FLOOD, timeout=30_000)
    shown, similar, not_kept = accounted(view.lines())
    assert similar and not_kept  # both kinds of summary were needed

    # Bounded work per turn: records taken, lines written, records kept.
    assert turns and max(t.taken for t in turns) <= MAX_PER_TURN
    assert max(t.written for t in turns) <= 2 * SIMILAR_SHOWN + MAX_DROPPED_KINDS + 2
    assert max(pending_seen) <= MAX_PENDING
    assert view.text.blockCount() <= MAX_LINES
    assert shown <= SIMILAR_SHOWN * len(turns)
    assert not_kept >= FLOOD - MAX_PENDING - sum(t.taken for t in turns)


def accounted(lines: list[str]) -> tuple[int, int, int]:
    """(shown, summarised as similar, counted as not kept) records of the flood."""
    return (count(r"engine\.flood: task \d+ waited", lines),
            count(r"… ([\d,]+) more similar messages \(WARNING engine\.flood", lines),
            count(r"… ([\d,]+) more WARNING engine\.flood messages like", lines))
