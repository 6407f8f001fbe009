"""Find Python files and collect, from each module's AST, what names it binds.

Each file is read and parsed once; only module-level statements are visited
(descending into ``if``/``try``/``with`` blocks, which mark what they bind as
conditional). Class and function bodies are kept as AST nodes and looked at
later, and only for the few classes and functions the audit cares about.
Nothing is imported or executed.
"""

from __future__ import annotations

import ast
import gc
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from ssotaudit.discover import SourceFile, display_path, is_test_path
from ssotaudit.model import FileWarning

__all__ = [
    "Binding",
    "ClassScan",
    "FunctionScan",
    "ModuleScan",
    "dotted",
    "load_function",
    "matches",
    "parse_file",
    "scan_files",
]


@dataclass(slots=True)
class Binding:
    """A module-level name bound by an import or an assignment.

    ``kind`` is ``module`` (``import a.b as c``: ``target`` is ``a.b``), ``from``
    (``from target import attr``), ``expr`` (``X = target`` with a dotted name)
    or ``call`` (``X = target(...)``: an instance of whatever ``target`` makes).
    """

    kind: str
    target: str
    attr: str
    line: int
    conditional: bool

    def describe(self, name: str) -> str:
        """The binding of ``name`` as a short piece of source."""
        if self.kind == "module":
            suffix = "" if self.target.partition(".")[0] == name else f" as {name}"
            return f"import {self.target}{suffix}"
        if self.kind == "from":
            suffix = "" if self.attr == name else f" as {name}"
            return f"from {self.target} import {self.attr}{suffix}"
        if self.kind == "call":
            return f"{name} = {self.target}(...)"
        return f"{name} = {self.target}"


@dataclass(slots=True)
class ClassScan:
    """A class defined at module level (possibly inside ``if``/``try``).

    ``node`` is kept only for classes whose name matches a pattern: keeping
    every AST alive would cost memory and garbage-collector time.
    """

    name: str
    line: int
    conditional: bool
    bases: tuple[str, ...]
    node: ast.ClassDef | None
    # Base expressions that are not a dotted name (``make_base()``, ``getattr(m, "B")``,
    # ``__import__("m").B``): what they are is known only at run time.
    dynamic_bases: tuple[str, ...] = ()


@dataclass(slots=True)
class FunctionScan:
    """A function defined at module level (possibly inside ``if``/``try``).

    ``node`` is kept for functions whose name matches a function pattern; for
    others it is None and :func:`load_function` parses the file again on demand.
    """

    name: str
    line: int
    conditional: bool
    node: ast.FunctionDef | ast.AsyncFunctionDef | None


@dataclass(slots=True)
class ModuleScan:
    """What one module defines and binds at its top level."""

    name: str
    path: Path
    display: str
    is_package: bool
    is_test: bool
    classes: dict[str, list[ClassScan]] = field(default_factory=dict)
    functions: dict[str, list[FunctionScan]] = field(default_factory=dict)
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)


def matches(name: str, patterns: Sequence[str]) -> bool:
    """True when ``name`` matches any fnmatch pattern (case-sensitive)."""
    return any(fnmatchcase(name, p) for p in patterns)


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def scan_files(
    files: Sequence[SourceFile],
    class_patterns: Sequence[str] = (),
    function_patterns: Sequence[str] = (),
) -> tuple[list[ModuleScan], list[FileWarning]]:
    """Parse each file once and collect its module-level bindings.

    Class and function nodes are kept only where the name matches the patterns.
    """
    modules: list[ModuleScan] = []
    problems: list[FileWarning] = []
    gc_was_enabled = gc.isenabled()
    # Parsing allocates millions of short-lived nodes that are freed by reference
    # counting; cyclic collections in between only cost time (about 2x here).
    gc.disable()
    try:
        with warnings.catch_warnings():
            # Invalid escapes etc. in audited code are not our warnings to raise.
            warnings.simplefilter("ignore")
            _scan_into(files, class_patterns, function_patterns, modules, problems)
    finally:
        if gc_was_enabled:
            gc.enable()
    return modules, problems


def _scan_into(
    files: Sequence[SourceFile],
    class_patterns: Sequence[str],
    function_patterns: Sequence[str],
    modules: list[ModuleScan],
    problems: list[FileWarning],
) -> None:
    cwd = Path.cwd()
    for source in files:
        display = display_path(source.path, cwd)
        rel_parts = source.path.relative_to(source.root).parts
        try:
            tree = ast.parse(source.path.read_bytes(), filename=display)
        except SyntaxError as exc:
            problems.append(
                FileWarning(display, exc.lineno or 0, f"syntax error: {exc.msg}; skipped")
            )
            continue
        except (OSError, ValueError, RecursionError) as exc:
            problems.append(FileWarning(display, 0, f"unreadable: {exc}; skipped"))
            continue
        module = ModuleScan(
            name=source.module,
            path=source.path,
            display=display,
            is_package=source.is_package,
            is_test=is_test_path(rel_parts),
        )
        _Collector(module, class_patterns, function_patterns).collect(tree.body, conditional=False)
        modules.append(module)


def parse_file(path: Path) -> ast.Module | None:
    """Parse ``path`` again (for the rare questions the scan kept no nodes for)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return ast.parse(path.read_bytes())
        except (SyntaxError, OSError, ValueError, RecursionError):
            return None


def load_function(
    path: Path, name: str, line: int
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """Parse ``path`` again and return the function ``name`` defined at ``line``."""
    tree = parse_file(path)
    for node in ast.walk(tree) if tree is not None else ():
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == name
            and node.lineno == line
        ):
            return node
    return None


class _Collector:
    """One pass over a module's top-level statements."""

    def __init__(
        self, module: ModuleScan, class_patterns: Sequence[str], function_patterns: Sequence[str]
    ) -> None:
        self.module = module
        self.class_patterns = class_patterns
        self.function_patterns = function_patterns
        package = module.name if module.is_package else module.name.rpartition(".")[0]
        self.package_parts = package.split(".") if package else []

    def _bind(self, name: str, binding: Binding) -> None:
        self.module.bindings.setdefault(name, []).append(binding)

    def _absolute(self, level: int, module: str | None) -> str | None:
        if level == 0:
            return module
        keep = len(self.package_parts) - (level - 1)
        if keep < 0:
            return None
        base = ".".join(self.package_parts[:keep])
        if module:
            return f"{base}.{module}" if base else module
        return base or None

    def collect(self, body: list[ast.stmt], *, conditional: bool) -> None:
        for stmt in body:
            if isinstance(stmt, ast.ClassDef):
                bases = tuple(b for b in map(_base_name, stmt.bases) if b)
                dynamic = tuple(ast.unparse(b) for b in stmt.bases if _base_name(b) is None)
                keep = matches(stmt.name, self.class_patterns)
                node = stmt if keep else None
                scan = ClassScan(stmt.name, stmt.lineno, conditional, bases, node, dynamic)
                self.module.classes.setdefault(stmt.name, []).append(scan)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
                keep = matches(stmt.name, self.function_patterns)
                fscan = FunctionScan(stmt.name, stmt.lineno, conditional, stmt if keep else None)
                self.module.functions.setdefault(stmt.name, []).append(fscan)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        binding = Binding("module", alias.name, "", stmt.lineno, conditional)
                        self._bind(alias.asname, binding)
                    else:
                        top = alias.name.partition(".")[0]
                        self._bind(top, Binding("module", top, "", stmt.lineno, conditional))
            elif isinstance(stmt, ast.ImportFrom):
                base = self._absolute(stmt.level, stmt.module)
                if base is None:
                    continue
                for alias in stmt.names:
                    if alias.name == "*":
                        self.module.stars.append(base)
                    else:
                        binding = Binding("from", base, alias.name, stmt.lineno, conditional)
                        self._bind(alias.asname or alias.name, binding)
            elif isinstance(stmt, ast.Assign):
                for target in stmt.targets:
                    self._assign(target, stmt.value, stmt.lineno, conditional)
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                self._assign(stmt.target, stmt.value, stmt.lineno, conditional)
            elif isinstance(stmt, ast.If):
                self.collect(stmt.body, conditional=True)
                self.collect(stmt.orelse, conditional=True)
            elif isinstance(stmt, ast.Try | ast.TryStar):
                self.collect(stmt.body, conditional=True)
                for handler in stmt.handlers:
                    self.collect(handler.body, conditional=True)
                self.collect(stmt.orelse, conditional=True)
                self.collect(stmt.finalbody, conditional=True)
            elif isinstance(stmt, ast.With | ast.AsyncWith):
                self.collect(stmt.body, conditional=conditional)

    def _assign(self, target: ast.expr, value: ast.expr, line: int, conditional: bool) -> None:
        if isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._assign(t, v, line, conditional)
            return
        if not isinstance(target, ast.Name):
            return
        name = dotted(value)
        if name is not None:
            self._bind(target.id, Binding("expr", name, "", line, conditional))
        elif isinstance(value, ast.Call):
            callee = dotted(value.func)
            if callee is not None:
                self._bind(target.id, Binding("call", callee, "", line, conditional))


def _base_name(node: ast.expr) -> str | None:
    """Dotted name of a base class expression; ``Base[T]`` counts as ``Base``."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return dotted(node)
