"""SCH005: a schedule sized in epochs is stepped per iteration, or the other way round."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.objects import SchedulerInfo
from unified_prior.audit.model.tree import tokens
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts

#: The argument that sizes each scheduler: (keyword, positional index).
LENGTH_ARGS: dict[str, tuple[str, int]] = {
    "CosineAnnealingLR": ("T_max", 1),
    "CosineAnnealingWarmRestarts": ("T_0", 1),
    "StepLR": ("step_size", 1),
    "MultiStepLR": ("milestones", 1),
    "LinearLR": ("total_iters", 3),
    "ConstantLR": ("total_iters", 2),
    "PolynomialLR": ("total_iters", 1),
    "OneCycleLR": ("total_steps", 2),
    "CyclicLR": ("step_size_up", 3),
}
_HF_LENGTH = ("num_training_steps", 2)
_LOADER_TOKENS = ("loader", "batch", "data_iter", "dataset", "train_data", "iterator")


#: Names that count optimizer steps. Deliberately narrow: ``lr_steps`` (torchvision's epoch
#: milestones) and ``step_size`` (StepLR's period, in epochs there) say nothing about units.
_STEP_COUNT = re.compile(
    r"^((total|max|num|n|train|training)_)+(steps|iters|iterations|updates|batches)$"
    r"|^(iters|iterations|num_training_steps|steps_per_epoch|iters_per_epoch|batches_per_epoch)$",
    re.I,
)
_EPOCH_COUNT = re.compile(r"^((total|max|num|n|train|training)_)*epochs?$", re.I)


def _bound_value(facts: ScriptFacts, name: ast.Name) -> ast.AST | None:
    """The value of the one assignment to ``name``'s variable, if there is exactly one."""
    sym = facts.symbol(name)
    values = [
        a.value
        for a in facts.of_type(ast.Assign)
        if len(a.targets) == 1
        and isinstance(a.targets[0], ast.Name)
        and facts.symbol(a.targets[0]) == sym
    ]
    return values[0] if len(values) == 1 else None


def unit_of(facts: ScriptFacts, node: ast.AST, hops: int = 3) -> str | None:
    """``epoch`` or ``step`` when the expression's names say so; None when unclear."""
    if isinstance(node, ast.Name) and hops > 0:
        bound = _bound_value(facts, node)
        if bound is not None:
            return unit_of(facts, bound, hops - 1)
    names = tokens(node)
    # ``len(train_loader)`` counts batches; ``len(args.lr_steps)`` counts nothing useful.
    loader_len = any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "len"
        and any(k in t for t in tokens(n) for k in _LOADER_TOKENS)
        for n in ast.walk(node)
    )
    if loader_len or any(_STEP_COUNT.match(t) for t in names):
        return "step"
    if any(_EPOCH_COUNT.match(t) for t in names):
        return "epoch"
    return None


def lambda_unit(facts: ScriptFacts, call: ast.Call) -> tuple[ast.AST | None, str | None]:
    """The unit a ``LambdaLR`` factor function counts in, read from its parameter's name
    (``def lr_lambda(epoch)``, ``lambda step: ...``): torch passes the scheduler's own step
    count, so the name says what the author thought each ``step()`` was."""
    node = next((k.value for k in call.keywords if k.arg == "lr_lambda"), None)
    if node is None and len(call.args) > 1:
        node = call.args[1]
    func: ast.AST | None = node
    if isinstance(node, ast.Name):
        scope = facts.scope_of(call)
        defs = [
            f
            for f in facts.functions
            if f.name == node.id and facts.scope_of(f) in {scope, facts.tree}
        ]
        func = defs[0] if len(defs) == 1 else None
    if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        return None, None
    params = [a.arg.lower() for a in func.args.args]
    if len(params) != 1:
        return None, None
    if "epoch" in params[0]:
        return func, "epoch"
    if "step" in params[0] or "iter" in params[0]:
        return func, "step"
    return None, None


def _shown(facts: ScriptFacts, arg: ast.AST) -> str:
    """A LambdaLR's function by its signature, any other length argument by its text."""
    if isinstance(arg, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
        param = arg.args.args[0].arg if arg.args.args else ""
        name = arg.name if not isinstance(arg, ast.Lambda) else "lambda"
        return f"its factor function {name}({param}) counts them"
    return facts.text(arg)


def loop_kind(loop: ast.AST, facts: ScriptFacts | None = None) -> str | None:
    """``epoch`` for ``for epoch in range(...)``; ``batch`` for a loop over a loader/steps,
    also through a name bound to one (``pbar = tqdm(enumerate(loader)); for i, b in pbar``)."""
    if isinstance(loop, ast.For | ast.AsyncFor):
        target = tokens(loop.target)
        source = tokens(loop.iter)
        if facts is not None and isinstance(loop.iter, ast.Name):
            source |= tokens(_bound_value(facts, loop.iter) or loop.iter)
        if any("epoch" in t for t in target):
            return "epoch"
        if any(k in t for t in source | target for k in _LOADER_TOKENS):
            return "batch"
        if any("step" in t or "iter" in t for t in target | source):
            return "batch"
        if any("epoch" in t for t in source):
            return "epoch"
    elif isinstance(loop, ast.While):
        test = tokens(loop.test)
        if any("step" in t or "iter" in t for t in test):
            return "batch"
    return None


@register
class UnitMismatch(Rule):
    """The scheduler's length argument counts epochs (``T_max=args.epochs``) but
    ``step()`` runs once per batch, so the whole schedule is spent in the first few hundred
    iterations; or the length counts iterations (``num_training_steps``,
    ``epochs * len(loader)``) but ``step()`` runs once per epoch, so the LR barely moves.
    Severity *error*. Units are read from the names in the expressions; anything unclear
    (literals, ``step(epoch + i / n)`` calls, timm schedulers that take the count) is
    left alone.
    """

    code = "SCH005"
    name = "schedule-unit-mismatch"
    severity = "error"
    summary = "epoch/iteration unit mismatch"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        for sched in facts.active_schedulers():
            if sched.flow.escapes or sched.family in {"timm", "ours"}:
                continue
            double = self._two_rates(facts, sched)
            if double is not None:
                yield double
                continue
            if sched.cls in {"LambdaLR", "MultiplicativeLR"}:
                arg, unit = lambda_unit(facts, sched.call)
            else:
                arg = self._length_arg(sched)
                unit = unit_of(facts, arg) if arg is not None else None
            if arg is None or unit is None:
                continue
            steps = [s for s in sched.steps if not s.args and not s.keywords]
            if len(steps) != len(sched.steps) or not steps:
                continue
            kinds = [self._step_unit(facts, s) for s in steps]
            if unit == "epoch" and all(k == "batch" for k in kinds):
                yield self._report(
                    facts,
                    sched,
                    arg,
                    steps[0],
                    "epochs",
                    "iteration",
                    "per-iteration count (epochs * len(loader))",
                )
            elif unit == "step" and all(k == "epoch" for k in kinds):
                yield self._report(
                    facts,
                    sched,
                    arg,
                    steps[0],
                    "iterations",
                    "epoch",
                    "epoch count, or step it every iteration",
                )

    def _two_rates(self, facts: ScriptFacts, sched: SchedulerInfo) -> Finding | None:
        """One scheduler stepped unconditionally inside a batch loop *and* once more in the
        same function outside that loop: it advances per batch and again per pass, so
        whichever unit its length counts, the other step shifts it (a warmup counted in
        iterations gains one step per epoch; an epoch schedule gains a batch's worth)."""
        steps = [s for s in sched.steps if not s.args and not s.keywords]
        if len(steps) != len(sched.steps) or len(steps) < 2:
            return None
        controls = [(s, facts.control(s)) for s in steps]
        for inner, ictl in controls:
            if ictl.branches or not ictl.loops or loop_kind(ictl.loops[-1], facts) != "batch":
                continue
            for outer, octl in controls:
                if (
                    outer is inner
                    or octl.scope is not ictl.scope
                    or octl.branches
                    or len(octl.loops) >= len(ictl.loops)
                    or ictl.loops[: len(octl.loops)] != octl.loops
                ):
                    continue
                ol, oc = facts.pos(outer)
                il, ic = facts.pos(inner)
                message = (
                    f"{sched.cls} ({sched.name}) is stepped every batch at {il}:{ic} and "
                    f"again outside that batch loop at {ol}:{oc}: it counts batches plus "
                    "passes, so its schedule runs in neither unit"
                )
                fix = "step the scheduler in one place only, once per the unit it is sized in"
                return self.finding(facts, outer, message, fix, related=(inner, sched.call))
        return None

    @staticmethod
    def _length_arg(sched: SchedulerInfo) -> ast.AST | None:
        if sched.family == "hf":
            keyword, index = _HF_LENGTH
            if sched.cls == "get_scheduler":
                index = 3
        elif sched.cls in LENGTH_ARGS:
            keyword, index = LENGTH_ARGS[sched.cls]
        else:
            return None
        call = sched.call
        for kw in call.keywords:
            if kw.arg == keyword:
                return kw.value
            if sched.cls == "OneCycleLR" and kw.arg == "steps_per_epoch":
                return None  # epochs × steps_per_epoch: sized in iterations by construction
        return call.args[index] if len(call.args) > index else None

    @staticmethod
    def _step_unit(facts: ScriptFacts, step: ast.Call) -> str | None:
        loops = facts.control(step).loops
        if not loops:
            return None
        kinds = [loop_kind(loop, facts) for loop in loops]
        if kinds[-1] == "batch" and "batch" in kinds:
            return "batch"
        if kinds[-1] == "epoch" and "batch" not in kinds:
            return "epoch"
        return None

    def _report(
        self,
        facts: ScriptFacts,
        sched: SchedulerInfo,
        arg: ast.AST,
        step: ast.Call,
        counted: str,
        per: str,
        use: str,
    ) -> Finding:
        al, ac = facts.pos(arg)
        message = (
            f"{sched.cls} is sized in {counted} ({_shown(facts, arg)} at {al}:{ac}) but "
            f"{facts.text(step.func)}() runs once per {per}: the schedule runs "
            + ("to its end within the first epoch" if per == "iteration" else "far too slowly")
        )
        fix = f"size the scheduler with the {use}"
        return self.finding(facts, step, message, fix, related=(arg, sched.call))
