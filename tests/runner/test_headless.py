"""The headless run: scenarios end with every task accounted for, broken ones say why."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import PRIORITIES, TASK_CRITICAL, TaskSupervisor
from runner.headless import run_headless
from runner.scenario import ScenarioContext, ScenarioError, builtin_scenarios, load

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


MANY = """
    from engine import TASK_HIGH, TASK_LOW
    from runner.workloads import fail, work

    async def run(ctx):
        ctx.submit_many(work, [(0.0,)] * 2_500, priority=TASK_HIGH, name="many")
        ctx.submit_many(fail, [()] * 40, priority=TASK_LOW, name="fails")
        ctx.submit(work, 0.0, name="one")
        await ctx.sleep(0.05)
"""


def test_a_scenario_using_submit_many_is_summed_up_whole(tmp_path):
    script = tmp_path / "many.py"
    script.write_text(textwrap.dedent(MANY))
    code, text, sup = run(script, 0.2)
    assert code == 0, text
    assert "result: OK" in text
    assert summary_row(text, "HIGH")[1:5] == ["2500", "2500", "0", "0"], text
    assert summary_row(text, "LOW")[1:5] == ["40", "0", "40", "0"], text
    assert summary_row(text, "NORMAL")[1:5] == ["1", "1", "0", "0"], text
    assert summary_row(text, "total")[1:5] == ["2541", "2501", "40", "0"], text
    assert sup.stats().thread.reconciles()


def test_burst_floods_through_submit_many(monkeypatch):
    """Each flood: one submit_many call per priority, 3,000 tasks in all,
    one in 50 CRITICAL, each with its own random duration."""
    calls = []
    real = ScenarioContext.submit_many

    def record(self, target, args_iterable, **kw):
        args = list(args_iterable)
        calls.append((kw.get("priority"), args))
        return real(self, target, args, **kw)

    monkeypatch.setattr(ScenarioContext, "submit_many", record)
    code, text, _ = run("burst", 1.5)
    assert code == 0, text
    assert [p for p, _ in calls] == [*PRIORITIES] * 2  # two floods, most urgent first
    for flood in (calls[:4], calls[4:]):
        sizes = {p: len(args) for p, args in flood}
        assert sum(sizes.values()) == 3_000 and sizes[TASK_CRITICAL] == 60
        durations = [a[0] for _, args in flood for a in args]
        assert all(0.002 <= d <= 0.01 for d in durations)
        assert len(set(durations)) == 3_000  # drawn per task


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
