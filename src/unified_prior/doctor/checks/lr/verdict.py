"""The one LR verdict the LR checks share: how the applied LR relates to the declared plan.

``lr_verdict`` classifies it once per run (cached in ``Context.shared``); each LR finding
module (``lr001_not_applied`` ... ``lr004_warmup``) reports its own kinds of verdict, and
INF002 and the recommendations read the same verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from unified_prior.doctor.analysis import (
    LR_RTOL,
    LrObservations,
    best_ratio,
    calibrated,
    checkpoints_without_scheduler,
    plan_lr,
)
from unified_prior.doctor.checks.base import Context
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import CheckpointInfo
from unified_prior.doctor.inference import LrEvent, infer_schedule

#: Observations beyond this many are thinned evenly for the factor searches.
MAX_OBSERVATIONS = 1000
#: Time factors tried for LR002: the scheduler stepped k× per update (or every k updates).
TIME_FACTORS = tuple(range(2, 65))
#: Share of observations that must fit a hypothesis for it to be the verdict.
FIT_SHARE = 0.9

VerdictKind = Literal[
    "applied",
    "warmup_differs",
    "constant",
    "time_factor",
    "value_factor",
    "restart",
    "jump",
    "mismatch",
    "unknown",
]


@dataclass
class LrVerdict:
    kind: VerdictKind
    obs: LrObservations | None = None
    factor: float | None = None
    resume_step: int | None = None
    fit_share: float = 0.0
    no_scheduler: list[CheckpointInfo] = field(default_factory=list)
    #: Rises of the LR after its peak (``doctor.inference``) that explain a resume verdict.
    events: list[LrEvent] = field(default_factory=list)


def _thin(obs: LrObservations) -> LrObservations:
    if len(obs) <= MAX_OBSERVATIONS:
        return obs
    index = np.unique(np.linspace(0, len(obs) - 1, MAX_OBSERVATIONS).astype(np.int64))
    return LrObservations(obs.steps[index], obs.values[index], obs.source)


def _fits(ratios: np.ndarray, target: float = 1.0) -> float:
    return float(np.mean(np.abs(ratios / target - 1.0) <= LR_RTOL)) if ratios.size else 0.0


def _resume_candidates(ctx: Context, obs: LrObservations, declared: Declared) -> list[int]:
    """Resume steps: recorded ones, plus jumps in the applied LR that the plan does not make."""
    assert declared.plan is not None
    replans = {s.start_step for s in declared.plan.segments}
    # A "restart" is another run appended to the same file (its steps start over), not a
    # resume of this one: the LR there is that run's own warmup.
    found = {r.step for r in ctx.evidence.resumes if getattr(r, "kind", "resume") == "resume"}
    if len(obs) >= 2:
        applied_change = np.abs(np.diff(np.log(np.maximum(obs.values, 1e-30))))
        planned = plan_lr(declared, obs.steps)
        plan_change = np.abs(np.diff(np.log(np.maximum(planned, 1e-30))))
        for i in np.nonzero((applied_change > math.log(1.5)) & (plan_change < math.log(1.1)))[0]:
            found.add(int(obs.steps[i + 1]))
    return sorted(s for s in found if s > 0 and s not in replans)


def _resume_verdict(ctx: Context, obs: LrObservations, declared: Declared) -> LrVerdict | None:
    for resume in _resume_candidates(ctx, obs, declared):
        before = obs.steps < resume
        after = ~before
        if after.sum() < 2:
            continue
        if not before.any():
            continue  # nothing logged before it: nothing to have jumped from
        pre = LrObservations(obs.steps[before], obs.values[before], obs.source)
        post = LrObservations(obs.steps[after], obs.values[after], obs.source)
        pre_fit = _fits(best_ratio(declared, pre))
        if pre_fit < FIT_SHARE:
            continue  # the run was off the plan before the resume: not a resume problem
        restarted = best_ratio(declared, post, shift=resume)
        differs = (
            np.abs(
                plan_lr(declared, post.steps, shift=resume) / plan_lr(declared, post.steps) - 1.0
            )
            > 5 * LR_RTOL
        )
        if _fits(restarted) >= FIT_SHARE and differs.any():
            return LrVerdict("restart", obs, resume_step=resume, fit_share=_fits(restarted))
        first_ratio = float(
            best_ratio(declared, LrObservations(post.steps[:1], post.values[:1], obs.source))[0]
        )
        if abs(first_ratio - 1.0) > 5 * LR_RTOL:
            return LrVerdict("jump", obs, factor=first_ratio, resume_step=resume)
    return None


def _rise_verdict(
    obs: LrObservations, declared: Declared, no_sched: list[CheckpointInfo]
) -> LrVerdict | None:
    """The LR rose after its peak (once or more, not a regular cycle) and follows the
    declared plan after the last rise: the plan was applied, but resumes moved the LR
    (e.g. YOLOv5 resumed with more epochs, which stretches the linear decay)."""
    inferred = infer_schedule(obs.steps, obs.values)
    if inferred is None or inferred.cyclic or not inferred.rises:
        return None
    last = inferred.rises[-1]
    after = obs.steps >= last.step
    if int(after.sum()) < 3:
        return None
    post = LrObservations(obs.steps[after], obs.values[after], obs.source)
    share = _fits(best_ratio(declared, post))
    if share < FIT_SHARE:
        return None
    kind: VerdictKind = "restart" if any(e.kind == "restart" for e in inferred.rises) else "jump"
    return LrVerdict(
        kind,
        obs,
        factor=max(e.factor for e in inferred.rises),
        resume_step=inferred.rises[0].step,
        fit_share=share,
        no_scheduler=no_sched,
        events=inferred.rises,
    )


def lr_verdict(ctx: Context) -> LrVerdict:
    """Classify how the applied LR relates to the declared plan (computed once)."""
    if "lr_verdict" in ctx.shared:
        verdict: LrVerdict = ctx.shared["lr_verdict"]
        return verdict
    verdict = _classify(ctx)
    ctx.shared["lr_verdict"] = verdict
    return verdict


def _classify(ctx: Context) -> LrVerdict:
    obs, declared = ctx.plan_obs, ctx.declared
    no_sched = checkpoints_without_scheduler(ctx.evidence)
    if obs is None or declared is None or not len(obs):
        return LrVerdict(
            "unknown", obs if obs is not None and len(obs) else None, no_scheduler=no_sched
        )
    if not declared.peak_known:
        declared = ctx.declared = calibrated(declared, obs)
    if declared.plan is None:
        # The config names a moving schedule we cannot evaluate; constant LR across
        # checkpoints with no scheduler trace still proves it never ran.
        moving = declared.kind not in (None, "constant")
        if moving and obs.constant and len(obs) >= 2 and no_sched:
            return LrVerdict("constant", obs, no_scheduler=no_sched)
        return LrVerdict("unknown", obs, no_scheduler=no_sched)
    thin = _thin(obs)
    ratios = best_ratio(declared, thin)
    share = _fits(ratios)
    if share >= FIT_SHARE:
        resumed = _resume_verdict(ctx, obs, declared)
        return resumed or LrVerdict("applied", obs, fit_share=share, no_scheduler=no_sched)
    planned = plan_lr(declared, thin.steps)
    plan_moves = float(planned.max()) > float(planned.min()) * (1 + 2 * LR_RTOL)
    if obs.constant and (plan_moves or len(obs) == 1):
        return LrVerdict("constant", obs, fit_share=share, no_scheduler=no_sched)
    resumed = _resume_verdict(ctx, obs, declared) or _rise_verdict(obs, declared, no_sched)
    if resumed is not None:
        return resumed
    # On the plan once the declared warmup is over: the warmup alone differs (LR004 says
    # how when it is missing); calling the whole schedule "not applied" would mislead.
    warmup = declared.plan.segments[0].spec.warmup_steps
    after = thin.steps >= warmup
    if warmup and after.sum() >= 2 and not after.all():
        post_share = _fits(ratios[after])
        if post_share >= FIT_SHARE:
            return LrVerdict("warmup_differs", obs, fit_share=post_share, no_scheduler=no_sched)
    best: tuple[float, float] = (0.0, 1.0)
    for k in TIME_FACTORS:
        for scale in (float(k), 1.0 / k):
            # Only where the sped-up clock is still inside the plan: past its end, HF's cosine
            # turns back up, torch's chainable cosine oscillates and others hold a floor.
            ratios_k = best_ratio(declared, thin, scale=scale, within_plan=True)
            inside = ratios_k[np.isfinite(ratios_k)]
            if inside.size < max(5, len(thin) // 8):
                continue
            fit = _fits(inside)
            if fit > best[0] + 1e-9:
                best = (fit, scale)
    if best[0] >= FIT_SHARE:
        return LrVerdict(
            "time_factor", obs, factor=best[1], fit_share=best[0], no_scheduler=no_sched
        )
    # The factor from the exact steps: best_ratio's ±1-step choice pulls each ratio toward 1.
    planned_exact = plan_lr(declared, thin.steps)
    positive = planned_exact > 0
    value_factor = (
        float(np.median(thin.values[positive] / planned_exact[positive])) if positive.any() else 1.0
    )
    fit = _fits(thin.values[positive] / planned_exact[positive], value_factor)
    if abs(value_factor - 1.0) > 5 * LR_RTOL and fit >= FIT_SHARE:
        return LrVerdict(
            "value_factor", obs, factor=value_factor, fit_share=fit, no_scheduler=no_sched
        )
    return LrVerdict("mismatch", obs, fit_share=share, no_scheduler=no_sched)
