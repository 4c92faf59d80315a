"""The console bootstrap: loop errors reach the operator and the log."""

from __future__ import annotations

import logging


def test_the_supervisor_runs_on_the_qt_loop(console):
    assert console.supervisor.is_active()
    assert console.supervisor.stats().active


def test_loop_exceptions_are_shown_and_logged(console, caplog, qtbot):
    with caplog.at_level(logging.ERROR, logger="gui"):
        console.loop.call_exception_handler(
            {"message": "callback failed", "exception": ValueError("bad value 42")})
    box = console.window.error_box
    assert box is not None and "bad value 42" in box.text()
    assert "ValueError" in box.detailedText()
    assert any("callback failed" in r.getMessage() for r in caplog.records)


def test_uncaught_slot_exceptions_are_shown_and_logged(console, caplog):
    try:
        raise RuntimeError("slot blew up")
    except RuntimeError as exc:
        with caplog.at_level(logging.ERROR, logger="gui"):
            console._on_uncaught(type(exc), exc, exc.__traceback__)
    assert "slot blew up" in console.window.error_box.text()
    assert any("uncaught" in r.getMessage() for r in caplog.records)
