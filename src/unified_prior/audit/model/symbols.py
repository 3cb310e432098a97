"""Names: which variable a name or ``self.attr`` chain denotes, imports, and every load of
each variable."""

from __future__ import annotations

import ast
from functools import cached_property

from unified_prior.audit.model.catalog import INERT_BASES
from unified_prior.audit.model.tree import FUNC_TYPES, Symbol, Tree, dotted, last_part


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
        """The called name with import aliases expanded: ``optim.AdamW`` → ``torch.optim.AdamW``;
        ``optimizer_cls = torch.optim.AdamW`` and ``make = partial(torch.optim.AdamW, ...)``
        make ``optimizer_cls(...)`` / ``make(...)`` a call of ``torch.optim.AdamW``."""
        name = dotted(call.func) or ""
        if isinstance(call.func, ast.Name) and call.func.id in self._alias_names:
            alias = self.aliases.get(self.symbol(call.func) or (0, ""))
            if alias is not None:
                name = alias
        head, _, rest = name.partition(".")
        if head in self.imports:
            return self.imports[head] + (f".{rest}" if rest else "")
        return name

    @cached_property
    def _alias_names(self) -> frozenset[str]:
        """Names bound somewhere to a dotted name or a ``partial``: the only possible aliases
        (checked first, so most calls skip the symbol look-up)."""
        return frozenset(
            node.targets[0].id
            for node in self.of_type(ast.Assign)
            if len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and (
                isinstance(node.value, ast.Name | ast.Attribute)
                or (
                    isinstance(node.value, ast.Call)
                    and last_part(dotted(node.value.func)) == "partial"
                )
            )
        )

    @cached_property
    def aliases(self) -> dict[Symbol, str]:
        """Names bound once to another callable's dotted name (``cls = torch.optim.AdamW``)
        or to ``functools.partial`` of one. A name bound twice is left out."""
        seen: dict[Symbol, str | None] = {}
        for node in self.of_type(ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                continue
            if node.targets[0].id not in self._alias_names:
                continue
            value = node.value
            if isinstance(value, ast.Call) and last_part(dotted(value.func)) == "partial":
                value = value.args[0] if value.args else value
            target = dotted(value) if isinstance(value, ast.Name | ast.Attribute) else None
            sym = self.symbol(node.targets[0])
            if sym is not None:
                seen[sym] = target if sym not in seen else None
        return {sym: name for sym, name in seen.items() if name}

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

    @cached_property
    def local_classes(self) -> dict[str, ast.ClassDef]:
        """Classes defined at any level of this file, by name (the last one wins)."""
        return {c.name: c for c in self.of_type(ast.ClassDef)}

    @cached_property
    def instances(self) -> dict[Symbol, ast.ClassDef]:
        """Variables that hold an instance of a class defined here: ``mgr = Manager(...)``,
        ``self.mgr = Manager(...)``, a parameter annotated ``mgr: Manager``. A variable bound
        to two different classes is left out (we would not know which method runs)."""
        found: dict[Symbol, ast.ClassDef | None] = {}

        def bind(sym: Symbol | None, cls: ast.ClassDef | None) -> None:
            if sym is None or cls is None:
                return
            found[sym] = cls if found.get(sym, cls) is cls else None

        binds: list[ast.Assign | ast.AnnAssign] = [
            *self.of_type(ast.Assign),
            *self.of_type(ast.AnnAssign),
        ]
        for node in binds:
            value = node.value
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
                cls = self.local_classes.get(value.func.id)
                for target in targets:
                    if isinstance(target, ast.Name | ast.Attribute):
                        bind(self.symbol(target), cls)
            if isinstance(node, ast.AnnAssign):
                bind(
                    self.symbol(node.target), self.local_classes.get(dotted(node.annotation) or "")
                )
        for arg in self.of_type(ast.arg):
            cls = self.local_classes.get(dotted(arg.annotation) or "")
            func = self.parents.get(self.parents.get(arg, arg))
            if cls is not None and func is not None:
                bind((id(func), arg.arg), cls)
        return {sym: cls for sym, cls in found.items() if cls is not None}

    def method_of(
        self, cls: ast.ClassDef, name: str, depth: int = 0
    ) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The method ``name`` of a class defined here, looked up through bases defined here."""
        for stmt in cls.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and stmt.name == name:
                return stmt
        if depth > 20:
            return None  # a (broken) cycle of bases
        for base in cls.bases:
            parent = self.local_classes.get(dotted(base) or "")
            if parent is not None and parent is not cls:
                found = self.method_of(parent, name, depth + 1)
                if found is not None:
                    return found
        return None

    def _has_foreign_base(self, cls: ast.ClassDef) -> bool:
        """A base that is not ``object``, not a class defined (foreign-base-free) here, and
        not one of the library bases known not to read the subclass's own attributes."""
        local = self.local_classes
        for base in cls.bases:
            name = dotted(base)
            if name == "object" or last_part(name) in INERT_BASES:
                continue
            if name in local and local[name] is not cls and not self._has_foreign_base(local[name]):
                continue
            return True
        return bool(cls.keywords)  # a metaclass may add behaviour too

    def _base_may_read(self, cls: ast.ClassDef, attr: str) -> bool:
        """Some base of ``cls`` defined elsewhere may read ``self.<attr>``. A base in another
        module of the audited project is read: it may only when it names the attribute (or
        hands ``self`` itself away, or has such a base of its own)."""
        local = self.local_classes
        for base in cls.bases:
            name = dotted(base) or ""
            if name == "object" or last_part(name) in INERT_BASES:
                continue
            if name in local and local[name] is not cls and not self._has_foreign_base(local[name]):
                continue
            if name not in local and self.project is not None:
                head, _, rest = name.partition(".")
                qual = (
                    self.imports[head] + (f".{rest}" if rest else "")
                    if head in self.imports
                    else name
                )
                if not self.project.class_may_read(qual, attr):
                    continue
            return True
        return bool(cls.keywords)  # a metaclass may add behaviour too

    @cached_property
    def _attribute_loads(self) -> dict[str, list[ast.Attribute]]:
        """Loads of ``x.attr`` by attribute name, less paths into an imported module:
        ``torch.optim.lr_scheduler.StepLR`` is no read of anyone's ``.lr_scheduler``."""
        # A module name also bound as a variable somewhere (``model = Net()``) is not trusted.
        rebound = {n.id for n in self.of_type(ast.Name) if not isinstance(n.ctx, ast.Load)}
        rebound |= {a.arg for a in self.of_type(ast.arg)}
        modules = {
            (alias.asname or alias.name).split(".", 1)[0]
            for node in self.of_type(ast.Import)
            for alias in node.names
        } - rebound
        loads: dict[str, list[ast.Attribute]] = {}
        for node in self.of_type(ast.Attribute):
            if isinstance(node.ctx, ast.Load):
                head = (dotted(node.value) or "").split(".", 1)[0]
                if head in modules:
                    continue
                loads.setdefault(node.attr, []).append(node)
        return loads
