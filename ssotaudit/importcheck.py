"""Confirm static findings at runtime: import each reported path in one subprocess.

The subprocess gets the tree's import roots on ``sys.path``, imports the
canonical class and every alias, wrapper, subclass and duplicate, and answers
in JSON whether each object is the canonical class, subclasses it, or (for a
wrapper built without arguments) holds a canonical instance. It runs under a
timeout; import failures come back as ``error`` results, never as a crash here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from ssotaudit.model import Finding, ImportCheck, Kind

__all__ = ["check_imports"]

MARKER = "@@goldenpath-ssot@@"
CHECKED = frozenset(
    {Kind.CANONICAL, Kind.ALIAS, Kind.WRAPPER, Kind.SUBCLASS, Kind.DUPLICATE, Kind.UNRESOLVED}
)

# Runs in the child; reads {"roots", "canonical", "items"} on stdin.
_CHILD = r"""
import importlib, json, sys, warnings
warnings.simplefilter("ignore")
req = json.load(sys.stdin)
sys.path[:0] = req["roots"]
MARK = req["marker"]

def load(path):
    mod, _, name = path.partition(":")
    obj = importlib.import_module(mod)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj

def describe(obj):
    return getattr(obj, "__module__", "?") + "." + getattr(obj, "__qualname__", repr(obj))

def holds(inst, canon):
    try:
        values = list(vars(inst).values())
    except TypeError:
        values = [getattr(inst, s, None) for s in getattr(type(inst), "__slots__", ())]
    return any(isinstance(v, canon) for v in values)

try:
    canon = load(req["canonical"])
except BaseException as exc:
    print(MARK + json.dumps({"canonical_error": f"{type(exc).__name__}: {exc}"}), flush=True)
    raise SystemExit(0)
out = {}
for key, kind, path in req["items"]:
    try:
        obj = load(path)
    except BaseException as exc:
        out[key] = ["error", f"import failed: {type(exc).__name__}: {exc}"]
        continue
    is_class = isinstance(obj, type)
    if kind == "unresolved":  # the run time resolves what the AST could not
        sub = is_class and issubclass(obj, canon)
        out[key] = ["subclass" if sub else "independent", describe(obj)]
    elif kind == "duplicate" and is_class and issubclass(obj, canon):
        out[key] = ["mismatch", f"the name is {describe(obj)} at runtime: "
                    "this definition is not the one in effect"]
    elif obj is canon:
        ok = kind in ("canonical", "alias")
        out[key] = ["confirmed" if ok else "mismatch", "is the canonical class"]
    elif is_class and issubclass(obj, canon):
        ok = kind == "subclass"
        out[key] = ["confirmed" if ok else "mismatch", "is a subclass of the canonical class"]
    elif kind in ("canonical", "alias", "subclass"):
        out[key] = ["mismatch", f"is {describe(obj)}, not the canonical class"]
    elif kind == "wrapper":
        try:
            inst = obj()
        except BaseException as exc:
            out[key] = ["unverified", f"needs constructor arguments ({type(exc).__name__})"]
        else:
            if holds(inst, canon):
                out[key] = ["confirmed", "an instance holds a canonical instance"]
            else:
                # It may be given its delegate later (a configure() step): unproven, not false.
                out[key] = ["unverified", "a new instance holds no canonical instance yet"]
    else:
        out[key] = ["confirmed", f"is {describe(obj)}, not the canonical class"]
print(MARK + json.dumps(out), flush=True)
"""


def _importable(module: str) -> bool:
    return all(part.isidentifier() for part in module.split("."))


def check_imports(
    findings: Sequence[Finding],
    roots: Sequence[Path],
    canonical: str,
    *,
    timeout: float = 30.0,
) -> tuple[list[Finding], str | None]:
    """Findings with ``import_check`` filled in, and a problem line if the check failed."""
    items = [
        [str(i), f.kind.value, f.import_path]
        for i, f in enumerate(findings)
        if f.kind in CHECKED and _importable(f.module)
    ]
    if not items:
        return list(findings), None
    request = {
        "roots": [str(r) for r in roots],
        "canonical": canonical,
        "items": items,
        "marker": MARKER,
    }
    problem: str | None = None
    results: dict[str, list[str]] = {}
    try:
        proc = subprocess.run(  # noqa: S603 - our own interpreter, a fixed script, no shell
            [sys.executable, "-c", _CHILD],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=str(roots[0]) if roots else None,
            check=False,
        )
    except subprocess.TimeoutExpired:
        problem = f"import check timed out after {timeout:g} s"
    else:
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
        if not lines:
            tail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            problem = f"import check process failed: {tail}"
        else:
            payload = json.loads(lines[-1][len(MARKER) :])
            if "canonical_error" in payload:
                problem = f"canonical class failed to import: {payload['canonical_error']}"
            else:
                results = payload
    out: list[Finding] = []
    for i, finding in enumerate(findings):
        if finding.kind not in CHECKED:
            out.append(finding)
            continue
        if not _importable(finding.module):
            check = ImportCheck("error", "module name is not importable")
        elif problem is not None:
            check = ImportCheck("error", problem)
        else:
            status, detail = results.get(str(i), ["error", "no result"])
            if finding.kind is Kind.UNRESOLVED and status in ("subclass", "independent"):
                out.append(_resolved(finding, status == "subclass", detail))
                continue
            check = ImportCheck(status, detail)
        out.append(replace(finding, import_check=check))
    return out, problem


def _resolved(finding: Finding, subclass: bool, described: str) -> Finding:
    """An ``unresolved`` class, classified by what importing it showed."""
    if subclass:
        kind, what = Kind.SUBCLASS, "a subclass of the canonical class"
    else:
        kind, what = Kind.DUPLICATE, "not derived from the canonical class: a duplicate"
    detail = f"{finding.detail.split(';')[0]}; at run time {described} is {what}"
    return replace(
        finding,
        kind=kind,
        detail=detail,
        import_check=ImportCheck("confirmed", "resolved at run time"),
    )
