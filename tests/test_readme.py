"""Every ```python block of README.md works as written.

A block is one of three kinds, told apart by what it defines at top level:

* a scenario (``async def run(ctx)``): loaded with the project's scenario
  loader, then run headless for a moment, which must end with exit code 0;
* a task script (any other ``run``): loaded with the task script loader and
  run once with its default parameters;
* anything else is a program: run as a script in a subprocess, from an empty
  directory, offscreen, under a timeout; it must exit 0 without a traceback.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from engine import TaskSupervisor
from runner.headless import run_headless
from runner.scenario import load
from runner.taskscript import load_task_script

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks() -> list[tuple[int, str]]:
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in BLOCK.finditer(text)]


def kind(code: str) -> str:
    for node in ast.parse(code).body:
        if isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef) and node.name == "run":
            args = [a.arg for a in node.args.args]
            if isinstance(node, ast.AsyncFunctionDef) and args == ["ctx"]:
                return "scenario"
            return "task script"
    return "program"


BLOCKS = python_blocks()


def test_the_readme_has_its_examples():
    kinds = [kind(code) for _, code in BLOCKS]
    assert kinds.count("scenario") == 1 and kinds.count("task script") == 1, kinds
    assert kinds.count("program") >= 3, kinds


@pytest.mark.timeout(90)
@pytest.mark.parametrize("line, source", BLOCKS, ids=[f"line-{line}" for line, _ in BLOCKS])
def test_a_readme_block_works_as_written(tmp_path, line, source):
    what = kind(source)
    path = tmp_path / f"readme_line_{line}.py"
    path.write_text(source, encoding="utf-8")
    if what == "scenario":
        assert load(path).run is not None
        out = io.StringIO()
        code = run_headless(str(path), 0.5, supervisor=TaskSupervisor(supervisor_id="readme"),
                            out=out)
        assert code == 0, out.getvalue()
    elif what == "task script":
        script = load_task_script(path)
        result = script.run(**script.bind())
        if script.is_async:
            result = asyncio.run(result)
        assert result is not None
    else:
        if "distributed" in source and importlib.util.find_spec("distributed") is None:
            pytest.skip("the Dask example needs the dask extra (pip install -e '.[dask]')")
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        proc = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=80)
        assert proc.returncode == 0, f"README line {line}:\n{proc.stdout}\n{proc.stderr}"
        assert "Traceback" not in proc.stderr, f"README line {line}:\n{proc.stderr}"
