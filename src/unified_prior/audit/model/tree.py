"""The parsed tree, indexed once: parent links, nodes by type, scopes, and the loops,
branches and ``with`` blocks around any node."""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar, cast

if TYPE_CHECKING:
    from unified_prior.audit.model.wrappers import IdleWrapper, SchedulerWrapper
    from unified_prior.audit.script import ScriptFacts

NodeT = TypeVar("NodeT", bound=ast.AST)

#: (id of the scope node, dotted name): ``(id(fn), "scheduler")``, ``(id(cls), "self.opt")``.
Symbol = tuple[int, str]

LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)

FUNC_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def dotted(node: ast.AST | None) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def index_of(items: Sequence[ast.AST], node: ast.AST | None) -> int | None:
    """Position of ``node`` in ``items`` by identity (AST nodes compare by identity anyway)."""
    return next((i for i, item in enumerate(items) if item is node), None)


def last_part(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1]


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def tokens(node: ast.AST) -> set[str]:
    """Lower-cased identifiers, attribute names and string subscripts inside ``node``."""
    out: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            out.add(sub.id.lower())
        elif isinstance(sub, ast.Attribute):
            out.add(sub.attr.lower())
        elif isinstance(sub, ast.Subscript) and (key := const_str(sub.slice)):
            out.add(key.lower())
        elif isinstance(sub, ast.keyword) and sub.arg:
            out.add(sub.arg.lower())
    return out


class ProjectView(Protocol):
    """What a file's model may ask of the project around it."""

    def scheduler_factory(self, qualified: str) -> tuple[str, str] | None: ...

    def class_may_read(self, qualified: str, attr: str) -> bool: ...

    def checkpoint_helper(self, qualified: str) -> tuple[ScriptFacts, ast.Call] | None: ...

    def idle_wrapper(self, qualified: str) -> IdleWrapper | None: ...

    def scheduler_wrapper(self, qualified: str) -> SchedulerWrapper | None: ...


@dataclass
class Control:
    """The loops and ``if`` branches around a node, outermost first, within its function."""

    scope: ast.AST
    loops: tuple[ast.AST, ...]
    branches: tuple[tuple[ast.If, str], ...]
    withs: tuple[ast.AST, ...]


class Tree:
    """One parsed file: navigation only, no meaning."""

    def __init__(self, path: str, source: str, tree: ast.Module) -> None:
        self.path = path
        self.source = source
        self.tree = tree
        #: The folder audited as one project (set by :class:`~unified_prior.audit.project.Project`).
        self.project_root: Path | None = None
        self.project: ProjectView | None = None
        # One pass over the tree (``ast.walk`` order) builds the parent links and an index of
        # nodes by type; everything else reads the index instead of walking again. The
        # analyses below are computed on first use, so a file without optimizers, schedulers
        # or config containers costs little more than its parse.
        self.parents: dict[ast.AST, ast.AST] = {}
        self._by_type: dict[type, list[ast.AST]] = {}
        todo: list[ast.AST] = [tree]
        i = 0
        while i < len(todo):
            node = todo[i]
            i += 1
            self._by_type.setdefault(type(node), []).append(node)
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
                todo.append(child)
        self.functions: list[ast.FunctionDef | ast.AsyncFunctionDef] = [
            *self.of_type(ast.FunctionDef),
            *self.of_type(ast.AsyncFunctionDef),
        ]
        self._functions_by_name: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for fn in self.functions:
            self._functions_by_name.setdefault(fn.name, []).append(fn)
        self.calls: list[ast.Call] = self.of_type(ast.Call)

    def of_type(self, cls: type[NodeT]) -> list[NodeT]:
        """Every node of exactly this type, in ``ast.walk`` order."""
        return cast("list[NodeT]", self._by_type.get(cls, []))

    def scope_of(self, node: ast.AST) -> ast.AST:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, FUNC_TYPES):
            cur = self.parents.get(cur)
        return cur if cur is not None else self.tree

    def class_of(self, node: ast.AST) -> ast.ClassDef | None:
        cur = self.parents.get(node)
        while cur is not None and not isinstance(cur, ast.ClassDef):
            cur = self.parents.get(cur)
        return cur

    def control(self, node: ast.AST) -> Control:
        loops: list[ast.AST] = []
        branches: list[tuple[ast.If, str]] = []
        withs: list[ast.AST] = []
        child, cur = node, self.parents.get(node)
        while cur is not None and not isinstance(cur, (*FUNC_TYPES, ast.ClassDef)):
            if isinstance(cur, LOOP_TYPES) and child in cur.body:
                loops.append(cur)
            elif isinstance(cur, ast.If):
                if child in cur.body:
                    branches.append((cur, "body"))
                elif child in cur.orelse:
                    branches.append((cur, "orelse"))
            elif isinstance(cur, ast.With | ast.AsyncWith) and child in cur.body:
                withs.append(cur)
            child, cur = cur, self.parents.get(cur)
        return Control(
            scope=self.scope_of(node),
            loops=tuple(reversed(loops)),
            branches=tuple(reversed(branches)),
            withs=tuple(reversed(withs)),
        )

    def statement_of(self, node: ast.AST) -> ast.stmt:
        cur = node
        while not isinstance(cur, ast.stmt):
            cur = self.parents[cur]
        return cur

    def pos(self, node: ast.AST) -> tuple[int, int]:
        """(line, 1-based col) of a node."""
        return (getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1)

    def text(self, node: ast.AST, limit: int = 60) -> str:
        seg = ast.get_source_segment(self.source, node) or ast.unparse(node)
        seg = " ".join(seg.split())
        return seg if len(seg) <= limit else seg[: limit - 1] + "…"

    def related(self, *nodes: ast.AST | None) -> tuple[tuple[int, int], ...]:
        return tuple(self.pos(n) for n in nodes if n is not None)

    def _within(self, node: ast.AST, outer: ast.AST) -> bool:
        cur: ast.AST | None = node
        while cur is not None:
            if cur is outer:
                return True
            cur = self.parents.get(cur)
        return False
