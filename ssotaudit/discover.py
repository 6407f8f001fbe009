"""Find the Python files to audit, each with its import root and module name.

A path inside a package is audited with the package's parent as root, so module
names are the ones its code imports. Nothing is parsed here (see ``scan``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from ssotaudit.model import InputPathError

# Directories that never hold the code under audit.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})
TEST_DIRS = frozenset({"tests", "test", "testing"})


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A ``.py`` file, the import root (a ``sys.path`` entry) it lives under, its module."""

    root: Path
    path: Path
    module: str
    is_package: bool


def is_test_path(rel_parts: Sequence[str]) -> bool:
    """True for ``test_*.py``, ``*_test.py``, ``conftest.py`` and files in test dirs."""
    *dirs, name = rel_parts
    if name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py"):
        return True
    return any(d in TEST_DIRS or d.startswith("test_") for d in dirs)


def _import_root(start: Path) -> Path:
    """The nearest ancestor of ``start`` that is not itself a package."""
    root = start
    while (root / "__init__.py").is_file() and root.parent != root:
        root = root.parent
    return root


def _skip_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIP_DIRS or name.endswith(".egg-info")


def discover(
    paths: Iterable[str | os.PathLike[str]], exclude: Sequence[str] = ()
) -> list[SourceFile]:
    """Every ``.py`` file under ``paths``, each with its import root.

    A path inside a package is audited with the package's parent as root, so
    module names are the ones its code imports. ``exclude`` holds fnmatch
    patterns matched against paths relative to the root.
    """
    found: dict[Path, SourceFile] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputPathError(f"path not found: {raw}")
        path = path.resolve()
        if path.is_file():
            if path.suffix != ".py":
                raise InputPathError(f"not a Python file or directory: {raw}")
            candidates: Iterator[Path] = iter([path])
            root = _import_root(path.parent)
        else:
            candidates = _walk(path)
            root = _import_root(path)
        for file in candidates:
            rel = file.relative_to(root).as_posix()
            if exclude and any(fnmatch(rel, pattern) for pattern in exclude):
                continue
            if file not in found:
                module, is_package = _module_name(file.relative_to(root).parts, root)
                found[file] = SourceFile(root, file, module, is_package)
    return sorted(found.values(), key=lambda s: s.path)


def _walk(top: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = sorted(d for d in dirnames if not _skip_dir(d))
        for name in sorted(filenames):
            if name.endswith(".py"):
                yield Path(dirpath, name)


def _module_name(rel_parts: Sequence[str], root: Path) -> tuple[str, bool]:
    """Dotted module name for a path relative to its root, and whether it is a package."""
    parts = list(rel_parts)
    # src layout: src/ is a directory on sys.path, not a package.
    if len(parts) > 1 and parts[0] == "src" and not (root / "src" / "__init__.py").is_file():
        parts = parts[1:]
    is_package = parts[-1] == "__init__.py"
    if is_package:
        parts = parts[:-1]
    else:
        parts[-1] = parts[-1][: -len(".py")]
    return ".".join(parts), is_package


def display_path(path: Path, cwd: Path) -> str:
    """The path relative to the working directory when it is under it."""
    try:
        return path.relative_to(cwd).as_posix()
    except ValueError:
        return path.as_posix()
