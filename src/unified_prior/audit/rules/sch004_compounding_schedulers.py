"""SCH004: several schedulers drive one optimizer (their effects compound)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from unified_prior.audit.finding import Finding
from unified_prior.audit.model.objects import SchedulerInfo
from unified_prior.audit.model.tree import Symbol
from unified_prior.audit.rules import register
from unified_prior.audit.rules.base import Rule
from unified_prior.audit.script import ScriptFacts


def _is_warmup(sched: SchedulerInfo) -> bool:
    return sched.cls in {"LinearLR", "ConstantLR"} or "warm" in sched.name.lower()


def _branch_sides(facts: ScriptFacts, node: ast.AST) -> dict[int, str]:
    """For each ``if`` around ``node`` (in its function), the side ``node`` is on."""
    return {id(branch): side for branch, side in facts.control(node).branches}


def _exclusive(facts: ScriptFacts, steps_a: list[ast.Call], steps_b: list[ast.Call]) -> bool:
    """Every step of one scheduler sits on the other side of some ``if`` from every step of
    the other (``if step < warmup: a.step() else: b.step()``, ``elif`` chains included): no
    update steps both."""
    if not steps_a or not steps_b:
        return False
    for a in steps_a:
        sides_a = _branch_sides(facts, a)
        for b in steps_b:
            sides_b = _branch_sides(facts, b)
            if not any(sides_a[k] != side for k, side in sides_b.items() if k in sides_a):
                return False
    return True


@register
class CompoundingSchedulers(Rule):
    """Two schedulers built side by side on one optimizer and both stepped in the same update: torch
    schedulers are chainable (each rescales the LR the other left, and each constructor
    rewrites it), so the LR is neither schedule's, e.g. a ``LinearLR`` warmup and a
    ``CosineAnnealingLR`` stepped alternately. Severity *error*.

    Silent for schedulers stepped in exclusive phases (``if step < warmup: warmup.step()
    else: cosine.step()`` gives exactly the planned LR, as ``SequentialLR`` does), for
    ``SequentialLR``/``ChainedScheduler`` (they own their children), for
    schedulers built in different ``if`` branches (one or the other), and for a warmup
    built elsewhere for the first epoch only (torchvision's detection reference builds
    it inside ``train_one_epoch``).
    """

    code = "SCH004"
    name = "compounding-schedulers"
    severity = "error"
    summary = "several schedulers drive one optimizer (compounding)"

    def check(self, facts: ScriptFacts) -> Iterator[Finding]:
        # Schedulers that run together: same optimizer, same function, same branches, same loop.
        groups: dict[tuple[Symbol, int, tuple[tuple[int, str], ...], int], list[SchedulerInfo]] = {}
        for sched in facts.active_schedulers():
            if sched.flow.escapes or not sched.steps or sched.optimizer is None:
                continue
            opt = facts.optimizer_of(sched.optimizer)
            opt_id: Symbol = (id(opt.call), "") if opt is not None else sched.optimizer
            branches = tuple((id(node), side) for node, side in sched.control.branches)
            key = (
                opt_id,
                id(sched.control.scope),
                branches,
                id(sched.control.loops[-1]) if sched.control.loops else 0,
            )
            groups.setdefault(key, []).append(sched)
        for members in groups.values():
            distinct = [
                m
                for i, m in enumerate(members)
                if not any(m.flow.symbols & o.flow.symbols for o in members[:i])
            ]
            if len(distinct) < 2:
                continue
            first, *rest = distinct
            for other in rest:
                if _exclusive(facts, first.steps, other.steps):
                    continue  # one phase or the other, as SequentialLR does: correct
                fl, fc = facts.pos(first.call)
                message = (
                    f"{other.cls} ({other.name}) and {first.cls} ({first.name}, {fl}:{fc}) are "
                    f"both built on {other.optimizer_text} and both stepped: chainable schedulers "
                    "rescale each other's LR, so the run follows neither schedule"
                )
                # SequentialLR runs its children in list order: the warmup must come first.
                ordered = sorted((first, other), key=lambda m: not _is_warmup(m))
                names = ", ".join(m.name for m in ordered)
                fix = (
                    f"combine them into one scheduler: SequentialLR({other.optimizer_text}, "
                    f"[{names}], milestones=[warmup_steps]) and step only that"
                )
                yield self.finding(
                    facts,
                    other.call,
                    message,
                    fix,
                    related=(first.call, *first.steps[:1], *other.steps[:1]),
                )
