"""SCH003: the scheduler is stepped per micro-batch, outside the optimizer-step branch."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.objects import SchedulerInfo
from unified_prior.audit.model.tree import Control, dotted, last_part
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


def _is_accumulate(node: ast.AST) -> bool:
    return isinstance(node, ast.With | ast.AsyncWith) and any(
        isinstance(item.context_expr, ast.Call)
        and last_part(dotted(item.context_expr.func)) == "accumulate"
        for item in node.items
    )


def _tests_only(test: ast.AST, name: str | None) -> bool:
    """``if scheduler is not None:`` / ``if scheduler:``: a guard on the scheduler's own
    existence, not a condition on when to step (it says nothing about micro-batches)."""
    if name is None:
        return False
    names: set[str] = set()
    for node in ast.walk(test):
        text = dotted(node) if isinstance(node, ast.Name | ast.Attribute) else None
        if text is not None:
            names.add(text)
    outer = {n for n in names if not any(o != n and o.startswith(n + ".") for o in names)}
    return outer == {name}


@register
class StepPerMicrobatch(Rule):
    """Under gradient accumulation the optimizer steps inside an accumulation-boundary
    branch (``if (i + 1) % accum == 0``) or after an inner micro-batch loop, but
    ``scheduler.step()`` runs on every micro-batch: the schedule advances N× too fast and
    ends N× early. Severity *error*.

    Silent for ``accelerator.prepare``-d schedulers (accelerate's wrapper skips the step
    when the optimizer did not step) and when the scheduler sits under an ``if`` of its own.
    """

    code = "SCH003"
    name = "scheduler-stepped-per-microbatch"
    severity = "error"
    summary = "scheduler stepped per micro-batch / outside the optimizer-step branch"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        opt_steps = [(c, facts.control(c)) for c, _ in facts.optimizer_steps()]
        for sched in facts.active_schedulers():
            if sched.flow.prepared or sched.family == "timm":
                continue
            for step in sched.steps:
                ctl = facts.control(step)
                for opt_call, octl in opt_steps:
                    reason = self._faster(facts, ctl, octl, step) or self._unprepared_in_accumulate(
                        facts, sched, ctl, octl
                    )
                    if reason is None:
                        continue
                    ol, oc = facts.pos(opt_call)
                    message = (
                        f"{facts.text(step.func)}() runs {reason}, but "
                        f"{facts.text(opt_call.func)}() ({ol}:{oc}) runs only once per "
                        "accumulated update: the schedule advances once per micro-batch and "
                        "finishes early"
                    )
                    fix = "move the scheduler step next to optimizer.step(), inside the same branch"
                    yield self.finding(facts, step, message, fix, related=(opt_call,))
                    break

    @staticmethod
    def _unprepared_in_accumulate(
        facts: ScriptFacts, sched: SchedulerInfo, ctl: Control, opt: Control
    ) -> str | None:
        """``with accelerator.accumulate(model): ...; optimizer.step(); scheduler.step()``:
        accelerate skips the prepared optimizer's step on micro-batches, but a scheduler that
        never went through ``accelerator.prepare`` steps on every one of them."""
        if sched.flow.prepared or any("prepare" in why for _, why in sched.flow.escapes):
            return None
        shared = [w for w in ctl.withs if w in opt.withs and _is_accumulate(w)]
        if not shared or ctl.scope is not opt.scope:
            return None
        line, col = facts.pos(shared[-1])
        return (
            f"on every micro-batch inside the accumulate block at {line}:{col}: the scheduler "
            "was never passed to accelerator.prepare, so accelerate does not skip its step"
        )

    @staticmethod
    def _faster(
        facts: ScriptFacts, sched: Control, opt: Control, step: ast.Call | None = None
    ) -> str | None:
        """Why the scheduler step runs more often than the optimizer step, if it does."""
        if sched.scope is not opt.scope or not opt.loops:
            return None
        outer = opt.loops[-1]
        if outer not in sched.loops:
            return None
        depth = sched.loops.index(outer)
        if len(sched.loops) > depth + 1:
            inner = sched.loops[depth + 1]
            if isinstance(inner, ast.For | ast.AsyncFor | ast.While):
                line, col = facts.pos(inner)
                return f"inside the micro-batch loop at {line}:{col}"
        if len(sched.loops) != depth + 1:
            return None
        guard = facts.accumulation_guard(opt.branches)
        if guard is None:
            return None
        stepped = (
            dotted(step.func.value)
            if isinstance(step, ast.Call) and isinstance(step.func, ast.Attribute)
            else None
        )
        inside_loop = {
            id(b[0])
            for b in sched.branches
            if facts.control(b[0]).loops[-1:] == (outer,) and not _tests_only(b[0].test, stepped)
        }
        if inside_loop:
            return None  # the scheduler has its own condition; we cannot tell it is wrong
        line, col = facts.pos(guard)
        return f"on every micro-batch, outside the accumulation branch at {line}:{col}"
