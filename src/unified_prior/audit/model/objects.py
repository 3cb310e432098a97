"""The training objects: optimizers, schedulers, their steps and loads, LR writes."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from functools import cached_property

from unified_prior.audit.model.catalog import (
    ACCUM_TOKEN,
    COMPOSITE_SCHEDULERS,
    LR_SETTERS,
    OPTIMIZER_CLASSES,
    OPTIMIZER_FACTORIES,
    OPTIMIZER_NAME,
    PROJECT_SCHEDULER,
    SCHEDULER_BASES,
    SCHEDULER_PARAMETER,
    library_scheduler,
)
from unified_prior.audit.model.flows import Flow, Flows
from unified_prior.audit.model.tree import Control, Symbol, const_str, dotted, last_part, tokens


@dataclass
class OptimizerInfo:
    call: ast.Call
    flow: Flow
    lr_arg: ast.expr | None


@dataclass
class SchedulerInfo:
    call: ast.Call
    cls: str
    family: str  # torch | hf | timm | ours
    flow: Flow
    optimizer: Symbol | None
    optimizer_text: str
    control: Control
    children: list[SchedulerInfo] = field(default_factory=list)
    parent: SchedulerInfo | None = None
    lightning_manual: bool = False

    @property
    def steps(self) -> list[ast.Call]:
        return self.flow.calls("step", "step_update")

    @property
    def name(self) -> str:
        targets = sorted(s[1] for s in self.flow.symbols)
        return targets[0] if targets else self.cls


class Objects(Flows):
    """Recognise optimizers and schedulers and where they step."""

    @cached_property
    def is_script(self) -> bool:
        """The file runs something: a ``__main__`` guard, a top-level loop or ``with``, a
        top-level call statement, or a top-level optimizer / ``parse_args`` assignment. A
        module that only defines things is a library: its module-level containers are read
        by importers we cannot see."""
        for stmt in self.tree.body:
            if isinstance(stmt, ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
                return True
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                return True
            if isinstance(stmt, ast.If) and "__name__" in {
                n.id for n in ast.walk(stmt.test) if isinstance(n, ast.Name)
            }:
                return True
            if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
                call = stmt.value
                if self._is_optimizer_call(call) or last_part(dotted(call.func)) in {
                    "parse_args",
                    "parse_known_args",
                }:
                    return True
        return False

    @cached_property
    def optimizers(self) -> list[OptimizerInfo]:
        return self._optimizers()

    @cached_property
    def schedulers(self) -> list[SchedulerInfo]:
        return self._schedulers()

    @cached_property
    def parameter_schedulers(self) -> list[SchedulerInfo]:
        return self._parameter_schedulers()

    @cached_property
    def lr_writes(self) -> list[ast.AST]:
        return self._lr_writes()

    # ----------------------------------------------------------------- optimizers
    def _is_optimizer_call(self, call: ast.Call) -> bool:
        qual = self.qualified(call)
        name = last_part(qual)
        if "lr_scheduler" in qual or self._scheduler_class(call):
            return False
        return (
            name in OPTIMIZER_CLASSES
            or name in OPTIMIZER_FACTORIES
            or (qual.startswith("torch.optim.") and name[:1].isupper())
        )

    def _optimizers(self) -> list[OptimizerInfo]:
        out = []
        for call in self.calls:
            if not self._is_optimizer_call(call):
                continue
            lr = next((k.value for k in call.keywords if k.arg == "lr"), None)
            if lr is None and len(call.args) >= 2:
                lr = call.args[1]
            flow = self._object_flow(call, self._call_results(call, None))
            out.append(OptimizerInfo(call=call, flow=flow, lr_arg=lr))
        return out

    def optimizer_of(self, sym: Symbol | None) -> OptimizerInfo | None:
        for info in self.optimizers:
            if sym in info.flow.symbols:
                return info
        return None

    def is_optimizer_expr(self, node: ast.AST) -> bool:
        sym = self.symbol(node)
        if sym is None:
            return False
        if any(sym in o.flow.symbols for o in self.optimizers):
            return True
        if any(sym in s.flow.symbols for s in self.schedulers):
            return False
        return bool(OPTIMIZER_NAME.search(last_part(sym[1])))

    def optimizer_steps(self) -> list[tuple[ast.Call, ast.AST]]:
        """``opt.step()`` and ``scaler.step(opt)`` calls, with the optimizer expression."""
        out: list[tuple[ast.Call, ast.AST]] = []
        for call in self.calls:
            func = call.func
            if not isinstance(func, ast.Attribute) or func.attr != "step":
                continue
            if self.is_optimizer_expr(func.value):
                out.append((call, func.value))
            elif call.args and self.is_optimizer_expr(call.args[0]):
                out.append((call, call.args[0]))
        return out

    def optimizer_loads(self) -> list[tuple[ast.Call, ast.AST]]:
        out: list[tuple[ast.Call, ast.AST]] = []
        for call in self.calls:
            func = call.func
            if (
                isinstance(func, ast.Attribute)
                and func.attr == "load_state_dict"
                and self.is_optimizer_expr(func.value)
            ):
                out.append((call, func.value))
        return out

    def owned_optimizers(self) -> list[OptimizerInfo]:
        """Optimizers built here that never reach code we cannot see."""
        return [o for o in self.optimizers if not o.flow.escapes]

    # ----------------------------------------------------------------- schedulers
    def constructs_scheduler(self, call: ast.Call) -> bool:
        return self._scheduler_class(call) is not None

    def _scheduler_class(self, call: ast.Call) -> tuple[str, str] | None:
        """(class or factory name, family) when ``call`` builds an LR scheduler: torch,
        transformers/diffusers, timm, ours; a class defined here that subclasses a torch
        scheduler (family torch); or a project factory or class by its name
        (``get_scheduler(cfg=..., optimizer=...)``, ``PolynomialLRWarmup(opt, ...)``) given
        an optimizer (family project)."""
        by_name = self._scheduler_by_getattr(call)
        if by_name is not None:
            return by_name
        qual = self.qualified(call)
        found = library_scheduler(qual)
        if found is not None:
            return found
        name = last_part(qual)
        local = self.local_classes.get(name) if isinstance(call.func, ast.Name) else None
        if local is not None and self.subclasses_scheduler(local):
            return name, "torch"
        given_optimizer = self._given_optimizer(call)
        if self.project is not None and qual != name and given_optimizer:
            found = self.project.scheduler_factory(qual)  # imported from the project
            if found is not None:
                return found
        if PROJECT_SCHEDULER.search(name) and given_optimizer:
            return name, "project"
        return None

    def _scheduler_by_getattr(self, call: ast.Call) -> tuple[str, str] | None:
        """``getattr(torch.optim.lr_scheduler, cfg["type"])(optimizer, **cfg["args"])``: a
        torch scheduler whose class the config names (the class by its literal name when
        given one)."""
        inner = call.func
        if not (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Name)
            and inner.func.id == "getattr"
            and len(inner.args) >= 2
        ):
            return None
        module = dotted(inner.args[0]) or ""
        head, _, rest = module.partition(".")
        if head in self.imports:
            module = self.imports[head] + (f".{rest}" if rest else "")
        if module != "torch.optim.lr_scheduler":
            return None
        return const_str(inner.args[1]) or "lr_scheduler class from the config", "torch"

    def returned_scheduler(self, func: ast.AST) -> tuple[str, str] | None:
        """(class, family) of the scheduler ``func`` builds and returns, if it does."""
        for node in ast.walk(func):
            if not isinstance(node, ast.Return) or node.value is None:
                continue
            if self.scope_of(node) is not func:
                continue
            value = node.value
            if isinstance(value, ast.Call):
                found = self._scheduler_class(value)
                if found is not None:
                    return found
            sym = self.symbol(value) if isinstance(value, ast.Name | ast.Attribute) else None
            for sched in self.schedulers:
                if sym is not None and sym in sched.flow.symbols:
                    return sched.cls, sched.family
        return None

    def subclasses_scheduler(self, cls: ast.ClassDef, depth: int = 0) -> bool:
        for base in cls.bases:
            name = last_part(dotted(base))
            if name in SCHEDULER_BASES:
                return True
            parent = self.local_classes.get(name)
            if (
                parent is not None
                and parent is not cls
                and depth < 20
                and self.subclasses_scheduler(parent, depth + 1)
            ):
                return True
        return False

    def _given_optimizer(self, call: ast.Call) -> bool:
        """The call receives an optimizer: ``optimizer=...`` or a first argument that is one."""
        if any(k.arg == "optimizer" for k in call.keywords):
            return True
        first = call.args[0] if call.args else None
        return isinstance(first, ast.Name | ast.Attribute) and bool(
            OPTIMIZER_NAME.search(last_part(dotted(first)))
        )

    def _schedulers(self) -> list[SchedulerInfo]:
        out: list[SchedulerInfo] = []
        for call in self.calls:
            found = self._scheduler_class(call)
            if found is None:
                continue
            cls, family = found
            results = self._call_results(call, None)
            parent = self.parents.get(call)
            unpacked = None
            if isinstance(parent, ast.Assign) and parent.value is call:
                target = parent.targets[0]
                if isinstance(target, ast.Tuple | ast.List) and target.elts:
                    unpacked = target
            if unpacked is not None and cls in {"create_scheduler", "create_scheduler_v2"}:
                # timm's factories return (scheduler, num_epochs).
                results = [self.symbol(unpacked.elts[0])]
            flow = self._element_flow(call) or self._object_flow(call, results)
            if unpacked is not None and not results:
                flow.escapes.append((call, "unpacked into several names"))
            opt_node = call.args[0] if call.args else None
            for kw in call.keywords:
                if kw.arg == "optimizer":
                    opt_node = kw.value
            info = SchedulerInfo(
                call=call,
                cls=cls,
                family=family,
                flow=flow,
                optimizer=self.symbol(opt_node) if opt_node is not None else None,
                optimizer_text=self.text(opt_node) if opt_node is not None else "?",
                control=self.control(call),
            )
            out.append(info)
        by_call = {id(s.call): s for s in out}
        for sched in out:
            if sched.cls in COMPOSITE_SCHEDULERS:
                # ``SequentialLR(opt, schedulers=[a, b], ...)``: the list is the 2nd argument.
                lists = [
                    *sched.call.args[1:2],
                    *(k.value for k in sched.call.keywords if k.arg == "schedulers"),
                ]
                for lst in lists:
                    for elt in getattr(lst, "elts", []):
                        child = by_call.get(id(elt)) or next(
                            (s for s in out if self.symbol(elt) in s.flow.symbols), None
                        )
                        if child is not None:
                            child.parent = sched
                            sched.children.append(child)
            if sched.flow.lightning_return is not None:
                owner = self.class_of(sched.call)
                sched.lightning_manual = owner is not None and self._manual_optimization(owner)
        return out

    def _parameter_schedulers(self) -> list[SchedulerInfo]:
        """Schedulers this file receives as a function parameter (``lr_scheduler:
        Optional[_LRScheduler] = None`` kept as ``self.lr_scheduler``; ``def train(model,
        optimizer, scheduler)``) and steps itself: built by a caller we may not see, but
        their state is this code's to checkpoint. Recognised by a scheduler annotation or a
        scheduler name, and only when every step is argument-free (``step(epoch)`` is told
        its position: timm, or nothing to restore). Kept apart from :attr:`schedulers`: a
        received scheduler may be stepped or dropped by its caller, so only the checkpoint
        rules judge them."""
        built = {sym for s in self.schedulers for sym in s.flow.symbols}
        out: list[SchedulerInfo] = []
        for func in self.functions:
            args = func.args
            for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
                sym: Symbol = (id(func), arg.arg)
                if sym in built or not self._scheduler_parameter(arg):
                    continue
                flow = self.flow([sym])
                steps = flow.calls("step")
                if not steps or any(c.args or c.keywords for c in steps):
                    continue
                # A stand-in for the constructor call the rules point at: the parameter.
                stand_in = ast.copy_location(
                    ast.Call(func=ast.Name(id=arg.arg, ctx=ast.Load()), args=[], keywords=[]),
                    arg,
                )
                self.parents[stand_in] = arg
                out.append(
                    SchedulerInfo(
                        call=stand_in,
                        cls=arg.arg,
                        family="parameter",
                        flow=flow,
                        optimizer=None,
                        optimizer_text="?",
                        control=self.control(arg),
                    )
                )
        return out

    @staticmethod
    def _scheduler_parameter(arg: ast.arg) -> bool:
        if arg.annotation is not None:
            for node in ast.walk(arg.annotation):
                name = last_part(dotted(node)) if isinstance(node, ast.Name | ast.Attribute) else ""
                if name in SCHEDULER_BASES or library_scheduler(name) is not None:
                    return True
        return bool(SCHEDULER_PARAMETER.match(arg.arg))

    def _element_flow(self, call: ast.Call) -> Flow | None:
        """``self.schedulers[name] = StepLR(...)``, later ``for s in self.schedulers.values():
        s.step()``: follow the elements of a dict or list this file keeps to itself. The
        element names bound by ``for`` loops over it (``C``, ``C.values()``, ``C.items()``)
        and ``C[k]`` reads are the scheduler; any other use of ``C`` hands it away."""
        parent = self.parents.get(call)
        if not (
            isinstance(parent, ast.Assign)
            and parent.value is call
            and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Subscript)
        ):
            return None
        holder = parent.targets[0].value
        container = self.symbol(holder) if isinstance(holder, ast.Name | ast.Attribute) else None
        if container is None:
            return None
        seeds: list[Symbol | None] = []
        direct: list[ast.AST] = []
        escapes: list[tuple[ast.AST, str]] = []
        for use in self._uses.get(container, []):
            up = self.parents.get(use)
            source: ast.AST = use
            if isinstance(up, ast.Attribute) and up.attr in {"values", "items"}:
                call_up = self.parents.get(up)
                if not isinstance(call_up, ast.Call) or call_up.func is not up:
                    escapes.append((use, f"container .{up.attr} used"))
                    continue
                source, up = call_up, self.parents.get(call_up)
                if not isinstance(up, ast.For | ast.comprehension) or up.iter is not source:
                    escapes.append((use, "container view used"))
                    continue
                target = up.target
                if isinstance(source.func, ast.Attribute) and source.func.attr == "items":
                    if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                        escapes.append((use, "container items used whole"))
                        continue
                    target = target.elts[1]
                seeds.append(self.symbol(target) if isinstance(target, ast.Name) else None)
            elif isinstance(up, ast.For | ast.comprehension) and up.iter is use:
                seeds.append(self.symbol(up.target) if isinstance(up.target, ast.Name) else None)
            elif isinstance(up, ast.Subscript) and up.value is use:
                if isinstance(up.ctx, ast.Load):
                    direct.append(up)
            elif isinstance(up, ast.Compare | ast.If | ast.BoolOp | ast.UnaryOp):
                continue  # ``if self.schedulers is not None:``
            else:
                escapes.append((use, "container used whole"))
        if None in seeds:
            escapes.append((call, "container iterated into several names"))
        flow = self.flow([*(s for s in seeds if s is not None)])
        for node in direct:
            for new in self._classify_object_use(node, flow):
                if new is not None:
                    flow.escapes.append((node, "element bound to a name we do not follow"))
        flow.symbols.add(container)
        owner = self._classes.get(container[0])
        attr = container[1].split(".")[1] if "." in container[1] else container[1]
        if owner is not None and self._base_may_read(owner, attr):
            escapes.append((owner, f"{container[1]} of a class with a base defined elsewhere"))
        flow.escapes.extend(escapes)
        return flow

    def lightning_manual_steps(self, owner: ast.ClassDef) -> list[ast.Call]:
        """``self.lr_schedulers().step()`` or ``sch = self.lr_schedulers(); sch.step()``."""
        out: list[ast.Call] = []
        seeds: list[Symbol | None] = []
        for call in self.calls:
            if last_part(dotted(call.func)) != "lr_schedulers" or self.class_of(call) is not owner:
                continue
            parent = self.parents.get(call)
            grand = self.parents.get(parent) if parent is not None else None
            if (
                isinstance(parent, ast.Attribute)
                and parent.attr == "step"
                and isinstance(grand, ast.Call)
                and grand.func is parent
            ):
                out.append(grand)
            seeds.extend(self._call_results(call, None))
            if isinstance(parent, ast.Assign):
                for target in parent.targets:
                    seeds.extend(self.target_symbols(target))
            if isinstance(parent, ast.For | ast.Subscript):
                out.append(call)  # iterated or indexed: stepped somewhere we trust
        flow = self.flow(s for s in seeds if s is not None)
        out.extend(flow.calls("step"))
        if flow.escapes:
            out.append(call)
        return out

    def sees_scheduler(self, node: ast.AST, sched: SchedulerInfo) -> bool:
        """Code at ``node`` can reach the scheduler object: it is a name in the same function,
        at module or class level, or ``node``'s function is called from where it is built.
        A scheduler local to another function (torchvision's first-epoch warmup inside
        ``train_one_epoch``) lives and dies there: saves and loads elsewhere cannot touch it."""
        scope = self.scope_of(node)
        scopes = {s[0] for s in sched.flow.symbols}
        if id(scope) in scopes or id(self.tree) in scopes:
            return True
        owner = self.class_of(node)
        if owner is not None and id(owner) in scopes:
            return True
        built_in = self.scope_of(sched.call)
        return any(self.scope_of(site) is built_in for site in self.call_sites(scope))

    def repositioned(self, sched: SchedulerInfo) -> bool:
        """``scheduler.last_epoch = start_epoch - 1``: the resume sets its position itself."""
        for node in self.of_type(ast.Assign):
            for target in node.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and target.attr == "last_epoch"
                    and self.symbol(target.value) in sched.flow.symbols
                ):
                    return True
        return False

    def active_schedulers(self) -> list[SchedulerInfo]:
        """Schedulers this script must step itself (not children, not framework-driven)."""
        return [
            s
            for s in self.schedulers
            if s.parent is None
            and s.flow.composite_parent is None
            and (s.flow.lightning_return is None or s.lightning_manual)
        ]

    # ----------------------------------------------------------------- LR writes
    def _lr_writes(self) -> list[ast.AST]:
        """Places that write an LR into an optimizer's param groups (nanoGPT style)."""
        out: list[ast.AST] = []
        for node in [*self.of_type(ast.Subscript), *self.of_type(ast.Call)]:
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                if const_str(node.slice) in {"lr", "initial_lr"}:
                    out.append(node)
            elif isinstance(node, ast.Call):
                name = last_part(dotted(node.func))
                if (
                    (name == "update" and any(k.arg == "lr" for k in node.keywords))
                    or name in LR_SETTERS
                    or (
                        name == "setattr"
                        and len(node.args) >= 2
                        and const_str(node.args[1]) == "lr"
                    )
                ):
                    out.append(node)
        return out

    def accumulation_guard(self, branches: tuple[tuple[ast.If, str], ...]) -> ast.If | None:
        """The innermost ``if`` that looks like an accumulation boundary test: a ``%`` or an
        accumulation word, in the test or in the one assignment of a name it tests
        (``update_grad = it % accum == accum - 1``; ``if update_grad:``)."""
        for node, _ in reversed(branches):
            tests: list[ast.AST] = [node.test]
            for name in ast.walk(node.test):
                if isinstance(name, ast.Name):
                    tests.extend(self._bound_values(name))
            for test in tests:
                if any(
                    isinstance(n, ast.BinOp) and isinstance(n.op, ast.Mod) for n in ast.walk(test)
                ):
                    return node
                if any(ACCUM_TOKEN.search(t) for t in tokens(test)):
                    return node
        return None

    def _bound_values(self, name: ast.Name) -> list[ast.AST]:
        """The value of the single assignment to ``name``'s variable ([] if not exactly one)."""
        sym = self.symbol(name)
        values: list[ast.AST] = [
            a.value
            for a in self.of_type(ast.Assign)
            if len(a.targets) == 1
            and isinstance(a.targets[0], ast.Name)
            and a.targets[0].id == name.id
            and self.symbol(a.targets[0]) == sym
        ]
        return values if len(values) == 1 else []
