"""OPT001: gradient accumulation is configured, but the optimizer steps every batch."""

from __future__ import annotations

from collections.abc import Iterator

from unified_prior.audit.claims.values import fmt_value, is_unknown
from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.rules.claims import ACCUMULATION, claims, read_only_in_logs, unapplied
from unified_prior.audit.script import ScriptFacts


@register
class AccumulationNotApplied(Rule):
    """The config claims N micro-batches per update, but its value never reaches the loop
    (no ``% N`` boundary test, no inner ``range(N)`` loop, no loss division, no argument to
    any call): every batch ends in ``optimizer.step()``, so the effective batch and the
    update count differ from the claim by N. Severity *error*: the schedule's clock and the
    batch size both differ from the configuration.

    Silent under frameworks that accumulate for the script (HF ``Trainer``, Lightning,
    ``accelerator.accumulate``, DeepSpeed) and when an optimizer step sits under a
    ``%``-style boundary test.
    """

    code = "OPT001"
    name = "accumulation-not-applied"
    severity = "error"
    summary = "gradient accumulation configured, optimizer steps every batch"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        keys = [
            k
            for k in unapplied(claims(facts, ACCUMULATION))
            if k.source == "argparse"
            or is_unknown(k.value)
            or (isinstance(k.value, int) and k.value > 1)
        ]
        if not keys or facts.frameworks:
            return
        if not facts.optimizers or any(o.flow.escapes for o in facts.optimizers):
            return
        looped = [(call, facts.control(call)) for call, _ in facts.optimizer_steps()]
        looped = [(c, ctl) for c, ctl in looped if ctl.loops]
        if not looped or any(facts.accumulation_guard(ctl.branches) for _, ctl in looped):
            return
        step_call, ctl = looped[0]
        loop = ctl.loops[-1]
        key = keys[0]
        sl, sc = facts.pos(step_call)
        ll, lc = facts.pos(loop)
        message = (
            f"config claims {key.display} = {fmt_value(key.value)} micro-batches per update, "
            f"but the key {read_only_in_logs(key)}: {facts.text(step_call.func)}() at {sl}:{sc} "
            f"runs on every iteration of the loop at {ll}:{lc}"
        )
        fix = (
            f"divide the loss by {key.key} and call optimizer.step()/zero_grad() (and the "
            f"scheduler) only when (micro_step + 1) % {key.key} == 0"
        )
        yield self.finding(facts, key.node, message, fix, related=(step_call, loop))
