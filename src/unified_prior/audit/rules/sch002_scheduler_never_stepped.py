"""SCH002: an LR scheduler is built but never stepped."""

from __future__ import annotations

import re
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


@register
class SchedulerNeverStepped(Rule):
    """A scheduler object exists but nothing calls its ``step()``: the LR stays where the
    constructor left it (for ``LinearLR`` that is ``start_factor`` × the base LR, forever).
    Severity *error*.

    Silent for children of ``SequentialLR``/``ChainedScheduler`` (the parent steps them), for
    schedulers handed to code we cannot see (HF ``Trainer(optimizers=...)``, DeepSpeed, a
    list), and for Lightning's ``configure_optimizers`` under automatic optimisation.
    Under ``automatic_optimization = False`` Lightning no longer steps it, and a scheduler
    nobody steps through ``self.lr_schedulers()`` is reported.

    Also reported: a project factory in another module returning a wrapper of its own class
    that keeps the schedulers (StyleTTS2's ``build_optimizer`` → ``MultiOptimizer(optim,
    schedulers)``) when the wrapper's only methods that step them are named nowhere in the
    project; silent in a script that reaches the schedulers itself (``opt.schedulers[k]``).
    """

    code = "SCH002"
    name = "scheduler-never-stepped"
    severity = "error"
    summary = "scheduler built, never stepped"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        for sched in facts.active_schedulers():
            if sched.flow.escapes or sched.steps:
                continue
            line, col = facts.pos(sched.call)
            if sched.lightning_manual:
                owner = facts.class_of(sched.call)
                if owner is None or facts.lightning_manual_steps(owner):
                    continue
                message = (
                    f"{sched.cls} built at {line}:{col} is returned from configure_optimizers, "
                    "but the module sets automatic_optimization = False, so Lightning never "
                    "steps it and nothing calls self.lr_schedulers().step()"
                )
                fix = "call self.lr_schedulers().step() after opt.step() in training_step"
            else:
                message = (
                    f"{sched.cls} built at {line}:{col} (as {sched.name}) on "
                    f"{sched.optimizer_text} is never stepped: the LR stays at the value its "
                    "constructor set for the whole run"
                )
                fix = f"call {sched.name}.step() once after each optimizer.step()"
            yield self.finding(facts, sched.call, message, fix)
        yield from self._idle_wrappers(facts)

    def _idle_wrappers(self, facts: ScriptFacts) -> Iterator[Finding]:
        if facts.project is None:
            return
        for call in facts.calls:
            qual = facts.qualified(call)
            if "." not in qual or qual.startswith("torch."):
                continue
            idle = facts.project.idle_wrapper(qual)
            if idle is None or re.search(rf"\.\s*{re.escape(idle.attr)}\b", facts.source):
                continue
            methods = " or ".join(f"{m}()" for m in idle.methods)
            message = (
                f"{idle.factory}() returns a {idle.cls} holding LR schedulers in "
                f"self.{idle.attr}, but only its {methods} steps them and nothing in the "
                "project calls it: the LR stays at the value the schedulers' constructors set"
            )
            fix = f"call .{idle.methods[0]}() on the {idle.cls} after each optimizer step"
            yield self.finding(facts, call, message, fix)
