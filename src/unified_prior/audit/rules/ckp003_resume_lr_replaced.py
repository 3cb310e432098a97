"""CKP003: the LR given for a resume is silently replaced by the loaded optimizer state."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


@register
class ResumeLrReplaced(Rule):
    """The optimizer is built with an LR from the config or command line
    (``lr=args.learning_rate``), then ``optimizer.load_state_dict`` restores the saved
    param groups, ``lr`` included: ``--learning_rate 1e-5`` on resume does nothing, and
    the run continues at the saved LR. Severity *warning*: the run continues, just not
    with the LR the user asked for. Silent when the script writes ``param_group["lr"]``
    anywhere, or uses a timm scheduler (which writes it at every step): the written LR wins.
    """

    code = "CKP003"
    name = "resume-lr-replaced"
    severity = "warning"
    summary = "LR given on resume is silently replaced by the loaded optimizer state"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        if facts.lr_writes or any(s.family == "timm" for s in facts.schedulers):
            return  # the script (or timm's scheduler, from its own base LR) writes the LR
        for load, opt_expr in facts.optimizer_loads():
            info = facts.optimizer_of(facts.symbol(opt_expr))
            if info is None or info.lr_arg is None or isinstance(info.lr_arg, ast.Constant):
                continue
            ol, oc = facts.pos(info.call)
            message = (
                f"the optimizer is built with lr={facts.text(info.lr_arg)} ({ol}:{oc}), but "
                f"{facts.text(load.func)}() restores the saved param groups including their "
                "'lr': an LR given for the resume is silently replaced by the saved one"
            )
            fix = (
                "after loading, write the new LR into every param group "
                "(for g in optimizer.param_groups: g['lr'] = g['initial_lr'] = lr), or use "
                "`uprior resume --policy replan --learning-rate X`"
            )
            yield self.finding(facts, load, message, fix, related=(info.call, info.lr_arg))
