"""Config containers: dict literals, argparse options, dataclass fields."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from unified_prior.audit.claims import files
from unified_prior.audit.claims.keys import PARAM_CLAIM as JUDGED
from unified_prior.audit.claims.values import literal_value
from unified_prior.audit.model.catalog import CONFIG_CLASS, CONFIG_NAME
from unified_prior.audit.model.flows import Flow
from unified_prior.audit.model.objects import Objects
from unified_prior.audit.model.tree import Symbol, const_str, dotted, last_part, tokens

#: Words in a loader call that say it loads the run's configuration from a given path.
_CONFIG_HINTS = frozenset(
    {"config", "cfg", "conf", "config_path", "config_file", "yaml", "hparams"}
)


class Containers(Objects):
    """Find the containers that declare configuration keys."""

    def _containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        yield from self._dict_containers()
        yield from self._argparse_containers()
        yield from self._dataclass_containers()
        yield from self._file_containers()

    def _file_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        """YAML/JSON/TOML files the script loads (see :mod:`unified_prior.audit.claims.files`).

        A file loaded by a literal path claims all its keys. When a script loads its YAML from
        a path it is given (``--config``), the YAML files beside it claim only the keys the
        rules judge (schedule, accumulation, clipping): they may configure other scripts too.
        A file loaded several times is one container; if any load hands it away, it escapes.
        """
        loads = [
            c
            for c in self.calls
            if last_part(dotted(c.func)) in files.LOADERS and files.is_loader(c, self.qualified(c))
        ]
        if not loads or not self.is_script:
            return
        script = Path(self.path)
        opened = files.opened_names(self.tree)
        found: dict[Path, tuple[Flow, bool]] = {}
        for call in loads:
            names = files.literal_paths(call, dict(opened))
            paths = [p for p in (files.resolve(n, script, self.project_root) for n in names) if p]
            literal = bool(paths)
            if (
                not names
                and files.loads_yaml(self.qualified(call))
                and any(t in _CONFIG_HINTS for t in tokens(call))
            ):
                paths = files.beside(script)  # ``--config PATH``: the configs shipped with it
            if not paths:
                continue
            results = self._call_results(call, None)
            flow = self.flow(results)
            if not results:
                flow.escapes.append((call, "the loaded config is not kept in a name"))
            for path in paths:
                known = found.get(path)
                if known is not None:
                    known[0].escapes.extend(flow.escapes)
                    found[path] = (known[0], known[1] or literal)
                else:
                    found[path] = (flow, literal)
        for path, (flow, literal) in found.items():
            decls: list[tuple[str, ast.AST, Any, ast.AST | None]] = [
                (key, files.file_node(path, key, line, col), value, None)
                for key, value, line, col in files.leaf_keys(path)
                if literal or JUDGED.search(key)
            ]
            if decls:
                yield path.name, flow, decls, "file"

    def _dict_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        for node in self.of_type(ast.Assign):
            if len(node.targets) != 1:
                continue
            target = node.targets[0]
            name = dotted(target)
            decls = self._dict_literal_keys(node.value)
            if name is None or decls is None or not CONFIG_NAME.search(last_part(name)):
                continue
            flow = self.flow([self.symbol(target)])
            holder = self.parents.get(node)
            if isinstance(holder, ast.ClassDef):
                flow.escapes.append((node, "class attribute, read through instances"))
            elif holder is self.tree and not self.is_script:
                flow.escapes.append((node, "module global of a library module"))
            for update in flow.calls("update"):
                for arg in update.args:
                    decls.extend(self._dict_literal_keys(arg) or [])
                decls.extend(
                    (k.arg, k, literal_value(k.value), update) for k in update.keywords if k.arg
                )
            for use in flow.uses:
                parent = self.parents.get(use)
                if isinstance(parent, ast.Subscript) and parent.value is use:
                    key = const_str(parent.slice)
                    if isinstance(parent.ctx, ast.Store) and key is not None:
                        stmt = self.statement_of(parent)
                        value = stmt.value if isinstance(stmt, ast.Assign) else None
                        decls.append((key, parent.slice, literal_value(value), stmt))
                    elif key is None and isinstance(parent.ctx, ast.Load):
                        flow.escapes.append((use, "read with a computed key"))
                elif isinstance(parent, ast.Attribute) and parent.attr in {"get", "pop"}:
                    call = self.parents.get(parent)
                    if isinstance(call, ast.Call) and call.args and const_str(call.args[0]) is None:
                        flow.escapes.append((use, "read with a computed key"))
                elif isinstance(parent, ast.Attribute) and parent.attr in {
                    "items",
                    "keys",
                    "values",
                }:
                    call = self.parents.get(parent)
                    loop = self.parents.get(call) if call is not None else None
                    if not (isinstance(loop, ast.For) and self._only_logs(loop.body)):
                        flow.escapes.append((use, f".{parent.attr}()"))
            seen: set[str] = set()
            unique = []
            for decl in decls:
                if decl[0] not in seen:
                    seen.add(decl[0])
                    unique.append(decl)
            yield name, flow, unique, "dict"

    def _only_logs(self, body: list[ast.stmt]) -> bool:
        return all(
            isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and self.is_log_call(s.value)
            for s in body
        )

    def _dict_literal_keys(
        self, value: ast.AST
    ) -> list[tuple[str, ast.AST, Any, ast.AST | None]] | None:
        if isinstance(value, ast.Dict):
            out: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
            for node, item in zip(value.keys, value.values, strict=True):
                if node is None:
                    continue  # ``**other`` merges keys declared elsewhere
                key = const_str(node)
                if key is None:
                    return None  # a computed key: not a literal config
                out.append((key, node, literal_value(item), item))
            return out or None
        if (
            isinstance(value, ast.Call)
            and dotted(value.func) == "dict"
            and not value.args
            and value.keywords
        ):
            return [(k.arg, k, literal_value(k.value), k.value) for k in value.keywords if k.arg]
        return None

    def _argparse_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        decls: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
        for call in self.calls:
            if last_part(dotted(call.func)) != "add_argument" or not call.args:
                continue
            options = [const_str(a) for a in call.args]
            dest = next((const_str(k.value) for k in call.keywords if k.arg == "dest"), None)
            if dest is None:
                longs = [o for o in options if o and o.startswith("--")]
                first = longs[0] if longs else options[0]
                if first is None:
                    continue
                dest = first.lstrip("-").replace("-", "_")
            action = next((const_str(k.value) for k in call.keywords if k.arg == "action"), None)
            if action in {"version", "help"}:
                continue  # argparse acts on these itself; there is nothing to read
            default_node = next((k.value for k in call.keywords if k.arg == "default"), None)
            if default_node is not None:
                value = literal_value(default_node)
            else:
                value = {"store_true": False, "store_false": True}.get(action or "")
            decls.append((dest, call.args[0], value, call))
        if not decls:
            return
        seeds: list[Symbol | None] = []
        for call in self.calls:
            if last_part(dotted(call.func)) in {"parse_args", "parse_known_args"}:
                parent = self.parents.get(call)
                if isinstance(parent, ast.Assign):
                    target = parent.targets[0]
                    if isinstance(target, ast.Tuple) and target.elts:
                        seeds.append(self.symbol(target.elts[0]))
                    else:
                        seeds.append(self.symbol(target))
                elif isinstance(parent, ast.Return):
                    flow = Flow()
                    seeds.extend(self._returned(call, parent, flow))
                    if flow.escapes:
                        seeds.append(None)
                else:
                    seeds.append(None)
        flow = self.flow(s for s in seeds if s is not None)
        if None in seeds or not seeds:
            flow.escapes.append((self.tree, "the parsed arguments are not kept in a name"))
        yield "args", flow, decls, "argparse"

    def _dataclass_containers(
        self,
    ) -> Iterator[tuple[str, Flow, list[tuple[str, ast.AST, Any, ast.AST | None]], str]]:
        for cls in self.of_type(ast.ClassDef):
            if not CONFIG_CLASS.search(cls.name):
                continue
            is_dataclass = any(
                "dataclass" in (dotted(d.func if isinstance(d, ast.Call) else d) or "")
                for d in cls.decorator_list
            )
            is_model = any(last_part(dotted(b)) in {"BaseModel", "BaseSettings"} for b in cls.bases)
            if not (is_dataclass or is_model):
                continue
            decls: list[tuple[str, ast.AST, Any, ast.AST | None]] = []
            for stmt in cls.body:
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    value: Any = literal_value(stmt.value) if stmt.value is not None else ...
                    if isinstance(stmt.value, ast.Call) and last_part(dotted(stmt.value.func)) in {
                        "field",
                        "Field",
                    }:
                        default = next(
                            (k.value for k in stmt.value.keywords if k.arg == "default"), None
                        )
                        value = literal_value(default) if default is not None else ...
                    decls.append((stmt.target.id, stmt.target, value, stmt))
            if not decls:
                continue
            seeds: list[Symbol | None] = []
            flow = Flow()
            instantiated = False
            for node in [*self.of_type(ast.Name), *self.of_type(ast.arg)]:
                if (
                    isinstance(node, ast.Name)
                    and node.id == cls.name
                    and isinstance(node.ctx, ast.Load)
                ):
                    parent = self.parents.get(node)
                    if isinstance(parent, ast.Call) and parent.func is node:
                        instantiated = True
                        seeds.extend(self._call_results(parent, None))
                        grand = self.parents.get(parent)
                        if not isinstance(grand, ast.Assign | ast.AnnAssign):
                            passed = self._passed_to_local_function(parent)
                            if passed is not None:
                                seeds.append(passed)  # ``main(TrainConfig())``
                            else:
                                flow.escapes.append((parent, "instance not kept in a name"))
                    elif isinstance(parent, ast.arg):
                        continue
                    else:
                        flow.escapes.append((node, "class handed to other code"))
                elif isinstance(node, ast.arg) and dotted(node.annotation) == cls.name:
                    owner = self.parents.get(self.parents[node])
                    if owner is not None:
                        seeds.append((id(owner), node.arg))
            if not instantiated:
                # Built by code we cannot see (a library's config type): its readers are there.
                flow.escapes.append((cls, "never instantiated in this file"))
            inner = self.flow(s for s in seeds if s is not None)
            inner.escapes.extend(flow.escapes)
            yield cls.name, inner, decls, "dataclass"
