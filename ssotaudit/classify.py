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
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace

from ssotaudit.model import (
    KIND_ORDER,
    CanonicalNotFoundError,
    CanonicalSpecError,
    FactoryFunction,
    Finding,
    Kind,
)
from ssotaudit.resolve import ClassKey, Resolver, annotation_names
from ssotaudit.scan import Binding, ClassScan, ModuleScan, dotted, matches, parse_file

__all__ = ["Classification", "classify", "parse_canonical"]

TEST_DOUBLE_PREFIXES = ("Mock", "Fake", "Stub")
_IDENT = re.compile(r"[A-Za-z_]\w*\Z")
# Calls allowed before a forward: deprecation warnings, use counters, logging.
_PREAMBLE_CALL = re.compile(r"warn|inc|count|record|track|note|log|debug|info|metric", re.I)


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


Method = ast.FunctionDef | ast.AsyncFunctionDef


def _methods(cls: ast.ClassDef) -> list[Method]:
    return [s for s in cls.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


def _self_attr(node: ast.expr, self_name: str) -> str | None:
    """``attr`` for ``self.attr``, else None."""
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == self_name
    ):
        return node.attr
    return None


def _held_attr(node: ast.expr, self_name: str) -> str | None:
    """``attr`` for ``self.attr.method(...)``, ``self.attr.x`` (awaited or not)."""
    if isinstance(node, ast.Await):
        node = node.value
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return _self_attr(node.value, self_name)
    return None


def _is_preamble(stmt: ast.stmt, self_name: str, held: Collection[str]) -> bool:
    """A statement a forwarding method may run first.

    Warnings, use counters, logging, flags, guards that raise (``if x is None:
    raise ...``) and (re)binding the held canonical instance (``self._f = ...``).
    """
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        name = dotted(stmt.value.func)
        return name is not None and bool(_PREAMBLE_CALL.search(name.rpartition(".")[2]))
    if isinstance(stmt, ast.AugAssign | ast.Global | ast.Nonlocal | ast.Pass):
        return True
    if isinstance(stmt, ast.Assign):
        if isinstance(stmt.value, ast.Constant):
            return True
        return all(_self_attr(t, self_name) in held for t in stmt.targets)
    if isinstance(stmt, ast.If):
        return all(
            isinstance(s, ast.Raise) or _is_preamble(s, self_name, held)
            for s in (*stmt.body, *stmt.orelse)
        )
    return False


def forward_target(method: Method, held: Collection[str] = ()) -> tuple[str | None, str]:
    """The ``self`` attribute a method forwards to, or None and the reason it does not.

    A method forwards when, after an optional docstring and preamble, it ends in
    ``[return] [await] self.<attr>.<name>(...)``, ``return self.<attr>[.<name>]``
    or ``[async] with self.<attr>.<name>(...) as x: yield x``.
    """
    if not method.args.args:
        return None, "takes no self"
    self_name = method.args.args[0].arg
    body = list(method.body)
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        body = body[1:]
    if not body:
        return None, "has no body"
    *preamble, last = body
    extra = [s for s in preamble if not _is_preamble(s, self_name, held)]
    if extra:
        return None, f"runs its own code (line {extra[0].lineno}) instead of forwarding"
    attr: str | None = None
    if isinstance(last, ast.Return) and last.value is not None:
        attr = _self_attr(last.value, self_name) or _held_attr(last.value, self_name)
    elif isinstance(last, ast.Expr):
        attr = _held_attr(last.value, self_name)
    elif isinstance(last, ast.With | ast.AsyncWith) and len(last.items) == 1:
        inner = last.body
        yields = all(
            isinstance(s, ast.Expr) and isinstance(s.value, ast.Yield | ast.YieldFrom)
            for s in inner
        )
        if yields:
            attr = _held_attr(last.items[0].context_expr, self_name)
    if attr is None:
        return None, f"does not end in a call on self.<attr> (line {last.lineno})"
    return attr, ""


def _accessors(cls: ast.ClassDef, held: set[str]) -> set[str]:
    """``held`` plus methods/properties that only return a held attribute (``self.factory``)."""
    out = set(held)
    methods = [m for m in _methods(cls) if len(m.args.args) == 1 and not m.args.kwonlyargs]
    changed = True
    while changed:
        changed = False
        for method in methods:
            if method.name in out:
                continue
            body = method.body[-1:]
            if not body or not isinstance(body[0], ast.Return) or body[0].value is None:
                continue
            attr, _ = forward_target(method, out)
            if attr in out and _self_attr(body[0].value, method.args.args[0].arg) == attr:
                out.add(method.name)
                changed = True
    return out


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
        for method in _methods(cls):
            if not method.args.args:
                continue
            self_name = method.args.args[0].arg
            args = method.args
            params = {
                a.arg: a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)
            }
            for node in ast.walk(method):
                if isinstance(node, ast.AnnAssign):
                    attr = _self_attr(node.target, self_name)
                    if attr and (
                        r.refers_to_canonical(mod, annotation_names(node.annotation))
                        or (node.value is not None and self._value_is_canonical(node.value, params))
                    ):
                        out.add(attr)
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        attr = _self_attr(target, self_name)
                        if attr and self._value_is_canonical(node.value, params):
                            out.add(attr)
        return out

    def classify(self, cls: ClassScan) -> Classification:
        base = self.resolver.subclasses_canonical(self.module.name, cls)
        node = cls.node
        if node is None:  # not kept by the scan: the name did not match
            raise ValueError(f"class {cls.name} was scanned without its node")
        if base is not None:
            overrides = sorted({m.name for m in _methods(node) if not m.name.startswith("_")})
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
        reachable = _accessors(node, held)
        for method in _methods(node):
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
            findings += _aliases(resolver, module, patterns, reachable)
            if "__getattr__" in module.functions:
                findings += _lazy_aliases(resolver, module, patterns, reachable)

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


def _aliases(
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


def _lazy_aliases(
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


def _with_reachable(finding: Finding, paths: list[str]) -> Finding:
    if not paths or finding.kind is Kind.CANONICAL:
        return finding
    return replace(finding, reachable_at=tuple(sorted(set(paths))))
