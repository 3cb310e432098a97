"""Object flow: where an optimizer, scheduler or config object travels, and whether it is
handed to code we cannot see."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

from unified_prior.audit.model.calls import Calls
from unified_prior.audit.model.catalog import COMPOSITE_SCHEDULERS, TRANSPARENT
from unified_prior.audit.model.tree import Symbol, const_str, dotted, index_of, last_part


@dataclass
class Flow:
    """Where an object travels: its names, how it is used, and whether it escapes."""

    symbols: set[Symbol] = field(default_factory=set)
    method_calls: dict[str, list[ast.Call]] = field(default_factory=dict)
    escapes: list[tuple[ast.AST, str]] = field(default_factory=list)
    prepared: bool = False  # went through accelerator.prepare
    composite_parent: ast.Call | None = None  # child of SequentialLR / ChainedScheduler
    lightning_return: ast.AST | None = None  # returned from configure_optimizers
    uses: list[ast.AST] = field(default_factory=list)

    def calls(self, *methods: str) -> list[ast.Call]:
        return [c for m in methods for c in self.method_calls.get(m, [])]


class Flows(Calls):
    """Follow objects through names, calls and returns."""

    def instance_escapes(self, cls: ast.ClassDef) -> bool:
        """An instance of ``cls`` (built here) reaches code we cannot see, taking its
        attributes along: ``Engine(MockModel())`` may read ``model.config.n_head``."""
        cache: dict[int, bool] = self.__dict__.setdefault("_instance_escapes", {})
        if id(cls) in cache:
            return cache[id(cls)]
        cache[id(cls)] = False  # while computing (a class that builds itself) say no
        escaped = False
        for call in self.calls:
            if not (isinstance(call.func, ast.Name) and call.func.id == cls.name):
                continue
            results = self._call_results(call, None)
            if not results or self.flow(results).escapes:
                escaped = True
                break
        cache[id(cls)] = escaped
        return escaped

    def constructs_scheduler(self, call: ast.Call) -> bool:
        """Whether ``call`` builds an LR scheduler (its optimizer argument is then not handed
        away). Answered by the objects layer, which knows the schedulers."""
        return False

    # ----------------------------------------------------------------- object flow
    def flow(self, seeds: Iterable[Symbol | None]) -> Flow:
        """Follow an object from its first names through the file (see module docstring)."""
        flow = Flow()
        work = [s for s in seeds if s is not None]
        while work:
            sym = work.pop()
            if sym in flow.symbols:
                continue
            flow.symbols.add(sym)
            if sym[1].startswith(("self.", "cls.")):
                owner = self._classes.get(sym[0])
                first = sym[1].split(".")[1] if "." in sym[1] else sym[1]
                if owner is not None and self._base_may_read(owner, first):
                    # A base class defined elsewhere may read ``self.config`` itself.
                    flow.escapes.append(
                        (owner, f"{sym[1]} of a class with a base defined elsewhere")
                    )
                # ``self.scheduler`` may also be reached as ``trainer.scheduler`` outside the
                # class; we do not track instances, so such a read hands the object away.
                attr = last_part(sym[1])
                for node in self._attribute_loads.get(attr, []):
                    if dotted(node.value) not in {"self", "cls"}:
                        flow.escapes.append((node, f"read as .{attr} outside its class"))
            for use in self._uses.get(sym, []):
                for new in self._classify_object_use(use, flow):
                    if new is not None and new not in flow.symbols:
                        work.append(new)
        return flow

    def _classify_object_use(self, use: ast.AST, flow: Flow) -> list[Symbol | None]:
        flow.uses.append(use)
        parent = self.parents.get(use)
        if isinstance(parent, ast.Attribute) and parent.value is use:
            grand = self.parents.get(parent)
            if isinstance(grand, ast.Call) and grand.func is parent:
                flow.method_calls.setdefault(parent.attr, []).append(grand)
            return []
        if isinstance(parent, ast.Subscript | ast.Compare | ast.BoolOp | ast.UnaryOp | ast.If):
            return []
        unpacked = isinstance(parent, ast.keyword) and parent.arg is None
        if unpacked or isinstance(parent, ast.Starred):
            # ``f(**config)`` / ``f(*items)``: every key becomes an argument of f.
            flow.escapes.append((use, "unpacked into a call"))
            return []
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not use:
            return self._object_passed(use, parent, flow)
        if isinstance(parent, ast.Assign | ast.AnnAssign) and parent.value is use:
            targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
            out: list[Symbol | None] = []
            for target in targets:
                if isinstance(target, ast.Name) or (
                    isinstance(target, ast.Attribute) and dotted(target.value) in {"self", "cls"}
                ):
                    out.append(self.symbol(target))
                else:
                    # ``ckpt["cfg"] = cfg``, ``module.options = cfg``, ``a, b = cfg``: the
                    # object now lives where other code can reach it.
                    flow.escapes.append((use, "stored where we do not follow it"))
            return out
        if isinstance(parent, ast.BinOp):
            flow.escapes.append((use, "combined into another value"))  # ``"%(k)s" % cfg``
            return []
        if isinstance(parent, ast.Return):
            return self._returned(use, parent, flow)
        if isinstance(parent, ast.Tuple | ast.List | ast.Set | ast.Dict):
            if self.inside_log_call(parent):
                return []
            outer = self.parents.get(parent)
            if isinstance(outer, ast.Return):
                return self._returned(use, outer, flow, container=parent)
            ret = self.parents.get(outer) if outer is not None else None
            if isinstance(outer, ast.Dict | ast.List | ast.Tuple) and isinstance(ret, ast.Return):
                return self._returned(use, ret, flow, container=outer)
            return self._into_container(parent, flow, use)
        if isinstance(parent, ast.For | ast.comprehension):
            flow.escapes.append((use, "iterated"))
            return []
        return []

    def _into_container(
        self, container: ast.AST, flow: Flow, element: ast.AST | None = None
    ) -> list[Symbol | None]:
        """A value put into a literal dict/list goes where that container goes: a checkpoint
        payload handed to ``torch.save`` stores it (never applies it); a container handed to
        code we cannot see takes the value with it. Only the container's escapes count: its
        own names are not the object's."""
        carrier = Flow()
        names = [s for s in self._classify_object_use(container, carrier) if s is not None]
        if not carrier.escapes:
            unpacked = self._unpacked_element(container, element, names)
            if unpacked is not None:
                return [unpacked]
        if names:
            onward = self.flow(names)
            carrier.escapes.extend(onward.escapes)
            carrier.prepared = carrier.prepared or onward.prepared
            carrier.composite_parent = carrier.composite_parent or onward.composite_parent
            carrier.lightning_return = carrier.lightning_return or onward.lightning_return
        for node, why in carrier.escapes:
            flow.escapes.append((node, f"put into a container that is {why}"))
        # ``ChainedScheduler([a, b])``: the container's fate is the value's.
        flow.composite_parent = flow.composite_parent or carrier.composite_parent
        flow.prepared = flow.prepared or carrier.prepared
        flow.lightning_return = flow.lightning_return or carrier.lightning_return
        return []

    def _unpacked_element(
        self, container: ast.AST, element: ast.AST | None, names: list[Symbol]
    ) -> Symbol | None:
        """``train(..., [sched_g, sched_d])`` whose ``def train(..., schedulers)`` only does
        ``sched_g, sched_d = schedulers`` (VITS): the element is the name at its position.
        Any other use of the container keeps it opaque."""
        if not isinstance(container, ast.List | ast.Tuple) or element is None or len(names) != 1:
            return None
        if any(isinstance(e, ast.Starred) for e in container.elts):
            return None
        index = next((i for i, e in enumerate(container.elts) if e is element), None)
        uses = self._uses.get(names[0], [])
        if index is None or len(uses) != 1:
            return None
        assign = self.parents.get(uses[0])
        if not isinstance(assign, ast.Assign) or assign.value is not uses[0]:
            return None
        if len(assign.targets) != 1 or not isinstance(assign.targets[0], ast.Tuple | ast.List):
            return None
        targets = assign.targets[0].elts
        if len(targets) != len(container.elts) or not isinstance(targets[index], ast.Name):
            return None
        return self.symbol(targets[index])

    def _object_passed(self, use: ast.AST, call: ast.Call, flow: Flow) -> list[Symbol | None]:
        name = last_part(dotted(call.func))
        if self.is_log_call(call) or self.inside_log_call(call):
            return []
        if name in COMPOSITE_SCHEDULERS:
            flow.composite_parent = call
            return []
        if name == "prepare":
            flow.prepared = True
            return self._call_results(call, use)
        if name in TRANSPARENT or name in {"copy", "deepcopy"}:
            if isinstance(self.parents.get(call), ast.Assign | ast.AnnAssign):
                return self._call_results(call, None)
            # ``Trainer(vars(args))``: the copy goes wherever the call's result goes.
            return self._classify_object_use(call, flow)
        key_arg = call.args[1] if len(call.args) > 1 else None
        if name in {"getattr", "hasattr"} and const_str(key_arg) is not None:
            return []  # ``getattr(args, "lr", 1e-3)`` reads one named key
        if self.constructs_scheduler(call) or name in {
            "clip_grad_norm_",
            "unscale_",
            "step",
            "ScheduleGuard",
            "register_step_pre_hook",
            "isinstance",
            "id",
            "type",
            "len",
        }:
            return []  # the optimizer argument of a scheduler, or a harmless inspection
        func = self.function_def(call)
        if func is not None:
            param = self.param_for(func, call, use)
            if param is None:
                flow.escapes.append((use, f"passed to {name}(*args/**kwargs)"))
                return []
            return [(id(func), param)]
        flow.escapes.append((use, f"passed to {dotted(call.func) or 'a call'}()"))
        return []

    def _returned(
        self, use: ast.AST, ret: ast.Return, flow: Flow, container: ast.AST | None = None
    ) -> list[Symbol | None]:
        func = self.scope_of(ret)
        if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            if func.name == "configure_optimizers":
                flow.lightning_return = use
                return []
            sites = self.call_sites(func)
            if sites and (container is None or isinstance(container, ast.Tuple)):
                out: list[Symbol | None] = []
                index = index_of(container.elts, use) if isinstance(container, ast.Tuple) else None
                for site in sites:
                    parent = self.parents.get(site)
                    if index is None and isinstance(parent, ast.Call | ast.keyword):
                        # ``train(build_config())``: follow it into a function of this file.
                        passed = self._passed_to_local_function(site)
                        if passed is not None:
                            out.append(passed)
                            continue
                    if not isinstance(parent, ast.Assign):
                        if not isinstance(parent, ast.Expr):
                            flow.escapes.append((site, f"result of {func.name}() used"))
                        continue
                    for target in parent.targets:
                        if index is None:
                            out.append(self.symbol(target))
                        elif isinstance(target, ast.Tuple | ast.List):
                            if index < len(target.elts):
                                out.append(self.symbol(target.elts[index]))
                        else:
                            flow.escapes.append((site, f"result of {func.name}() kept whole"))
                return out
        flow.escapes.append((use, "returned"))
        return []

    def _object_flow(self, call: ast.Call, results: list[Symbol | None]) -> Flow:
        """The flow of the object ``call`` constructs: from the names it is assigned to, or,
        when it is used in place (``return AdamW(...)``, ``prepare(..., LinearLR(...))``,
        ``[opt], [StepLR(opt)]``), from where that use leads."""
        parent = self.parents.get(call)
        if isinstance(parent, ast.keyword):
            parent = self.parents.get(parent)
        if isinstance(parent, ast.Call) and parent.func is not call:
            return self._direct_argument_flow(call, parent, self.flow(results))
        seed = Flow()
        if isinstance(parent, ast.Return | ast.Tuple | ast.List | ast.Set | ast.Dict):
            results = [*results, *self._classify_object_use(call, seed)]
        elif isinstance(parent, ast.Assign) and any(
            isinstance(t, ast.Subscript)
            or (isinstance(t, ast.Attribute) and self.symbol(t) is None)
            for t in parent.targets
        ):
            # ``self.schedulers[name] = StepLR(...)``: it lives in a container we do not follow.
            seed.escapes.append((call, "stored where we do not follow it"))
        elif not isinstance(parent, ast.Assign | ast.AnnAssign | ast.Expr):
            # ``lambda opt: StepLR(opt)``, ``x if c else StepLR(...)``, a walrus, ...: the
            # object goes where we do not follow it.
            seed.escapes.append((call, "used in place"))
        flow = self.flow(results)
        flow.escapes.extend(seed.escapes)
        flow.prepared = flow.prepared or seed.prepared
        flow.composite_parent = flow.composite_parent or seed.composite_parent
        flow.lightning_return = flow.lightning_return or seed.lightning_return
        return flow

    def _direct_argument_flow(self, call: ast.Call, outer: ast.Call, flow: Flow) -> Flow:
        name = last_part(dotted(outer.func))
        if name in COMPOSITE_SCHEDULERS:
            flow.composite_parent = outer
            return flow
        if name == "prepare":
            flow.prepared = True
            return self.flow(self._call_results(outer, call))
        func = self.function_def(outer)
        param = self.param_for(func, outer, call) if func is not None else None
        if func is not None and param is not None:
            # ``train(model, opt, CosineAnnealingLR(opt, ...))``: it lives on as train's parameter.
            inner = self.flow([(id(func), param)])
            inner.escapes.extend(flow.escapes)
            return inner
        if not self.is_log_call(outer):
            flow.escapes.append((call, f"passed to {dotted(outer.func) or 'a call'}()"))
        return flow
