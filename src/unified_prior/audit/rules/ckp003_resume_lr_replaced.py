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
    (``lr=args.learning_rate``), ``optimizer.load_state_dict`` restores the saved param
    groups, ``lr`` included, and *after* the load the script reads that LR setting again
    (to log it, compare it with the loaded LR, warn about the difference) without writing
    it: the script knows a new LR may be given for the resume, and lets the loaded state
    replace it silently (the original script's "resume from 25K with ``--learning_rate
    1e-5``"). Severity *warning*. An ordinary exact resume, which never looks at the LR
    setting again, is not a finding; nor is a script that writes ``param_group["lr"]``
    anywhere, or uses a timm scheduler (which writes it at every step).
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
            reread = self._read_after(facts, info.lr_arg, load)
            if reread is None:
                continue  # an ordinary resume: the saved LR is the one wanted
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
            rl, rc = facts.pos(reread)
            message += f"; the LR setting is read again at {rl}:{rc} but never written back"
            yield self.finding(facts, load, message, fix, related=(info.call, info.lr_arg, reread))

    @staticmethod
    def _read_after(facts: ScriptFacts, lr_arg: ast.AST, load: ast.Call) -> ast.AST | None:
        """A later read, in the function that loads, of the expression the LR was built
        from (``config["learning_rate"]``, ``args.lr``, a name holding it)."""
        wanted = ast.dump(lr_arg)
        scope = facts.scope_of(load)
        sym = facts.symbol(lr_arg) if isinstance(lr_arg, ast.Name | ast.Attribute) else None
        for node in ast.walk(scope):
            if not isinstance(node, ast.Name | ast.Attribute | ast.Subscript):
                continue
            if getattr(node, "lineno", 0) <= load.lineno or facts.scope_of(node) is not scope:
                continue
            if not isinstance(getattr(node, "ctx", None), ast.Load):
                continue
            if ast.dump(node) == wanted and (sym is None or facts.symbol(node) == sym):
                return node
        return None
