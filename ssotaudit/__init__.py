"""SSOT audit: count duplicate factory implementations in any Python tree.

``audit()`` parses a tree with :mod:`ast` (nothing is imported), finds every
class whose name matches the patterns and classifies it against one canonical
class: canonical, alias, delegating wrapper, subclass, independent duplicate or
test double. Module-level factory functions are reported apart. With
``import_check=True`` each reported path is also imported in a subprocess to
confirm it is, or delegates to, the canonical class.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence

from ssotaudit.classify import classify, parse_canonical
from ssotaudit.discover import discover
from ssotaudit.importcheck import check_imports
from ssotaudit.model import (
    AuditReport,
    CanonicalNotFoundError,
    CanonicalSpecError,
    FactoryFunction,
    FileWarning,
    Finding,
    ImportCheck,
    InputPathError,
    Kind,
    SSOTError,
)
from ssotaudit.scan import scan_files

__all__ = [
    "DEFAULT_FUNCTION_PATTERNS",
    "AuditReport",
    "CanonicalNotFoundError",
    "CanonicalSpecError",
    "FactoryFunction",
    "FileWarning",
    "Finding",
    "ImportCheck",
    "InputPathError",
    "Kind",
    "SSOTError",
    "audit",
]

DEFAULT_FUNCTION_PATTERNS: tuple[str, ...] = ("create_*engine*", "get_*factory*")


def audit(
    paths: Iterable[str | os.PathLike[str]],
    patterns: Sequence[str],
    canonical: str,
    *,
    function_patterns: Sequence[str] = DEFAULT_FUNCTION_PATTERNS,
    max_duplicates: int = 0,
    exclude: Sequence[str] = (),
    import_check: bool = False,
    import_timeout: float = 30.0,
) -> AuditReport:
    """Audit the Python files under ``paths`` against the class ``canonical``.

    Parameters:
        paths: directories or ``.py`` files; a path inside a package is audited
            with module names as its code imports them.
        patterns: fnmatch patterns for factory class names (case-sensitive).
        canonical: ``MODULE:CLASS`` of the one canonical class.
        function_patterns: fnmatch patterns for module-level factory functions.
        max_duplicates: duplicates allowed before the report fails.
        exclude: fnmatch patterns of paths (relative to the import root) to skip.
        import_check: also import each path in a subprocess to confirm it.
        import_timeout: seconds the import check may take.

    Raises SSOTError (or a subclass) on unusable input.
    """
    started = time.perf_counter()
    parse_canonical(canonical)  # fail on a bad spec before reading any file
    patterns = tuple(p for p in patterns if p)
    if not patterns:
        raise SSOTError("no class name pattern given")
    if max_duplicates < 0:
        raise SSOTError(f"max_duplicates must be >= 0, got {max_duplicates}")
    paths = list(paths)
    if not paths:
        raise InputPathError("no path to audit")
    files = discover(paths, exclude)
    canonical_module = canonical.partition(":")[0]
    if not any(f.module == canonical_module for f in files):  # fail before parsing
        raise CanonicalNotFoundError(
            f"canonical module {canonical_module!r} is not in the audited tree"
        )
    modules, problems = scan_files(files, patterns, function_patterns)
    first: dict[str, str] = {}
    for module in modules:
        seen = first.setdefault(module.name, module.display)
        if seen != module.display:
            message = f"module {module.name} is also at {seen}; this copy is ignored"
            problems.append(FileWarning(module.display, 0, message))
    findings, functions = classify(modules, patterns, canonical, function_patterns)
    report = AuditReport(
        canonical=canonical,
        patterns=patterns,
        function_patterns=tuple(function_patterns),
        max_duplicates=max_duplicates,
        findings=findings,
        functions=functions,
        warnings=problems,
        files_scanned=len(files),
    )
    if import_check:
        roots = list(dict.fromkeys(f.root for f in files))
        report.findings, problem = check_imports(
            report.findings, roots, canonical, timeout=import_timeout
        )
        report.import_checked = True
        if problem is not None:
            report.warnings.append(FileWarning("<import-check>", 0, problem))
    report.elapsed_s = time.perf_counter() - started
    return report
