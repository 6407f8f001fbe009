"""Name resolution across the scanned modules, without importing anything.

A name resolves to a set of targets, because conditional code (``if``/``try``)
can bind it more than once. A target is ``(kind, module, name)`` with kind
``module``, ``class``, ``function``, ``classattr`` (``Class.attr``) or
``instance`` (a module-level ``x = Class()``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ssotaudit.scan import Binding, ClassScan, FunctionScan, ModuleScan, dotted, load_function

__all__ = ["ClassKey", "Resolver", "Target", "annotation_names"]

# (kind, module, name): kind is module, class, function, classattr or instance.
Target = tuple[str, str, str]
ClassKey = tuple[str, str]


class Resolver:
    """Answers "what can this name refer to?" across the scanned modules."""

    def __init__(self, modules: Iterable[ModuleScan]) -> None:
        self.modules: dict[str, ModuleScan] = {}
        for module in modules:
            self.modules.setdefault(module.name, module)
        # Every package prefix, so namespace packages (no __init__) resolve too.
        self.packages: set[str] = set()
        for name in self.modules:
            parts = name.split(".")
            self.packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
        self.canonical: frozenset[ClassKey] = frozenset()
        self._names: dict[tuple[str, str], frozenset[Target]] = {}
        self._busy: set[tuple[str, str]] = set()
        self._returns: dict[tuple[str, str], bool] = {}
        self._subclass: dict[ClassKey, bool] = {}

    def set_canonical(self, keys: frozenset[ClassKey]) -> None:
        """Fix the canonical class; forget answers that depended on it."""
        self.canonical = keys
        self._names.clear()
        self._returns.clear()
        self._subclass.clear()

    def is_module(self, name: str) -> bool:
        """True when ``name`` is a scanned module or package."""
        return name in self.modules or name in self.packages

    def name(self, module: str, name: str) -> frozenset[Target]:
        """Everything ``name`` may be bound to at the top level of ``module``."""
        key = (module, name)
        cached = self._names.get(key)
        if cached is not None:
            return cached
        scan = self.modules.get(module)
        if scan is None or key in self._busy:
            return frozenset()
        self._busy.add(key)
        try:
            out: set[Target] = set()
            if name in scan.classes:
                out.add(("class", module, name))
            if name in scan.functions:
                out.add(("function", module, name))
            for binding in scan.bindings.get(name, ()):
                out |= self._binding(module, binding)
            if not out and not name.startswith("_"):
                for star in scan.stars:
                    out |= self.name(star, name)
        finally:
            self._busy.discard(key)
        result = frozenset(out)
        self._names[key] = result
        return result

    def binding_targets(self, module: str, binding: Binding) -> frozenset[Target]:
        """What one binding of a name may refer to."""
        return frozenset(self._binding(module, binding))

    def _binding(self, module: str, binding: Binding) -> set[Target]:
        if binding.kind == "module":
            return {("module", binding.target, "")}
        if binding.kind == "from":
            return set(self.attr(("module", binding.target, ""), binding.attr))
        if binding.kind == "expr":
            return set(self.dotted(module, binding.target))
        out: set[Target] = set()  # a call: the name holds an instance
        for target in self.dotted(module, binding.target):
            if target[0] == "class":
                out.add(("instance", target[1], target[2]))
            elif self._makes_canonical(target):
                out.update(("instance", m, c) for m, c in self.canonical)
        return out

    def attr(self, target: Target, attr: str) -> frozenset[Target]:
        """What ``target.attr`` may be."""
        kind, module, name = target
        if kind == "module":
            found = self.name(module, attr)
            if not found and self.is_module(f"{module}.{attr}"):
                return frozenset({("module", f"{module}.{attr}", "")})
            return found
        if kind == "class" and "." not in name:
            return frozenset({("classattr", module, f"{name}.{attr}")})
        return frozenset()

    def dotted(self, module: str, name: str) -> frozenset[Target]:
        """What the dotted expression ``name`` may be, seen from ``module``."""
        head, *rest = name.split(".")
        targets = self.name(module, head)
        for part in rest:
            if not targets:
                break
            targets = frozenset(t for target in targets for t in self.attr(target, part))
        return targets

    # -- facts about the canonical class -----------------------------------------

    def is_canonical(self, target: Target) -> bool:
        """True for the canonical class itself."""
        return target[0] == "class" and (target[1], target[2]) in self.canonical

    def _makes_canonical(self, target: Target) -> bool:
        """Calling ``target`` gives a canonical instance (heuristic)."""
        kind, module, name = target
        if kind == "class":
            return (module, name) in self.canonical
        if kind == "classattr":  # Canonical.get_instance() and friends
            return (module, name.partition(".")[0]) in self.canonical
        if kind == "function":
            return self.returns_canonical(module, name)
        return False

    def call_makes_canonical(self, module: str, node: ast.expr) -> bool:
        """True for ``Canonical(...)``, ``get_canonical(...)`` and ``Canonical.x(...)``."""
        if isinstance(node, ast.Await):
            node = node.value
        if not isinstance(node, ast.Call):
            return False
        callee = dotted(node.func)
        return callee is not None and any(
            self._makes_canonical(t) for t in self.dotted(module, callee)
        )

    def refers_to_canonical(self, module: str, names: Iterable[str]) -> bool:
        """True when any of the dotted ``names`` is the canonical class."""
        return any(self.is_canonical(t) for n in names for t in self.dotted(module, n))

    def holds_canonical_instance(self, module: str, name: str) -> bool:
        """True when the module-level ``name`` is a canonical instance."""
        return any(
            t[0] == "instance" and (t[1], t[2]) in self.canonical for t in self.dotted(module, name)
        )

    def returns_canonical(self, module: str, name: str) -> bool:
        """True when the module-level function returns a canonical instance."""
        key = (module, name)
        cached = self._returns.get(key)
        if cached is not None:
            return cached
        self._returns[key] = False  # cycle guard
        scan = self.modules.get(module)
        result = scan is not None and any(
            self._function_returns(module, f) for f in scan.functions.get(name, ())
        )
        self._returns[key] = result
        return result

    def function_node(
        self, module: str, func: FunctionScan
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function's AST, parsing its file again if the scan did not keep it."""
        if func.node is None:
            scan = self.modules.get(module)
            if scan is not None:
                func.node = load_function(scan.path, func.name, func.line)
        return func.node

    def _function_returns(self, module: str, func: FunctionScan) -> bool:
        fnode = self.function_node(module, func)
        if fnode is None:
            return False
        if fnode.returns is not None and self.refers_to_canonical(
            module, annotation_names(fnode.returns)
        ):
            return True
        made: set[str] = set()
        returns: list[ast.expr] = []
        for node in ast.walk(fnode):
            if isinstance(node, ast.Assign) and self.call_makes_canonical(module, node.value):
                made.update(t.id for t in node.targets if isinstance(t, ast.Name))
            elif isinstance(node, ast.Return) and node.value is not None:
                returns.append(node.value)
        for value in returns:
            if self.call_makes_canonical(module, value):
                return True
            if isinstance(value, ast.Name) and (
                value.id in made or self.holds_canonical_instance(module, value.id)
            ):
                return True
        return False

    def calls_canonical(self, module: str, func: FunctionScan) -> bool:
        """True when the function calls the canonical class or something that returns it."""
        fnode = self.function_node(module, func)
        return fnode is not None and any(
            isinstance(node, ast.Call) and self.call_makes_canonical(module, node)
            for node in ast.walk(fnode)
        )

    def subclasses_canonical(self, module: str, cls: ClassScan) -> str | None:
        """The base through which ``cls`` derives from the canonical class, if any."""
        for base in cls.bases:
            for target in self.dotted(module, base):
                if target[0] != "class":
                    continue
                if self.is_canonical(target) or self._class_subclasses(target[1], target[2]):
                    return base
        return None

    def unresolved_bases(self, module: str, cls: ClassScan, depth: int = 0) -> list[str]:
        """Bases of ``cls`` that static analysis cannot follow, directly or through the
        classes it derives from: an expression that is not a name, or a name bound (here
        or in the module it is imported from) to the result of a call."""
        out = list(cls.dynamic_bases)
        for base in cls.bases:
            targets = self.dotted(module, base)
            classes = [t for t in targets if t[0] == "class"]
            if not classes:
                if self._bound_by_call(module, base):
                    out.append(base)
                continue
            if depth >= 10:  # a deep or circular chain: what is known so far
                continue
            for _, where, name in classes:
                scan = self.modules.get(where)
                for parent in scan.classes.get(name, ()) if scan is not None else ():
                    inner = self.unresolved_bases(where, parent, depth + 1)
                    out += [f"{base} (via {expr})" for expr in inner]
        return out

    def _bound_by_call(self, module: str, name: str, depth: int = 0) -> bool:
        """Whether ``name`` (its head) is bound to a call's result in ``module``, or is
        imported from a module where it is."""
        scan = self.modules.get(module)
        if scan is None or depth > 10:
            return False
        head = name.partition(".")[0]
        for binding in scan.bindings.get(head, ()):
            if binding.kind == "call":
                return True
            if binding.kind == "from" and binding.attr:
                if self._bound_by_call(binding.target, binding.attr, depth + 1):
                    return True
        return False

    def _class_subclasses(self, module: str, name: str) -> bool:
        key = (module, name)
        cached = self._subclass.get(key)
        if cached is not None:
            return cached
        self._subclass[key] = False  # cycle guard
        scan = self.modules.get(module)
        result = scan is not None and any(
            self.subclasses_canonical(module, c) is not None for c in scan.classes.get(name, ())
        )
        self._subclass[key] = result
        return result


def annotation_names(node: ast.expr | None) -> list[str]:
    """Dotted names inside a type annotation (``X | None``, ``Optional[X]``, ``"X"``)."""
    out: list[str] = []
    stack = [node] if node is not None else []
    while stack:
        item = stack.pop()
        name = dotted(item)
        if name is not None:
            out.append(name)
        elif isinstance(item, ast.Subscript):
            stack += [item.value, item.slice]
        elif isinstance(item, ast.BinOp):
            stack += [item.left, item.right]
        elif isinstance(item, ast.Tuple | ast.List):
            stack += item.elts
        elif isinstance(item, ast.Constant) and isinstance(item.value, str):
            try:
                stack.append(ast.parse(item.value, mode="eval").body)
            except SyntaxError:
                pass
    return out
