"""The import contracts of pyproject.toml name every console module they should.

``lint-imports`` checks the contracts; this checks that a new module of
``gui/`` is not left out of them (an unnamed module is checked by nothing).
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUI = ROOT / "gui"
QT = ("PySide6", "shiboken6", "pyqtgraph", "qasync")
#: The modules that may import the engine itself: the app builds the supervisor,
#: the clients are the doors (local, and remote through the monitor's wire format).
ENGINE_SIDE = {"app", "client", "remote"}


def _contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}


def _top_level_modules() -> set[str]:
    names = {p.stem for p in GUI.glob("*.py") if p.stem != "__init__"}
    names |= {p.name for p in GUI.iterdir() if (p / "__init__.py").exists()}
    return names


def _imports_qt(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        if any(name.split(".")[0] in QT for name in names):
            return True
    return False


def test_every_console_module_is_in_a_layer():
    layers = _contracts()["console-layers"]["layers"]
    named = {part.strip() for layer in layers for part in layer.replace(":", "|").split("|")}
    assert _top_level_modules() <= named


def test_every_view_and_helper_reaches_the_engine_through_the_client():
    sources = set(_contracts()["console-through-client"]["source_modules"])
    expected = {f"gui.{name}" for name in _top_level_modules() - ENGINE_SIDE}
    assert expected <= sources


def test_every_qt_free_module_is_held_qt_free():
    sources = set(_contracts()["qt-free"]["source_modules"])
    qt_free = {f"gui.{p.stem}" for p in GUI.glob("*.py")
               if p.stem != "__init__" and not _imports_qt(p)}
    assert qt_free <= sources
