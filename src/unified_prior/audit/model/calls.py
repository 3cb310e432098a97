"""Calls: which function of this file (or project) a call reaches, which parameter receives
an argument, what a call returns into, and which calls only log."""

from __future__ import annotations

import ast
import builtins
from functools import cached_property

from unified_prior.audit.model.catalog import (
    FRAMEWORK_PACKAGES,
    FRAMEWORK_TRAINERS,
    LOG_BASE_PARTS,
    LOG_BASES,
    LOG_FUNCS,
    LOG_METHODS,
    STORE_SINKS,
)
from unified_prior.audit.model.symbols import Symbols
from unified_prior.audit.model.tree import Symbol, const_str, dotted, index_of, last_part

BUILTIN_NAMES = frozenset(dir(builtins))


class Calls(Symbols):
    """Call resolution within one file."""

    @cached_property
    def _call_sites(self) -> dict[int, list[ast.Call]]:
        sites: dict[int, list[ast.Call]] = {}
        for call in self.calls:
            func = self.function_def(call)
            if func is not None:
                sites.setdefault(id(func), []).append(call)
        return sites

    def function_def(self, call: ast.Call) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
        """The function defined in this file that ``call`` runs, when that is clear: a plain
        function, ``self.method()``, ``instance.method()`` for an instance of a class defined
        here (through local bases too), or ``LocalClass(...)`` (its ``__init__``)."""
        func = call.func
        if isinstance(func, ast.Name):
            cls = self.local_classes.get(func.id)
            if cls is not None:
                return self.method_of(cls, "__init__")
            named = self._functions_by_name.get(func.id, [])
            candidates = [f for f in named if self.class_of(f) is None]
        elif isinstance(func, ast.Attribute) and dotted(func.value) in {"self", "cls"}:
            owner = self.class_of(call)
            if owner is None:
                return None
            return self.method_of(owner, func.attr)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name | ast.Attribute):
            sym = self.symbol(func.value)
            instance = self.instances.get(sym) if sym is not None else None
            if instance is None:
                return None
            return self.method_of(instance, func.attr)
        else:
            return None
        return candidates[0] if len(candidates) == 1 else None

    def call_sites(self, func: ast.AST) -> list[ast.Call]:
        return self._call_sites.get(id(func), [])

    def param_for(self, func: ast.AST, call: ast.Call, arg: ast.AST) -> str | None:
        """The parameter of ``func`` that receives ``arg`` in ``call``."""
        assert isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef)
        params = [a.arg for a in [*func.args.posonlyargs, *func.args.args]]
        bound = isinstance(call.func, ast.Attribute) or func.name == "__init__"
        is_static = any(dotted(d) == "staticmethod" for d in func.decorator_list)
        if params and bound and not is_static and self.class_of(func) is not None:
            params = params[1:]  # ``self``/``cls`` is bound by the call
        for i, a in enumerate(call.args):
            if a is arg:
                return params[i] if i < len(params) else None
        for kw in call.keywords:
            if kw.value is arg and kw.arg:
                return kw.arg
        return None

    def _call_results(self, call: ast.Call, arg: ast.AST | None) -> list[Symbol | None]:
        """Targets of ``x = f(...)``; for ``a, b = prepare(x, y)`` the one matching ``arg``."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.AnnAssign) and parent.value is call:
            return [self.symbol(parent.target)]
        if not isinstance(parent, ast.Assign) or parent.value is not call:
            return []
        out: list[Symbol | None] = []
        for target in parent.targets:
            if isinstance(target, ast.Tuple | ast.List):
                index = index_of(call.args, arg)
                if index is not None and len(target.elts) == len(call.args):
                    out.append(self.symbol(target.elts[index]))
            else:
                out.append(self.symbol(target))
        return out

    def _passed_to_local_function(self, node: ast.AST) -> Symbol | None:
        """The parameter that receives ``node`` when it is an argument of a call to a function
        defined in this file; None when the callee or the parameter is unclear."""
        parent = self.parents.get(node)
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if not isinstance(parent, ast.Call) or parent.func is node:
            return None
        func = self.function_def(parent)
        if func is None:
            return None
        param = self.param_for(func, parent, node)
        return (id(func), param) if param is not None else None

    def is_log_call(self, call: ast.Call) -> bool:
        name = dotted(call.func) or ""
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Constant):
            return call.func.attr == "format"  # "...".format(x) only builds text
        if name in LOG_FUNCS or self.qualified(call) in STORE_SINKS:
            return True
        base, _, method = name.rpartition(".")
        if method in LOG_METHODS and base:
            parts = base.lower().split(".")
            if any(any(t in p for t in LOG_BASE_PARTS) for p in parts) or parts[-1] in LOG_BASES:
                return True
        return name.startswith(("logging.", "logger.", "log.", "wandb.", "mlflow."))

    def inside_log_call(self, node: ast.AST) -> bool:
        cur = node
        while not isinstance(cur, ast.stmt):
            parent = self.parents[cur]
            if isinstance(parent, ast.JoinedStr):
                return True
            if isinstance(parent, ast.Call) and cur is not parent.func and self.is_log_call(parent):
                return True
            if (
                isinstance(parent, ast.BinOp)
                and isinstance(parent.op, ast.Mod)
                and const_str(parent.left) is not None
            ):
                return True
            cur = parent
        return False

    @cached_property
    def frameworks(self) -> set[str]:
        return self._frameworks()

    def _frameworks(self) -> set[str]:
        """Training frameworks that step schedulers / accumulate / clip on the user's behalf.

        Only the frameworks' own classes count: a project class that happens to be called
        ``VLATrainer`` is code we can read, not HF's ``Trainer``. A ``LightningModule`` with
        ``automatic_optimization = False`` leaves stepping to the module, so it is judged."""
        found: set[str] = set()
        for call in self.calls:
            name = last_part(dotted(call.func))
            qual = self.qualified(call)
            trainer = name.endswith("Trainer") and qual.startswith(FRAMEWORK_PACKAGES)
            if trainer or (name in FRAMEWORK_TRAINERS and name not in self.local_classes):
                found.add("trainer")
            if qual == "deepspeed.initialize":
                found.add("deepspeed")
            if name == "accumulate" or name == "no_sync":
                found.add("accumulate")
        for node in self.of_type(ast.ClassDef):
            lightning = any("LightningModule" in (dotted(b) or "") for b in node.bases)
            if lightning and not self._manual_optimization(node):
                found.add("lightning")
        return found

    def handed_to_framework(self, call: ast.Call) -> bool:
        """A call into a framework that applies what it is given (HF ``Trainer``/
        ``TrainingArguments``, ``accelerate.prepare``, timm/transformers scheduler factories),
        or into code we cannot see (another package): either may apply the value."""
        qual = self.qualified(call)
        name = last_part(qual)
        if name in FRAMEWORK_TRAINERS or qual.startswith(FRAMEWORK_PACKAGES) or name == "prepare":
            return True
        head = qual.split(".", 1)[0]
        return head not in {"torch", "math", "np", "numpy", "", *BUILTIN_NAMES}

    def _manual_optimization(self, owner: ast.ClassDef) -> bool:
        """The Lightning module sets ``automatic_optimization = False`` somewhere."""
        for node in ast.walk(owner):
            targets: list[ast.expr] = []
            value: ast.expr | None = None
            if isinstance(node, ast.Assign):
                targets, value = list(node.targets), node.value
            elif isinstance(node, ast.AnnAssign):
                targets, value = [node.target], node.value
            if (
                any(last_part(dotted(t)) == "automatic_optimization" for t in targets)
                and isinstance(value, ast.Constant)
                and value.value is False
            ):
                return True
        return False
