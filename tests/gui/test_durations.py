"""Durations the console receives (``--duration``, ``Console.run``, a scenario
start, the Submit panel) are finite seconds of at most a day; anything else is
refused with a message naming the value, never a crash or an overflowed timer."""

from __future__ import annotations

import math

import pytest

from gui.app import run_console
from gui.widgets.submit import SubmitPanel
from runner.scenario import MAX_DURATION

BAD = [math.inf, -math.inf, math.nan, -1.0, 0.0, MAX_DURATION + 1, 1e300]


@pytest.mark.parametrize("value", BAD)
def test_console_run_refuses_a_bad_duration_before_showing_anything(console, value):
    with pytest.raises(ValueError, match="duration") as info:
        console.run("burst", value)
    assert repr(value) in str(info.value)
    assert not console.window.isVisible()


@pytest.mark.parametrize("value", [math.inf, math.nan, -5.0, 1e12])
def test_start_scenario_refuses_a_bad_duration_with_a_message(console, value):
    assert console.start_scenario("burst", value) is False
    assert "duration" in console.window.error_box.text()
    assert not console.window.submit_panel.scenario_running()


@pytest.mark.parametrize("value", BAD)
def test_the_submit_panel_refuses_a_bad_duration(bridge, qtbot, value):
    panel = SubmitPanel(bridge)
    qtbot.addWidget(panel)
    before = panel.duration()
    assert panel.set_duration(value) is False
    assert "duration" in panel.last_error and panel.duration() == before
    assert panel.set_duration(MAX_DURATION) and panel.duration() == MAX_DURATION


def test_run_console_says_what_is_wrong(capsys, monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert run_console("burst", math.inf) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --duration must be a finite number") and "inf" in err
