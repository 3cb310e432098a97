"""CKP002: a resume restores the optimizer but not the scheduler, or builds it too late."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


@register
class ResumeOmitsScheduler(Rule):
    """Two resume mistakes, severity *warning* (they bite only on resume):

    * ``optimizer.load_state_dict`` restores the optimizer while the scheduler on it keeps
      its fresh state (no ``scheduler.load_state_dict``, no ``last_epoch=`` argument or
      ``scheduler.last_epoch = start_epoch - 1`` assignment): warmup and
      decay restart from zero on top of the restored LR;
    * the scheduler is built *after* the optimizer state was loaded: its constructor takes
      the restored (already decayed) LR as its base and performs an initial step on it.
    """

    code = "CKP002"
    name = "resume-omits-scheduler"
    severity = "warning"
    summary = "resume restores optimizer but not scheduler, or builds the scheduler after loading"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        loads = facts.optimizer_loads()
        if not loads:
            return
        for sched in [*facts.active_schedulers(), *facts.parameter_schedulers]:
            if sched.flow.escapes or not sched.steps or sched.family == "timm":
                continue  # timm schedulers take the count at every step: nothing to restore
            for load, opt_expr in loads:
                if sched.family == "parameter":
                    # Received ready-made: its optimizer is unknown, so only a load by the
                    # same class (or function) that keeps the scheduler is judged.
                    owner = facts.class_of(sched.call)
                    same_owner = (owner is not None and facts.class_of(load) is owner) or (
                        facts.scope_of(load) is facts.scope_of(sched.call)
                    )
                    if not same_owner:
                        continue
                elif not self._same_optimizer(facts, sched.optimizer, opt_expr):
                    continue
                if not facts.sees_scheduler(load, sched):
                    continue  # built and dropped inside another function (first-epoch warmup)
                ll, lc = facts.pos(load)
                restored = (
                    bool(sched.flow.calls("load_state_dict"))
                    or any(k.arg == "last_epoch" for k in sched.call.keywords)
                    or facts.repositioned(sched)
                )
                late = (
                    sched.family != "parameter"
                    and facts.scope_of(load) is facts.scope_of(sched.call)
                    and (sched.call.lineno > load.lineno)
                )
                if late:
                    message = (
                        f"{sched.cls} ({sched.name}) is built after {facts.text(load.func)}() "
                        f"({ll}:{lc}): its constructor takes the restored LR as the base LR and "
                        "steps once, so the resumed schedule starts from the wrong value"
                    )
                    fix = (
                        "build the optimizer and the scheduler first, then load both: "
                        "optimizer.load_state_dict(...); scheduler.load_state_dict(...)"
                    )
                    yield self.finding(facts, sched.call, message, fix, related=(load,))
                    break
                if not restored:
                    sl, sc = facts.pos(sched.call)
                    which = (
                        f"the scheduler received as parameter {sched.cls!r} ({sl}:{sc})"
                        if sched.family == "parameter"
                        else f"{sched.cls} ({sched.name}, {sl}:{sc})"
                    )
                    message = (
                        f"{facts.text(load.func)}() restores the optimizer, but {which} is "
                        "never restored: the schedule restarts from step 0 after every resume"
                    )
                    fix = (
                        f"save {sched.name}.state_dict() in the checkpoint and call "
                        f"{sched.name}.load_state_dict(ckpt['scheduler']) next to the optimizer"
                    )
                    yield self.finding(facts, load, message, fix, related=(sched.call,))
                    break

    @staticmethod
    def _same_optimizer(facts: ScriptFacts, sched_opt: object, expr: ast.AST) -> bool:
        sym = facts.symbol(expr)
        if sym is None or sched_opt is None:
            return False
        if sym == sched_opt:
            return True
        info = facts.optimizer_of(sym)
        return info is not None and sched_opt in info.flow.symbols
