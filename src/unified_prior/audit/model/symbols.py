"""Names: which variable a name or ``self.attr`` chain denotes, imports, and every load of
each variable."""

from __future__ import annotations

import ast
from functools import cached_property

from unified_prior.audit.model.tree import FUNC_TYPES, Symbol, Tree, dotted


class Symbols(Tree):
    """Scopes and symbols of one file."""

    def __init__(self, path: str, source: str, tree: ast.Module) -> None:
        super().__init__(path, source, tree)
        self._locals: dict[ast.AST, set[str]] = {}

    @cached_property
    def imports(self) -> dict[str, str]:
        return self._imports()

    def _imports(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for node in [*self.of_type(ast.Import), *self.of_type(ast.ImportFrom)]:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        out[alias.asname] = alias.name
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    out[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        return out

    # ----------------------------------------------------------------- basic navigation
    def qualified(self, call: ast.Call) -> str:
        """The called name with import aliases expanded: ``optim.AdamW`` → ``torch.optim.AdamW``."""
        name = dotted(call.func) or ""
        head, _, rest = name.partition(".")
        if head in self.imports:
            return self.imports[head] + (f".{rest}" if rest else "")
        return name

    def locals_of(self, scope: ast.AST) -> set[str]:
        if scope not in self._locals:
            names: set[str] = set()
            declared_global: set[str] = set()
            if isinstance(scope, FUNC_TYPES):
                args = scope.args
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                    names.add(a.arg)
                for star in (args.vararg, args.kwarg):
                    if star is not None:
                        names.add(star.arg)
            stack = list(ast.iter_child_nodes(scope))
            while stack:
                node = stack.pop()
                if isinstance(node, ast.Global | ast.Nonlocal):
                    declared_global.update(node.names)
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    names.add(node.id)
                if isinstance(node, (*FUNC_TYPES, ast.ClassDef)):
                    if not isinstance(node, ast.Lambda):
                        names.add(node.name)
                    continue
                stack.extend(ast.iter_child_nodes(node))
            self._locals[scope] = names - declared_global
        return self._locals[scope]

    def symbol(self, node: ast.AST) -> Symbol | None:
        """Resolve a Name/Attribute chain to the variable it denotes."""
        name = dotted(node)
        if name is None:
            return None
        head = name.split(".", 1)[0]
        if head in {"self", "cls"}:
            owner = self.class_of(node)
            if owner is not None:
                return (id(owner), name)
        scope = self.scope_of(node)
        while scope is not self.tree:
            if head in self.locals_of(scope):
                return (id(scope), name)
            scope = self.scope_of(scope)
        return (id(self.tree), name)

    def target_symbols(self, target: ast.AST) -> list[Symbol | None]:
        if isinstance(target, ast.Tuple | ast.List):
            return [self.symbol(t) for t in target.elts]
        return [self.symbol(target)]

    @cached_property
    def _uses(self) -> dict[Symbol, list[ast.AST]]:
        """Every load of each symbol (names and ``a.b`` chains)."""
        uses: dict[Symbol, list[ast.AST]] = {}
        loads: list[ast.Name | ast.Attribute] = [
            *self.of_type(ast.Name),
            *self.of_type(ast.Attribute),
        ]
        for node in loads:
            if isinstance(node.ctx, ast.Load):
                sym = self.symbol(node)
                if sym is not None:
                    uses.setdefault(sym, []).append(node)
        return uses

    @cached_property
    def _classes(self) -> dict[int, ast.ClassDef]:
        return {id(c): c for c in self.of_type(ast.ClassDef)}

    def _has_foreign_base(self, cls: ast.ClassDef) -> bool:
        """A base that is not ``object`` and not a class defined (foreign-base-free) here."""
        local = {c.name: c for c in self.of_type(ast.ClassDef)}
        for base in cls.bases:
            name = dotted(base)
            if name == "object":
                continue
            if name in local and local[name] is not cls and not self._has_foreign_base(local[name]):
                continue
            return True
        return bool(cls.keywords)  # a metaclass may add behaviour too

    @cached_property
    def _attribute_loads(self) -> dict[str, list[ast.Attribute]]:
        loads: dict[str, list[ast.Attribute]] = {}
        for node in self.of_type(ast.Attribute):
            if isinstance(node.ctx, ast.Load):
                loads.setdefault(node.attr, []).append(node)
        return loads
