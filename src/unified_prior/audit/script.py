"""Everything the rules ask about one script: config keys and how each read of them is used."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from functools import cached_property

from unified_prior.audit.claims.containers import Containers
from unified_prior.audit.claims.keys import PARAM_CLAIM, ConfigKey, KeyRead
from unified_prior.audit.claims.values import literal_value
from unified_prior.audit.model.catalog import DATA_KEYWORDS, STORE_SINKS, TRANSPARENT
from unified_prior.audit.model.tree import Symbol, dotted, last_part

#: How a read of a claimed value is used, strongest first: *applied* (reaches code that
#: acts on it), *handed* (given to a framework or code we cannot see, which may apply it:
#: judgement suspended), *log* (printed, logged, a metric), *stored* (a checkpoint, a dump),
#: *dead* (bound to names nobody reads). Logging or storing is never applying.
READ_KINDS = ("applied", "handed", "log", "stored", "dead")


def strongest(kinds: set[str]) -> str:
    return next((k for k in READ_KINDS if k in kinds), "dead")


class ScriptFacts(Containers):
    """The model of one script plus its configuration claims (what the rules read)."""

    def __init__(self, path: str, source: str, tree: ast.Module) -> None:
        super().__init__(path, source, tree)
        self._kind_cache: dict[Symbol, str] = {}
        self._kind_active: set[Symbol] = set()
        self._cycle_hits = 0
        self._kind_budget = 50_000  # bounds tracing time on generated, densely aliased code

    @cached_property
    def config_keys(self) -> list[ConfigKey]:
        return self._config_keys()

    # ----------------------------------------------------------------- config keys
    def _config_keys(self) -> list[ConfigKey]:
        keys: list[ConfigKey] = []
        declared_nodes: set[int] = set()
        for container_name, flow, decls, source in self._containers():
            escaped = bool(flow.escapes) or any(
                self.instance_escapes(owner)
                for owner in (
                    self._classes.get(sym[0]) for sym in flow.symbols if sym[1].startswith("self.")
                )
                if owner is not None
            )
            for key, node, value, declared_in in decls:
                declared_nodes.add(id(node))
                keys.append(
                    ConfigKey(
                        key=key,
                        node=node,
                        value=value,
                        container=container_name,
                        source=source,
                        escaped=escaped,
                        declared_in=declared_in,
                    )
                )
        by_key: dict[str, list[ConfigKey]] = {}
        for ck in keys:
            by_key.setdefault(ck.key, []).append(ck)
        keys.extend(self._parameter_keys())
        if not by_key:
            return keys
        for node, key in self._key_mentions(declared_nodes):
            twins = by_key.get(key, [])
            # ``"k": other.get("k", d)`` copies a value into a config; it applies nothing, for
            # this key nor for its twin in another dict (a GPU dict and a conservative dict
            # that declare the same keys from the same ``config_kwargs``).
            copied = [
                ck.declared_in
                for ck in twins
                if ck.source == "dict"
                and ck.declared_in is not None
                and not self._is_update_call(ck.declared_in)
                and self._within(node, ck.declared_in)
            ]
            for ck in twins:
                if copied or (ck.declared_in is not None and self._within(node, ck.declared_in)):
                    continue
                ck.reads.append(KeyRead(node=node, kind=self.read_kind(node)))
        for ck in keys:
            ck.reads.sort(key=lambda r: self.pos(r.node))
        return keys

    def _parameter_keys(self) -> list[ConfigKey]:
        """Training settings claimed as a function parameter's default
        (``def train(..., grad_accum_steps=4, max_grad_norm=1.0)``): read where the parameter
        is used, not by key name."""
        out: list[ConfigKey] = []
        for func in self.functions:
            args = func.args
            positional = [*args.posonlyargs, *args.args]
            defaulted = positional[len(positional) - len(args.defaults) :]
            pairs = list(zip(defaulted, args.defaults, strict=True))
            pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d]
            for arg, default in pairs:
                if not PARAM_CLAIM.search(arg.arg):
                    continue
                ck = ConfigKey(
                    key=arg.arg,
                    node=arg,
                    value=literal_value(default),
                    container=f"{func.name}()",
                    source="param",
                    escaped=False,
                    declared_in=func,
                )
                for use in self._uses.get((id(func), arg.arg), []):
                    ck.reads.append(KeyRead(node=use, kind=self.read_kind(use)))
                out.append(ck)
        return out

    @staticmethod
    def _is_update_call(node: ast.AST) -> bool:
        return isinstance(node, ast.Call) and last_part(dotted(node.func)) == "update"

    def _key_mentions(self, declared: set[int]) -> Iterator[tuple[ast.AST, str]]:
        for node in [*self.of_type(ast.Attribute), *self.of_type(ast.Constant)]:
            if id(node) in declared:
                continue
            if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
                yield node, node.attr
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                parent = self.parents.get(node)
                if isinstance(parent, ast.Dict) and node in parent.keys:
                    continue  # a label in another dict (metrics, a payload), not a read
                if isinstance(parent, ast.Expr):
                    continue  # docstring
                if isinstance(parent, ast.Subscript) and not isinstance(parent.ctx, ast.Load):
                    continue
                if (
                    isinstance(parent, ast.Call)
                    and last_part(dotted(parent.func)) == "add_argument"
                ):
                    continue
                yield node, node.value

    def read_kind(self, node: ast.AST, depth: int = 0) -> str:
        """``applied`` / ``log`` / ``dead`` for one read of a config value (see module doc)."""
        cur = node
        while True:
            parent = self.parents.get(cur)
            if parent is None:
                return "applied"
            # Text built from the value (f-string, ``%``) carries it on: where the text goes
            # decides (``print`` is a log; ``[f"train.max_steps={n}"]`` handed to a loader is not).
            if isinstance(parent, ast.keyword):
                call = self.parents[parent]
                assert isinstance(call, ast.Call)
                if parent.arg not in DATA_KEYWORDS and self.is_log_call(call):
                    return "applied"  # ``print(..., file=cfg["out"])`` configures the call
                return self._argument_kind(cur, call, depth)
            if isinstance(parent, ast.Call):
                if parent.func is cur:
                    cur = parent  # cfg["k"].lower()
                    continue
                return self._argument_kind(cur, parent, depth)
            if isinstance(parent, ast.IfExp) and parent.test is cur:
                return "applied"
            if isinstance(parent, ast.comprehension | ast.Lambda):
                return "applied"
            if isinstance(parent, ast.stmt):
                return self._statement_kind(cur, parent, depth)
            cur = parent

    def _argument_kind(self, arg: ast.AST, call: ast.Call, depth: int) -> str:
        if isinstance(call.func, ast.Attribute) and isinstance(call.func.value, ast.Constant):
            return self.read_kind(call, depth)  # ``"lr={}".format(x)``: text, followed on
        qual = self.qualified(call)
        if qual in STORE_SINKS:
            return "stored"  # a checkpoint or a dump keeps the value; it applies nothing
        if self.is_log_call(call):
            return "log"
        name = dotted(call.func) or ""
        if name in TRANSPARENT or last_part(name) in {"get", "pop", "setdefault"}:
            return self.read_kind(call, depth)
        func = self.function_def(call)
        if func is not None:
            param = self.param_for(func, call, arg)
            if param is not None:
                return self._derived_kind([(id(func), param)], depth)
        if self.handed_to_framework(call):
            return "handed"
        return "applied"

    def _statement_kind(self, cur: ast.AST, stmt: ast.stmt, depth: int) -> str:
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign) and stmt.value is cur:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            syms: list[Symbol] = []
            for target in targets:
                if isinstance(target, ast.Subscript | ast.Starred):
                    return "applied"
                syms.extend(s for s in self.target_symbols(target) if s is not None)
            return self._derived_kind(syms, depth)
        if isinstance(stmt, ast.Expr) and stmt.value is cur:
            # ``handlers.get(cfg["k"])()`` runs something; a bare ``cfg["k"]`` does nothing.
            return "applied" if isinstance(cur, ast.Call) else "dead"
        return "applied"

    def _derived_kind(self, syms: list[Symbol], depth: int) -> str:
        return strongest({self._symbol_kind(sym, depth) for sym in syms})

    def _symbol_kind(self, sym: Symbol, depth: int) -> str:
        """How the value held by ``sym`` is used, memoised: a value copied through many
        names would otherwise be re-traced once per path (exponential in generated code)."""
        self._kind_budget -= 1
        if depth > 6 or self._kind_budget < 0:
            return "applied"  # too far (or too much) to follow: assume it is used
        cached = self._kind_cache.get(sym)
        if cached is not None:
            return cached
        if sym in self._kind_active:
            self._cycle_hits += 1
            return "dead"  # a cycle (``x = x + cfg["k"]``) adds no new use
        self._kind_active.add(sym)
        hits = self._cycle_hits
        kinds = {self.read_kind(use, depth + 1) for use in self._uses.get(sym, [])}
        self._kind_active.discard(sym)
        # A result that leaned on an unfinished symbol of a cycle is provisional: not cached.
        provisional = self._cycle_hits != hits
        if kinds - {"dead"}:
            kind = strongest(kinds)
        elif sym[0] == id(self.tree) or "." in sym[1]:
            kind = "applied"  # a module global or an attribute may be read in other files
        else:
            kind = "dead"
        if not provisional:
            self._kind_cache[sym] = kind
        return kind

    def keys_matching(self, pattern: re.Pattern[str]) -> list[ConfigKey]:
        return [k for k in self.config_keys if pattern.search(k.key)]
