"""Finding the Python files the product loads: built-in ones by name, others by path."""

from __future__ import annotations

from pathlib import Path

RESOURCES = Path(__file__).resolve().parent.parent / "resources"


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
