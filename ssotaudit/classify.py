"""Resolve names across modules and classify each factory class against the canonical one.

The kinds, in the order they are tried:

- ``canonical``: the class named by ``--canonical``;
- ``subclass``: a base resolves (directly or through other classes) to it;
- ``wrapper``: holds a canonical instance and every public method forwards to it;
- ``duplicate``: anything else, including a wrapper with a method that does not
  forward (the finding names those methods);
- ``unresolved``: would be a duplicate, but a base (or a base's base) is an
  expression static analysis cannot follow (a call, ``getattr``, ``__import__``, a
  name bound to a call's result): not counted; ``--import-check`` resolves it;
- ``test_double``: any of the above in a test file, or named ``Mock*``/``Fake*``/``Stub*``.

Names bound to the canonical class (imports, re-exports, ``Alias = Canonical``,
a module ``__getattr__`` that redirects to it) are ``alias`` findings. All of
this is static: a heuristic over the AST.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ssotaudit.aliases import lazy_aliases, module_aliases
from ssotaudit.forwarding import (
    accessors_of,
    forward_target,
    methods_of,
    self_attr,
)
from ssotaudit.model import (
    KIND_ORDER,
    CanonicalNotFoundError,
    CanonicalSpecError,
    FactoryFunction,
    Finding,
    Kind,
)
from ssotaudit.resolve import ClassKey, Resolver, annotation_names
from ssotaudit.scan import ClassScan, ModuleScan, matches

__all__ = ["Classification", "classify", "parse_canonical"]

TEST_DOUBLE_PREFIXES = ("Mock", "Fake", "Stub")
_IDENT = re.compile(r"[A-Za-z_]\w*\Z")


# Calls allowed before a forward: deprecation warnings, use counters, logging.
def parse_canonical(spec: str) -> tuple[str, str]:
    """Split ``MODULE:CLASS``; raise CanonicalSpecError when it is not that."""
    module, sep, cls = spec.partition(":")
    if (
        not sep
        or not cls
        or not _IDENT.match(cls)
        or not module
        or not all(_IDENT.match(p) for p in module.split("."))
    ):
        raise CanonicalSpecError(
            f"--canonical must be MODULE:CLASS (e.g. pkg.factory:ExecutionEngineFactory), "
            f"got {spec!r}"
        )
    return module, cls


@dataclass(frozen=True, slots=True)
class Classification:
    """The kind of one class definition, and why."""

    kind: Kind
    detail: str
    non_forwarding: tuple[str, ...] = ()


class _ClassAnalyzer:
    """Decides subclass / wrapper / duplicate for one class definition."""

    def __init__(self, resolver: Resolver, module: ModuleScan) -> None:
        self.resolver = resolver
        self.module = module

    def _value_is_canonical(self, value: ast.expr, params: dict[str, ast.expr | None]) -> bool:
        r, mod = self.resolver, self.module.name
        if isinstance(value, ast.Await):
            value = value.value
        if isinstance(value, ast.Call):
            return r.call_makes_canonical(mod, value)
        if isinstance(value, ast.Name):
            if value.id in params:
                return r.refers_to_canonical(mod, annotation_names(params[value.id]))
            return r.holds_canonical_instance(mod, value.id)
        if isinstance(value, ast.BoolOp):
            return any(self._value_is_canonical(v, params) for v in value.values)
        if isinstance(value, ast.IfExp):
            return any(self._value_is_canonical(v, params) for v in (value.body, value.orelse))
        return False

    def held(self, cls: ast.ClassDef) -> set[str]:
        """Attributes that hold a canonical instance."""
        r, mod = self.resolver, self.module.name
        out: set[str] = set()
        for stmt in cls.body:  # class-level: `_factory: Canonical` or `= Canonical()`
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                if r.refers_to_canonical(mod, annotation_names(stmt.annotation)):
                    out.add(stmt.target.id)
            elif isinstance(stmt, ast.Assign) and r.call_makes_canonical(mod, stmt.value):
                out.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        for method in methods_of(cls):
            if not method.args.args:
                continue
            self_name = method.args.args[0].arg
            args = method.args
            params = {
                a.arg: a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
            }
            for node in ast.walk(method):
                if isinstance(node, ast.AnnAssign):
                    attr = self_attr(node.target, self_name)
                    if attr and (
                        r.refers_to_canonical(mod, annotation_names(node.annotation))
                        or (node.value is not None and self._value_is_canonical(node.value, params))
                    ):
                        out.add(attr)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        attr = self_attr(target, self_name)
                        if attr and self._value_is_canonical(node.value, params):
                            out.add(attr)
        return out

    def classify(self, cls: ClassScan) -> Classification:
        base = self.resolver.subclasses_canonical(self.module.name, cls)
        node = cls.node
        if node is None:  # not kept by the scan: the name did not match
            raise ValueError(f"class {cls.name} was scanned without its node")
        if base is not None:
            overrides = sorted({m.name for m in methods_of(node) if not m.name.startswith("_")})
            detail = f"subclass of the canonical class via base {base}"
            if overrides:
                detail += f"; overrides {', '.join(overrides)}"
            return Classification(Kind.SUBCLASS, detail)
        held = self.held(node)
        unresolved = self.resolver.unresolved_bases(self.module.name, cls)
        if not held and unresolved:
            # It may derive from the canonical class at run time: say so, count no duplicate.
            return Classification(
                Kind.UNRESOLVED,
                f"base {', '.join(unresolved)} cannot be resolved statically; not counted as "
                "a duplicate (--import-check tests it at run time)",
            )
        if not held:
            return Classification(
                Kind.DUPLICATE, "independent implementation: holds no canonical instance"
            )
        reasons: dict[str, str] = {}
        forwarded: set[str] = set()
        reachable = accessors_of(node, held)
        for method in methods_of(node):
            if method.name.startswith("_"):
                continue
            attr, why = forward_target(method, reachable)
            if attr is None:
                reasons.setdefault(method.name, why)
            elif attr not in reachable:
                reasons.setdefault(
                    method.name, f"forwards to self.{attr}, which is not the canonical instance"
                )
            else:
                forwarded.add(method.name)
        holder = ", ".join(f"self.{a}" for a in sorted(held))
        if reasons:
            names = tuple(sorted(reasons))
            why = "; ".join(f"{n} {reasons[n]}" for n in names)
            return Classification(
                Kind.DUPLICATE,
                f"partial wrapper of {holder}: does not forward {', '.join(names)} ({why})",
                names,
            )
        if not forwarded:
            return Classification(
                Kind.DUPLICATE, f"holds {holder} but has no public method that forwards to it"
            )
        return Classification(
            Kind.WRAPPER,
            f"delegates to {holder}: forwards {', '.join(sorted(forwarded))}",
        )


def resolve_canonical(resolver: Resolver, spec: str) -> list[tuple[ModuleScan, ClassScan]]:
    """Find the canonical class definition(s) named by ``spec`` and fix them in the resolver."""
    module, cls = parse_canonical(spec)
    scan = resolver.modules.get(module)
    if scan is None:
        raise CanonicalNotFoundError(f"canonical module {module!r} is not in the audited tree")
    bound = resolver.name(module, cls)
    targets = [t for t in bound if t[0] == "class"]
    if bound and not targets:
        raise CanonicalNotFoundError(f"canonical {cls!r} in module {module!r} is not a class")
    if not targets:
        raise CanonicalNotFoundError(
            f"canonical class {cls!r} is not defined or imported in module {module!r} "
            f"({scan.display})"
        )
    resolver.set_canonical(frozenset((t[1], t[2]) for t in targets))
    return [
        (resolver.modules[m], c)
        for m, name in sorted(resolver.canonical)
        for c in resolver.modules[m].classes.get(name, ())
    ]


def classify(
    modules: Sequence[ModuleScan],
    patterns: Sequence[str],
    canonical: str,
    function_patterns: Sequence[str] = (),
) -> tuple[list[Finding], list[FactoryFunction]]:
    """Classify every class, alias and factory function in ``modules``."""
    resolver = Resolver(modules)
    canon_defs = resolve_canonical(resolver, canonical)
    canon_ids = {id(c) for _, c in canon_defs}
    findings: list[Finding] = []
    functions: list[FactoryFunction] = []
    reachable: dict[ClassKey, list[str]] = {}

    for module in resolver.modules.values():
        if not module.is_test:
            findings += module_aliases(resolver, module, patterns, reachable)
            if "__getattr__" in module.functions:
                findings += lazy_aliases(resolver, module, patterns, reachable)

        analyzer = _ClassAnalyzer(resolver, module)
        for name, defs in module.classes.items():
            for cls in defs:
                if id(cls) in canon_ids:
                    findings.append(
                        Finding(
                            kind=Kind.CANONICAL,
                            name=name,
                            module=module.name,
                            path=module.display,
                            line=cls.line,
                            detail="the canonical class",
                            conditional=cls.conditional,
                        )
                    )
                    continue
                if not matches(name, patterns):
                    continue
                result = analyzer.classify(cls)
                if module.is_test or name.startswith(TEST_DOUBLE_PREFIXES):
                    where = "in a test module" if module.is_test else "named as a test double"
                    result = Classification(
                        Kind.TEST_DOUBLE,
                        f"{where}; as code it would be a {result.kind.value}: {result.detail}",
                        result.non_forwarding,
                    )
                findings.append(
                    Finding(
                        kind=result.kind,
                        name=name,
                        module=module.name,
                        path=module.display,
                        line=cls.line,
                        detail=result.detail,
                        conditional=cls.conditional,
                        non_forwarding=result.non_forwarding,
                    )
                )

        for name, fdefs in module.functions.items():
            if not matches(name, function_patterns):
                continue
            for func in fdefs:
                functions.append(
                    FactoryFunction(
                        name=name,
                        module=module.name,
                        path=module.display,
                        line=func.line,
                        returns_canonical=resolver.returns_canonical(module.name, name),
                        calls_canonical=resolver.calls_canonical(module.name, func),
                        in_tests=module.is_test,
                    )
                )

    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    findings = [
        _with_reachable(f, reachable.get((f.module, f.name), [])) if f.kind is not Kind.ALIAS else f
        for f in findings
    ]
    findings.sort(key=lambda f: (order[f.kind], f.module, f.line, f.name))
    functions.sort(key=lambda f: (f.in_tests, f.module, f.line))
    return findings, functions


def _with_reachable(finding: Finding, paths: list[str]) -> Finding:
    if not paths or finding.kind is Kind.CANONICAL:
        return finding
    return replace(finding, reachable_at=tuple(sorted(set(paths))))
