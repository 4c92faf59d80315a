"""The headless run: scenarios end with every task accounted for, broken ones say why."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import TaskSupervisor
from runner.headless import run_headless
from runner.scenario import ScenarioError, builtin_scenarios, load

ROOT = Path(__file__).resolve().parents[2]


def run(ref, duration, **kw):
    out = io.StringIO()
    sup = TaskSupervisor(supervisor_id="headless-test")
    code = run_headless(str(ref), duration, supervisor=sup, out=out, **kw)
    return code, out.getvalue(), sup


def summary_row(text: str, label: str) -> list[str]:
    for line in text.splitlines():
        if line.startswith(label):
            return line.split()
    raise AssertionError(f"no {label} row in:\n{text}")


def test_builtin_scenarios_are_listed():
    assert {"mixed", "burst"} <= set(builtin_scenarios())


@pytest.mark.parametrize("name", ["mixed", "burst"])
def test_builtin_scenario_ends_with_nothing_lost(name):
    code, text, sup = run(name, 3)
    assert code == 0, text
    assert "result: OK" in text
    total = summary_row(text, "total")
    submitted, completed, failed, canceled = map(int, total[1:5])
    assert submitted > 50
    assert submitted == completed + failed + canceled
    stats = sup.stats()
    assert stats.thread.reconciles() and stats.thread.pending == 0
    assert not sup.is_active()
    for label in ("CRITICAL", "HIGH", "NORMAL", "LOW"):
        assert int(summary_row(text, label)[1]) > 0, text
    if name == "mixed":
        assert failed > 0, "mixed includes failing tasks"


def test_hung_task_is_reported_with_nonzero_exit(tmp_path):
    script = tmp_path / "hang.py"
    script.write_text(textwrap.dedent("""
        import threading
        forever = threading.Event()

        async def run(ctx):
            ctx.submit(forever.wait, name="never-ends")
            ctx.submit(int, name="quick")
    """))
    code, text, _ = run(script, 0.2, drain=0.3)
    assert code == 1
    assert "HUNG: 1 task(s)" in text and "never-ends" in text


@pytest.mark.parametrize("body, message", [
    ("def run(ctx): pass", "must define 'async def run(ctx)'"),
    ("import no_such_module_xyz", "failed to import: ModuleNotFoundError"),
    ("async def run(ctx):\n  x = (", "failed to import: SyntaxError"),
])
def test_broken_scenario_is_a_clear_error(tmp_path, body, message):
    script = tmp_path / "broken.py"
    script.write_text(body)
    with pytest.raises(ScenarioError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load(script)
    code, text, sup = run(script, 0.1)
    assert code == 2 and message in text
    assert not sup.is_active()


def test_unknown_scenario_names_the_choices():
    with pytest.raises(ScenarioError, match="unknown scenario 'nope'.*mixed"):
        load("nope")


def test_cli_headless_does_not_import_qt():
    code = (
        "import sys\n"
        "from runner.cli import main\n"
        "rc = main(['--headless', '--scenario', 'burst', '--duration', '1.5'])\n"
        "qt = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'qasync', 'pyqtgraph')]\n"
        "assert not qt, qt\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: OK" in proc.stdout
