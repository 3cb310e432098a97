"""SCH001: a schedule is configured, but no scheduler is built and no LR is written."""

from __future__ import annotations

from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.rules.claims import SCHEDULE_KIND, SCHEDULE_PARAM, claims
from unified_prior.audit.script import ScriptFacts


@register
class ScheduleNotApplied(Rule):
    """The config names a schedule (``lr_scheduler``, ``warmup_steps``, ...) yet the script
    builds no LR scheduler and never writes ``param_group["lr"]``, so every update runs at
    the optimizer's initial LR: the original run's failure. Severity *error*: the run
    silently trains with a schedule other than the declared one.

    Silent when the LR could be set where we cannot see it: an optimizer handed to other
    code, a framework trainer (HF ``Trainer``, Lightning, DeepSpeed), any scheduler
    construction, or any LR write (nanoGPT's ``get_lr`` written into ``param_groups``).
    """

    code = "SCH001"
    name = "schedule-not-applied"
    severity = "error"
    summary = "schedule configured, no scheduler built and no LR written"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        kinds = claims(facts, SCHEDULE_KIND)
        params = claims(facts, SCHEDULE_PARAM)
        if not kinds and not params:
            return
        if facts.schedulers or facts.parameter_schedulers or facts.lr_writes or facts.frameworks:
            return
        if not facts.optimizers or any(o.flow.escapes for o in facts.optimizers):
            return
        steps = facts.optimizer_steps()
        if not steps:
            return
        claim, *rest = [*kinds, *params]
        # Twin dicts declare the same key twice: name each key once.
        others = list({o.key: o for o in reversed(rest) if o.key != claim.key}.values())[::-1]
        opt = facts.optimizers[0]
        step_call = steps[0][0]
        lr = f"lr={facts.text(opt.lr_arg)}" if opt.lr_arg is not None else "its default lr"
        also = ""
        if others:
            also = " (also " + ", ".join(o.claim for o in others[:3]) + ")"
        line, col = facts.pos(step_call)
        oline, ocol = facts.pos(opt.call)
        message = (
            f"config claims {claim.claim}{also}, but no LR scheduler is built and nothing "
            f"writes param_group['lr']: the optimizer built at {oline}:{ocol} with {lr} keeps "
            f"that LR for every {facts.text(step_call.func)}() ({line}:{col})"
        )
        fix = (
            "build the schedule from the config and step it once after each optimizer.step() "
            "(e.g. SequentialLR([LinearLR, CosineAnnealingLR])), or write "
            "lr = base_lr * factor(step) into every param group before each update"
        )
        yield self.finding(
            facts,
            claim.node,
            message,
            fix,
            related=(opt.call, step_call, *(o.node for o in others)),
        )
