"""Benchmark the SSOT audit on a generated tree of 2,000 Python files.

Generates the tree in a temporary directory (packages of realistic modules:
imports, classes with methods, functions; some factory aliases, wrappers,
subclasses and duplicates), then times, over a few repetitions:

- the reference: reading and ``ast.parse`` of every file, nothing else;
- ``ssotaudit.audit`` over the same tree.

Prints the best and median times and the audit/reference ratios. The audit
turns the cyclic garbage collector off while parsing (the trees are freed by
reference counting), so it is compared with ``ast.parse`` both ways.
A process pool was measured and not kept: on 2 shared cores it saved ~20%.

    .venv/bin/python benchmarks/bench_ssot.py [--files 2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ast
import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ssotaudit import audit

CANONICAL = "app.core.factory:ExecutionEngineFactory"
PATTERNS = ("*ExecutionEngineFactory",)
PACKAGE_SIZE = 50  # modules per package

CANONICAL_SOURCE = '''\
"""The canonical factory."""

from __future__ import annotations

from typing import Any


class ExecutionEngineFactory:
    """Creates one engine per user."""

    def __init__(self) -> None:
        self._engines: dict[str, Any] = {}

    async def create_for_user(self, context: Any) -> Any:
        self._engines[context.run_id] = object()
        return self._engines[context.run_id]

    async def cleanup_engine(self, engine: Any) -> None:
        self._engines.clear()

    def get_factory_metrics(self) -> dict[str, Any]:
        return {"active": len(self._engines)}


def get_execution_engine_factory() -> ExecutionEngineFactory:
    return ExecutionEngineFactory()
'''


def _ordinary_class(n: int) -> str:
    methods = "\n".join(
        f'''
    def method_{m}(self, value: int, *, scale: float = 1.0) -> dict[str, Any]:
        """Compute step {m}."""
        total = 0
        for i in range(value):
            if i % {m + 2} == 0:
                total += i * scale
            else:
                total -= i
        result = {{"step": {m}, "total": total, "name": self.name}}
        self.history.append(result)
        return result
'''
        for m in range(4)
    )
    return f'''

class Service{n}:
    """An ordinary service class."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.history: list[dict[str, Any]] = []
{methods}'''


def _factory_code(index: int) -> str:
    kind = index % 8
    if kind == 0:  # independent duplicate
        return f"""

class Module{index}ExecutionEngineFactory:
    def __init__(self) -> None:
        self.engines: list[Any] = []

    async def create_for_user(self, context: Any) -> Any:
        self.engines.append(context)
        return object()
"""
    if kind == 1:  # delegating wrapper
        return f"""

class Wrapped{index}ExecutionEngineFactory:
    def __init__(self) -> None:
        self._delegate = get_execution_engine_factory()

    async def create_for_user(self, context: Any) -> Any:
        warnings.warn("deprecated", DeprecationWarning, stacklevel=2)
        return await self._delegate.create_for_user(context)

    def get_factory_metrics(self) -> dict[str, Any]:
        return self._delegate.get_factory_metrics()
"""
    if kind == 2:  # subclass
        return f"""

class Sub{index}ExecutionEngineFactory(ExecutionEngineFactory):
    pass
"""
    if kind == 3:  # alias
        return f"\nAlias{index}ExecutionEngineFactory = core_factory.ExecutionEngineFactory\n"
    return ""


def _module_source(index: int, package: str) -> str:
    classes = "".join(_ordinary_class(index * 10 + k) for k in range(2))
    functions = "\n".join(
        f'''
def helper_{index}_{k}(items: list[int]) -> int:
    """Sum the even items."""
    return sum(i for i in items if i % 2 == 0) + {k}
'''
        for k in range(4)
    )
    return f'''"""Generated module {index} of {package}."""

from __future__ import annotations

import warnings
from typing import Any

import app.core.factory as core_factory
from app.core.factory import ExecutionEngineFactory, get_execution_engine_factory

from . import mod_{max(index - 1, 0)} as previous
{classes}
{functions}
{_factory_code(index)}
'''


def generate(root: Path, files: int) -> None:
    """Write ``files`` Python files (including ``__init__`` files) under ``root``."""
    core = root / "app" / "core"
    core.mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (core / "__init__.py").write_text("")
    (core / "factory.py").write_text(CANONICAL_SOURCE)
    written, package = 3, 0
    while written < files:
        pkg = root / "app" / f"pkg_{package}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text(f'"""Package {package}."""\n')
        written += 1
        for i in range(PACKAGE_SIZE):
            if written >= files:
                break
            index = package * PACKAGE_SIZE + i
            (pkg / f"mod_{i}.py").write_text(_module_source(index, pkg.name))
            written += 1
        package += 1


def _time(fn: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_ssot_") as tmp:
        root = Path(tmp)
        generate(root, args.files)
        paths = sorted(root.rglob("*.py"))
        lines = sum(p.read_bytes().count(b"\n") for p in paths)
        print(f"tree: {len(paths)} files, {lines} lines, in {root}")

        def reference() -> None:
            for path in paths:  # each tree is dropped at once, as the audit does
                ast.parse(path.read_bytes(), filename=str(path))

        def reference_no_gc() -> None:
            gc.disable()  # what the audit does while parsing
            try:
                reference()
            finally:
                gc.enable()

        def run_audit() -> None:
            audit([root], PATTERNS, CANONICAL, max_duplicates=10**6)

        report = audit([root], PATTERNS, CANONICAL, max_duplicates=10**6)
        print(f"counts: {report.counts()}")
        ref = _time(reference, args.repeat)
        floor = _time(reference_no_gc, args.repeat)
        aud = _time(run_audit, args.repeat)

    def fmt(times: list[float]) -> str:
        return f"best {min(times):.3f} s, median {statistics.median(times):.3f} s"

    print(f"reference (read + ast.parse):         {fmt(ref)}")
    print(f"reference, cyclic GC off (the floor): {fmt(floor)}")
    print(f"ssot audit:                           {fmt(aud)}")
    median = statistics.median(aud)
    print(
        f"RESULT: audit of {len(paths)} files takes {median:.2f} s (median of {args.repeat}); "
        f"{median / statistics.median(ref):.2f}x plain ast.parse, "
        f"{median / statistics.median(floor):.2f}x ast.parse with the GC off"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
