"""It installs like a package: the real wheel, installed in a fresh venv, run
from another directory.

The wheel is built (``pip wheel --no-deps --no-build-isolation``) from a copy
of the working tree, so that no ``build/`` left by an earlier build can leak
stale files into it and the checkout is not written to. It is installed with
``--no-deps`` into a venv made without pip; a ``.pth`` file there puts the
test interpreter's site-packages on ``sys.path`` for the third-party
dependencies only (paths a ``.pth`` file adds get no ``.pth`` processing of
their own, so the checkout's editable-install finder stays off). Every
command runs from an empty directory, without ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "runner" / "resources"
# What the copy of the working tree leaves out: VCS, venvs, caches, build output.
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build",
                                     "dist", ".pytest_cache", ".hypothesis", ".ruff_cache")


def _cannot_build_wheel() -> str | None:
    if importlib.util.find_spec("setuptools") is None:
        return "setuptools is not installed (pip install -e '.[test]')"
    if (importlib.util.find_spec("setuptools.command.bdist_wheel") is None
            and importlib.util.find_spec("wheel") is None):
        return "neither setuptools >= 70.1 nor the wheel package (pip install -e '.[test]')"
    return None


pytestmark = [
    pytest.mark.skipif(_cannot_build_wheel() is not None,
                       reason=f"cannot build a wheel: {_cannot_build_wheel()}"),
    pytest.mark.timeout(60),
]


def pip(*args: str, cwd: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check",
                           "--no-input", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


class Installed:
    """The wheel built from the working tree, installed in a fresh venv."""

    def __init__(self, base: Path) -> None:
        source = base / "source"
        shutil.copytree(ROOT, source, ignore=NOT_SOURCES)
        pip("wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w", str(base / "dist"),
            str(source), cwd=base)
        (self.wheel,) = (base / "dist").glob("*.whl")
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                       timeout=60)
        self.python = venv / "bin" / "python"
        self.cwd = base / "elsewhere"
        self.cwd.mkdir()
        pip("--python", str(self.python), "install", "--no-deps", "--quiet", str(self.wheel),
            cwd=base)
        self.site = Path(self.run_python("import sysconfig; "
                                         "print(sysconfig.get_paths()['purelib'])").strip())
        deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (self.site / "_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
        return {**env, **extra}

    def run(self, *args: str, timeout: float = 60,
            **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(args), cwd=self.cwd, env=self.env(**env),
                              capture_output=True, text=True, timeout=timeout)

    def run_python(self, code: str) -> str:
        proc = self.run(str(self.python), "-c", code)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    def console(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.python.parent / "task-supervisor-console"), *args, **env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    return Installed(tmp_path_factory.mktemp("wheel"))


def builtins(folder: str) -> set[str]:
    return {p.name for p in (RESOURCES / folder).glob("*.py")}


def test_the_wheel_holds_the_three_packages_and_the_builtins(installed):
    names = zipfile.ZipFile(installed.wheel).namelist()
    top = {name.split("/")[0] for name in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert top - dist_info == {"engine", "gui", "runner"}, sorted(top)
    assert "main.py" not in names
    assert builtins("scenarios") >= {"mixed.py", "burst.py"}
    assert builtins("tasks") >= {"sleep.py", "fail.py"}
    for folder in ("scenarios", "tasks"):
        shipped = {n.rsplit("/", 1)[1] for n in names
                   if n.startswith(f"runner/resources/{folder}/") and n.endswith(".py")}
        assert shipped == builtins(folder)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "task-supervisor-console = runner.cli:main" in scripts


def test_the_installed_packages_are_used_not_the_checkout(installed):
    out = installed.run_python(
        "import importlib.util, sys, engine, gui, runner, runner.files\n"
        "print(engine.__file__); print(gui.__file__); print(runner.files.RESOURCES)\n"
        "print(importlib.util.find_spec('main'))\n"
        "print([f for f in sys.meta_path if 'editable' in str(f.__module__).lower()])\n")
    engine_file, gui_file, resources, main_spec, editable = out.splitlines()
    for path in (engine_file, gui_file, resources):
        assert Path(path).is_relative_to(installed.site), path
    assert main_spec == "None"  # no top-level module named main
    assert editable == "[]"  # the checkout's editable-install finder did not leak in


def test_the_console_script_runs_a_builtin_scenario_headless(installed):
    proc = installed.console("--headless", "--scenario", "burst", "--duration", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "result: OK, every task ended" in proc.stdout
    proc = installed.console("--help")
    assert proc.returncode == 0  # the list may wrap: compared with its spaces collapsed
    assert "burst, mixed, mp-crunch, stuck, workers" in " ".join(proc.stdout.split())
    proc = installed.console("--headless", "--scenario", "nope")
    assert proc.returncode == 2
    assert ("built-in scenarios are burst, mixed, mp-crunch, stuck, workers, or give a path"
            in proc.stdout), proc.stdout
    out = installed.run_python(
        "from runner.taskscript import builtin_task_scripts, load_task_script\n"
        "print(' '.join(builtin_task_scripts())); print(load_task_script('sleep').path)\n")
    names, sleep = out.splitlines()
    assert set(names.split()) == {Path(n).stem for n in builtins("tasks")}
    assert Path(sleep).is_relative_to(installed.site)


def test_the_console_script_opens_the_window_and_saves_a_screenshot(installed):
    shot = installed.cwd / "window.png"
    proc = installed.console("--scenario", "mixed", "--duration", "1", "--screenshot",
                             str(shot), "--settings", str(installed.cwd / "console.ini"),
                             QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in proc.stderr
