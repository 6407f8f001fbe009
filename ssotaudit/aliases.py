"""Names bound to the canonical class: imports, re-exports, assignments and module
``__getattr__`` redirects (the audit's ``alias`` findings)."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence

from ssotaudit.model import (
    Finding,
    Kind,
)
from ssotaudit.resolve import ClassKey, Resolver
from ssotaudit.scan import Binding, ModuleScan, dotted, matches, parse_file


def module_aliases(
    resolver: Resolver,
    module: ModuleScan,
    patterns: Sequence[str],
    reachable: dict[ClassKey, list[str]],
) -> list[Finding]:
    """Names bound (not defined) in ``module`` that match: aliases of the canonical class.

    Matching names bound to other classes are recorded in ``reachable``.
    """
    out: list[Finding] = []
    for name, bindings in module.bindings.items():
        if not matches(name, patterns):
            continue
        targets = resolver.name(module.name, name)
        classes = sorted((t[1], t[2]) for t in targets if t[0] == "class")
        for key in classes:
            if key != (module.name, name):
                reachable.setdefault(key, []).append(f"{module.name}:{name}")
        if not any(k in resolver.canonical for k in classes):
            continue
        if (module.name, name) in resolver.canonical:
            continue
        binding = next(
            (b for b in bindings if _binds_canonical(resolver, module.name, b)),
            bindings[0],
        )
        others = [f"{m}:{c}" for m, c in classes if (m, c) not in resolver.canonical]
        detail = f"{binding.describe(name)} -> the canonical class"
        if others:
            detail += f"; also bound to {', '.join(others)}"
        out.append(
            Finding(
                kind=Kind.ALIAS,
                name=name,
                module=module.name,
                path=module.display,
                line=binding.line,
                detail=detail,
                conditional=binding.conditional or len(bindings) > 1 or bool(others),
                plain_import=(
                    binding.kind == "from"
                    and binding.attr == name
                    and not module.is_package
                    and not others
                ),
            )
        )
    return out


def _redirects(module: ModuleScan, resolver: Resolver) -> list[tuple[str, str, str, int]]:
    """PEP 562 redirects: ``(name, target module, target attr, line)`` from ``__getattr__``.

    Heuristic: ``__getattr__`` calls ``getattr(<module>, ...)``; the names it
    serves are the strings in module-level tuples/lists/sets (same name) and
    dicts (key -> value) and those compared with in its body.
    """
    [func, *_] = module.functions["__getattr__"]
    fnode = resolver.function_node(module.name, func)
    tree = parse_file(module.path)
    if fnode is None or tree is None:
        return []
    targets: set[str] = set()
    for node in ast.walk(fnode):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
        ):
            ref = dotted(node.args[0])
            for t in resolver.dotted(module.name, ref) if ref else ():
                if t[0] == "module":
                    targets.add(t[1])
    names: dict[str, str] = {}
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Tuple | ast.List | ast.Set):
            names.update((c, c) for c in _strings(value.elts))
        elif isinstance(value, ast.Dict):
            for k, v in zip(value.keys, value.values, strict=True):
                [key, *_] = _strings([k]) or [""]
                [val, *_] = _strings([v]) or [key]
                if key:
                    names[key] = val
    for node in ast.walk(fnode):
        if isinstance(node, ast.Compare):
            names.update((c, c) for c in _strings([node.left, *node.comparators]) if c not in names)
    return [
        (name, target, attr, func.line)
        for name, attr in sorted(names.items())
        for target in sorted(targets)
    ]


def _strings(nodes: Iterable[ast.expr | None]) -> list[str]:
    return [n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)]


def lazy_aliases(
    resolver: Resolver,
    module: ModuleScan,
    patterns: Sequence[str],
    reachable: dict[ClassKey, list[str]],
) -> list[Finding]:
    """Aliases served by a module-level ``__getattr__`` (a lazy compatibility redirect)."""
    out: list[Finding] = []
    for name, target, attr, line in _redirects(module, resolver):
        if not matches(name, patterns) or name in module.bindings or name in module.classes:
            continue
        classes = sorted(
            (t[1], t[2]) for t in resolver.attr(("module", target, ""), attr) if t[0] == "class"
        )
        for key in classes:
            if key not in resolver.canonical:
                reachable.setdefault(key, []).append(f"{module.name}:{name}")
        if any(k in resolver.canonical for k in classes):
            out.append(
                Finding(
                    kind=Kind.ALIAS,
                    name=name,
                    module=module.name,
                    path=module.display,
                    line=line,
                    detail=f"module __getattr__ redirects {name} to {target}.{attr} "
                    "-> the canonical class",
                )
            )
    return out


def _binds_canonical(resolver: Resolver, module: str, binding: Binding) -> bool:
    return any(resolver.is_canonical(t) for t in resolver.binding_targets(module, binding))
