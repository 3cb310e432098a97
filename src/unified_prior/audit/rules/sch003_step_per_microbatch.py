"""SCH003: the scheduler is stepped per micro-batch, outside the optimizer-step branch."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.tree import Control
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


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
                    reason = self._faster(facts, ctl, octl)
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
    def _faster(facts: ScriptFacts, sched: Control, opt: Control) -> str | None:
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
        inside_loop = {
            id(b[0]) for b in sched.branches if facts.control(b[0]).loops[-1:] == (outer,)
        }
        if inside_loop:
            return None  # the scheduler has its own condition; we cannot tell it is wrong
        line, col = facts.pos(guard)
        return f"on every micro-batch, outside the accumulation branch at {line}:{col}"
