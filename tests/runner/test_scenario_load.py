"""Scenario files are untrusted input: whatever they raise at import or in
``run`` -- ``SystemExit`` and ``KeyboardInterrupt`` included -- is one
``ScenarioError`` naming it, and their settings are checked."""

from __future__ import annotations

import asyncio
import math
import textwrap
from pathlib import Path

import pytest

from engine import TaskSupervisor
from runner.scenario import (
    MAX_DURATION,
    ScenarioContext,
    ScenarioError,
    ScenarioRunError,
    check_duration,
    load,
)


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.mark.parametrize(("source", "named"), [
    ("import sys\nsys.exit(7)\n", "SystemExit: sys.exit(7)"),
    ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    ("raise ValueError('bad')\n", "ValueError: bad"),
], ids=["sys_exit", "keyboard_interrupt", "value_error"])
def test_whatever_a_scenario_raises_at_import_is_a_scenario_error(tmp_path, source, named):
    path = write(tmp_path, "importer.py", source + "\nasync def run(ctx):\n    pass\n")
    with pytest.raises(ScenarioError) as info:
        load(path)
    assert str(info.value) == f"importer.py failed to import: {named}"
    assert info.value.__cause__ is not None  # the original, for its traceback


@pytest.mark.parametrize(("raises", "named"), [
    ("import sys; sys.exit(9)", "SystemExit: sys.exit(9)"),
    ("raise KeyboardInterrupt", "KeyboardInterrupt"),
    ("raise RuntimeError('late')", "RuntimeError: late"),
], ids=["sys_exit", "keyboard_interrupt", "runtime_error"])
def test_whatever_run_raises_ends_the_scenario_with_one_error(tmp_path, raises, named):
    path = write(tmp_path, "runner_.py", f"async def run(ctx):\n    {raises}\n")
    scenario = load(path)
    sup = TaskSupervisor(supervisor_id="scenario-load-test")

    async def drive():
        await scenario.run(ScenarioContext(sup, 1.0, scenario.name))

    with pytest.raises(ScenarioRunError) as info:
        asyncio.run(drive())
    assert str(info.value) == f"scenario runner_ raised {named}"


def test_cancelling_a_scenario_is_not_an_error(tmp_path):
    path = write(tmp_path, "waits.py", "import asyncio\n\nasync def run(ctx):\n"
                                       "    await asyncio.sleep(60)\n")
    scenario = load(path)

    async def drive():
        task = asyncio.ensure_future(scenario.run(None))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(drive())


@pytest.mark.parametrize(("line", "message"), [
    ("DEFAULT_DURATION = float('inf')", "DEFAULT_DURATION must be a finite number"),
    ("DEFAULT_DURATION = -1", "DEFAULT_DURATION must be a finite number"),
    ("DEFAULT_DURATION = 'long'", "DEFAULT_DURATION must be a number of seconds, got 'long'"),
    ("DEFAULT_DURATION = 1e9", "DEFAULT_DURATION must be at most 86,400 s"),
    ("DESCRIPTION = 42", "DESCRIPTION must be a string, got 42"),
], ids=["inf", "negative", "text", "huge", "description"])
def test_bad_scenario_settings_are_named(tmp_path, line, message):
    path = write(tmp_path, "settings.py", f"{line}\n\nasync def run(ctx):\n    pass\n")
    with pytest.raises(ScenarioError, match=message):
        load(path)


@pytest.mark.parametrize("value", [math.inf, math.nan, -1.0, 0, MAX_DURATION * 2, True, "5"])
def test_check_duration_refuses_what_no_timer_can_hold(value):
    with pytest.raises((TypeError, ValueError), match="duration"):
        check_duration(value)


def test_check_duration_accepts_up_to_a_day():
    assert check_duration(MAX_DURATION) == MAX_DURATION and check_duration(3) == 3.0
