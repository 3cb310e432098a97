"""Scheduler wrappers built by a project factory in another module.

StyleTTS2's ``build_optimizer(...)`` (optimizers.py) builds one OneCycleLR per sub-model and
returns ``MultiOptimizer(optim, schedulers)``; the class keeps them as ``self.schedulers``, its
``step()`` steps only the optimizers, and the one method that steps the schedulers
(``scheduler()``) is called nowhere. The script sees only ``optimizer = build_optimizer(...)``
and ``optimizer.step('msd')``: no scheduler object is visible to it, so the per-file model
finds nothing to judge. This module answers the one question SCH002 needs: does a call of a
project function return an instance of a project class that holds schedulers whose every
stepping method is never named anywhere in the project? And, for CKP001: which project
class builds and steps schedulers of its own, so that a checkpoint leaving them out loses
the schedule (nerfstudio's ``Optimizers``)?
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unified_prior.audit.project import Project
    from unified_prior.audit.script import ScriptFacts


@dataclass(frozen=True)
class IdleWrapper:
    """A project class instance holding schedulers in ``self.<attr>`` that only the never
    called ``methods`` would step."""

    cls: str
    attr: str
    methods: tuple[str, ...]
    factory: str


def idle_wrapper(project: Project, qualified: str) -> IdleWrapper | None:
    """The wrapper the project function ``qualified`` returns, when its schedulers are never
    stepped; None when it is not such a factory or any stepping method is named somewhere."""
    found = project.definition(qualified)
    if found is None:
        return None
    facts, func = found
    if not isinstance(func, ast.FunctionDef):
        return None
    for ret in ast.walk(func):
        if not (isinstance(ret, ast.Return) and isinstance(ret.value, ast.Call | ast.Name)):
            continue
        if facts.scope_of(ret) is not func:
            continue
        built = _constructed(func, ret.value)
        if built is None or not isinstance(built.func, ast.Name):
            continue
        cls = facts.local_classes.get(built.func.id)
        if cls is None or cls.bases:
            continue  # a base defined elsewhere may step them
        for attr, arg in _stored_arguments(cls, built):
            if not _holds_schedulers(facts, func, arg):
                continue
            methods = _stepping_methods(cls, attr)
            if not methods or any(_named(project, m) for m in methods):
                continue
            return IdleWrapper(cls.name, attr, tuple(methods), func.name)
    return None


def _constructed(func: ast.FunctionDef, value: ast.Call | ast.Name) -> ast.Call | None:
    """``return Cls(...)`` or ``x = Cls(...); return x`` (one assignment of ``x``)."""
    if isinstance(value, ast.Call):
        return value
    bound = [
        s.value
        for s in ast.walk(func)
        if isinstance(s, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == value.id for t in s.targets)
    ]
    return bound[0] if len(bound) == 1 and isinstance(bound[0], ast.Call) else None


def _stored_arguments(cls: ast.ClassDef, call: ast.Call) -> list[tuple[str, ast.expr]]:
    """(attribute, argument) for each ``__init__`` parameter kept as ``self.<attribute> =
    parameter`` and given by ``call``."""
    init = next(
        (s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None
    )
    if init is None:
        return []
    params = [a.arg for a in init.args.args[1:]]
    given: dict[str, ast.expr] = dict(zip(params, call.args, strict=False))
    given.update({k.arg: k.value for k in call.keywords if k.arg is not None})
    out = []
    for stmt in ast.walk(init):
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Name)):
            continue
        for target in stmt.targets:
            attr = _self_attr(target)
            if attr is not None and stmt.value.id in given:
                out.append((attr, given[stmt.value.id]))
    return out


def _self_attr(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "self"
    ):
        return node.attr
    return None


def _holds_schedulers(facts: ScriptFacts, func: ast.FunctionDef, arg: ast.expr) -> bool:
    """Whether ``arg`` (or the one value bound to it in ``func``) builds LR schedulers: a
    call that constructs one, or a call of a function of the same module that returns one."""
    values: list[ast.AST] = [arg]
    if isinstance(arg, ast.Name):
        values = [
            s.value
            for s in ast.walk(func)
            if isinstance(s, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == arg.id for t in s.targets)
        ]
        if len(values) != 1:
            return False
    for node in ast.walk(values[0]):
        if not isinstance(node, ast.Call):
            continue
        if facts.constructs_scheduler(node):
            return True
        name = node.func.id if isinstance(node.func, ast.Name) else None
        for stmt in facts.tree.body:
            local = isinstance(stmt, ast.FunctionDef) and stmt.name == name
            if local and facts.returned_scheduler(stmt) is not None:
                return True
    return False


def _stepping_methods(cls: ast.ClassDef, attr: str) -> list[str]:
    """Methods of ``cls`` that call ``step`` on ``self.<attr>``'s items: ``self.attr[k].step()``
    or a loop/comprehension over ``self.attr`` (``.values()``, ``.items()``) whose target is
    stepped."""
    out = []
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef) or method.name == "__init__":
            continue
        loop_names: set[str] = set()
        for node in ast.walk(method):
            if isinstance(node, ast.For | ast.comprehension) and _reads(node.iter, attr):
                loop_names |= {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        for node in ast.walk(method):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "step"
            ):
                continue
            receiver = node.func.value
            while isinstance(receiver, ast.Subscript):
                receiver = receiver.value
            if _self_attr(receiver) == attr or (
                isinstance(receiver, ast.Name) and receiver.id in loop_names
            ):
                out.append(method.name)
                break
    return out


def _reads(node: ast.AST, attr: str) -> bool:
    return any(_self_attr(n) == attr for n in ast.walk(node))


def _named(project: Project, method: str) -> bool:
    """Whether any file of the project names ``method`` as an attribute (``obj.scheduler()``,
    a bound method handed on) or a string (``getattr(obj, "scheduler")``): then it may run."""
    pattern = re.compile(rf"\.\s*{re.escape(method)}\b|['\"]{re.escape(method)}['\"]")
    return any(pattern.search(text) for text in project.sources.values())


@dataclass(frozen=True)
class SchedulerWrapper:
    """A project class that builds LR schedulers itself and keeps them in ``self.<attr>``;
    ``methods`` are the ones that step them."""

    cls: str
    attr: str
    methods: tuple[str, ...]


def scheduler_wrapper(project: Project, qualified: str) -> SchedulerWrapper | None:
    """The project class ``qualified`` when its ``__init__`` builds LR schedulers into
    ``self.<attr>`` (``self.attr[k] = ...`` or ``self.attr = ...``) and some method steps
    them (nerfstudio's ``Optimizers``: ``self.schedulers[name] = cfg.setup().get_scheduler(
    optimizer=self.optimizers[name], ...)``, stepped by ``scheduler_step_all``)."""
    found = project.definition(qualified)
    if found is None:
        return None
    facts, cls = found
    if not isinstance(cls, ast.ClassDef) or cls.bases:
        return None  # a base defined elsewhere may save or restore them
    init = next(
        (s for s in cls.body if isinstance(s, ast.FunctionDef) and s.name == "__init__"), None
    )
    if init is None:
        return None
    for stmt in ast.walk(init):
        if not (isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call)):
            continue
        for target in stmt.targets:
            while isinstance(target, ast.Subscript):
                target = target.value
            attr = _self_attr(target)
            if attr is None or not _builds_scheduler(facts, stmt.value):
                continue
            methods = _stepping_methods(cls, attr)
            if methods:
                return SchedulerWrapper(cls.name, attr, tuple(methods))
    return None


def _builds_scheduler(facts: ScriptFacts, call: ast.Call) -> bool:
    """A recognised scheduler construction, or a ``.get_scheduler(optimizer=...)``-style
    call: a scheduler config's factory method given the optimizer it drives."""
    if facts.constructs_scheduler(call):
        return True
    name = call.func.attr if isinstance(call.func, ast.Attribute) else None
    return (
        name is not None
        and "scheduler" in name.lower()
        and any(k.arg == "optimizer" for k in call.keywords)
    )
