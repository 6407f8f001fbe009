"""Does a method forward to a held canonical instance? The wrapper test of the audit."""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

from ssotaudit.scan import dotted

_PREAMBLE_CALL = re.compile(r"warn|inc|count|record|track|note|log|debug|info|metric", re.I)


Method = ast.FunctionDef | ast.AsyncFunctionDef


def methods_of(cls: ast.ClassDef) -> list[Method]:
    return [s for s in cls.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


def self_attr(node: ast.expr, self_name: str) -> str | None:
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
        return self_attr(node.value, self_name)
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
        return all(self_attr(t, self_name) in held for t in stmt.targets)
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
        attr = self_attr(last.value, self_name) or _held_attr(last.value, self_name)
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


def accessors_of(cls: ast.ClassDef, held: set[str]) -> set[str]:
    """``held`` plus methods/properties that only return a held attribute (``self.factory``)."""
    out = set(held)
    methods = [m for m in methods_of(cls) if len(m.args.args) == 1 and not m.args.kwonlyargs]
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
            if attr in out and self_attr(body[0].value, method.args.args[0].arg) == attr:
                out.add(method.name)
                changed = True
    return out
