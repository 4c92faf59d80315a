"""Finding the Python files the product loads: built-in ones by name, others by path.

The built-in task scripts and scenarios ship inside the ``runner`` package,
in ``runner/resources/tasks`` and ``runner/resources/scenarios`` (package
data of the wheel), and are found with ``importlib.resources``: the same
code finds them in a checkout, an editable install and an installed wheel.
They are loaded by path (the loaders import them as files), so the package
must be installed as files on disk, which pip always does.

Pure functions over the file system: callable from any thread.
"""

from __future__ import annotations

import importlib.resources
from pathlib import Path


def _resources_dir() -> Path:
    root = importlib.resources.files(__package__) / "resources"
    if not isinstance(root, Path):
        raise RuntimeError(f"the built-in task scripts and scenarios must be files on disk, "
                           f"not {root!r}: install {__package__} unzipped (pip does)")
    return root


#: ``runner/resources``: ``tasks/`` (task scripts) and ``scenarios/``.
RESOURCES = _resources_dir()


def builtin_names(folder: Path) -> list[str]:
    """Names of the ``.py`` files shipped in ``folder`` (private ones excluded)."""
    return sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))


def resolve(ref: str | Path, folder: Path, what: str, error: type[Exception]) -> Path:
    """A built-in name in ``folder`` or a path to a ``.py`` file → its absolute path;
    ``error`` naming the choices if there is no such file."""
    path = Path(ref)
    if path.suffix == ".py" or path.parent != Path("."):
        if not path.is_file():
            raise error(f"{what} file {str(ref)!r} does not exist")
        return path.resolve()
    builtin = folder / f"{ref}.py"
    if not builtin.is_file():
        raise error(f"unknown {what} {str(ref)!r}: built-in {what}s are "
                    f"{', '.join(builtin_names(folder))}, or give a path to a .py file")
    return builtin
