"""The LR family: is the declared schedule what the optimizer actually used?

No tool we surveyed compares the LR a run applied with the schedule it declared. Evidence of
the applied LR is the logged LR and, when nothing was logged, the param groups stored in
checkpoints. One verdict is computed and shared:

- ``LR001`` the plan moves but the applied LR is constant (or simply does not follow it),
  including from checkpoints alone: groups at the peak LR, no ``initial_lr``, no scheduler
  state means no torch scheduler was ever built;
- ``LR002`` the applied LR is the plan run k× faster or slower (a scheduler stepped per
  micro-batch runs ``grad_accum_steps``× ahead), or the plan scaled by a constant;
- ``LR003`` at a resume the LR jumps off the plan, or the warmup starts again;
- ``LR004`` the declared warmup never happened.
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
from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import CheckpointInfo
from unified_prior.doctor.findings import Finding, Severity, fmt_lr, fmt_step
from unified_prior.doctor.inference import BIG_JUMP_FACTOR, LrEvent, infer_schedule

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


def _samples(declared: Declared, steps: list[int]) -> str:
    assert declared.plan is not None
    return ", ".join(f"{fmt_lr(declared.plan.lr_at(s))} at {fmt_step(s)}" for s in steps)


def _key_steps(obs: LrObservations, declared: Declared) -> list[int]:
    assert declared.plan is not None
    lo, hi = int(obs.steps[0]), int(obs.steps[-1])
    marks = {lo, hi}
    for seg in declared.plan.segments:
        end = seg.start_step + seg.spec.warmup_steps
        if seg.spec.warmup_steps and lo <= end <= hi:
            marks.add(end)
    return sorted(marks)


@register("LR001")
def schedule_not_applied(ctx: Context) -> list[Finding]:
    verdict = lr_verdict(ctx)
    declared, obs = ctx.declared, verdict.obs
    if verdict.kind not in ("constant", "mismatch") or declared is None or obs is None:
        return []
    span = f"steps {fmt_step(obs.steps[0])}–{fmt_step(obs.steps[-1])}"
    if len(obs) == 1:
        span = f"step {fmt_step(obs.steps[0])}"
    claim = (
        declared.plan.describe()
        if declared.plan
        else f"a {declared.kind} schedule ({declared.problem})"
    )
    evidence: dict[str, object] = {
        "declared_source": declared.source,
        "declared": claim,
        "applied_source": obs.source,
        "observations": len(obs),
        "first_step": int(obs.steps[0]),
        "last_step": int(obs.steps[-1]),
        "applied_min": float(obs.values.min()),
        "applied_max": float(obs.values.max()),
        "fit_share": verdict.fit_share,
    }
    if verdict.kind == "constant":
        message = (
            f"{declared.source} declares {claim}, but the applied LR was "
            f"{fmt_lr(float(obs.values[0]))} at all {len(obs)} observation(s) ({span}; "
            f"from {obs.source})."
        )
        title = (
            f"declared {declared.kind} schedule not applied: LR constant at "
            f"{fmt_lr(float(obs.values[0]))}"
        )
    else:
        message = (
            f"{declared.source} declares {claim}, but the applied LR matches it at only "
            f"{verdict.fit_share:.0%} of {len(obs)} observation(s) ({span}; from "
            f"{obs.source}) and is not the plan shifted, sped up or scaled."
        )
        title = "applied LR does not follow the declared schedule"
    if declared.plan is not None:
        keys = _key_steps(obs, declared)
        message += f" The plan gives {_samples(declared, keys)}."
        evidence["plan_at"] = {str(s): declared.plan.lr_at(s) for s in keys}
        evidence["applied_at"] = {str(s): obs.at(s) for s in keys}
    if verdict.no_scheduler:
        n = len(verdict.no_scheduler)
        message += (
            f" None of the {n} checkpoint(s) has `initial_lr` in its optimizer param "
            "groups or any scheduler state: no torch LR scheduler was ever built on "
            "this optimizer (schedulers write `initial_lr` when constructed)."
        )
        evidence["checkpoints_without_scheduler"] = [c.path.name for c in verdict.no_scheduler]
    message += (
        " Nothing changed the LR after the optimizer was built: consistent with a schedule "
        "that is configured but not wired into the loop (`uprior audit` on the script "
        "shows where)."
        if verdict.kind == "constant"
        else ""
    )
    # A constant LR against a moving plan is proof; a partial mismatch against a plan that
    # rests on assumed values (a framework default, a guessed floor) may be the assumption.
    severity: Severity = "error"
    if verdict.kind == "mismatch" and declared.assumed and verdict.fit_share >= 0.3:
        severity = "warning"
        message += (
            f" Severity warning, not error: {verdict.fit_share:.0%} of the points do match, "
            "and the plan rests on assumed values (listed below)."
        )
    return [
        Finding(
            "LR001",
            severity,
            title,
            message,
            evidence,
            steps=[int(obs.steps[0]), int(obs.steps[-1])],
        )
    ]


@register("LR002")
def constant_factor(ctx: Context) -> list[Finding]:
    verdict = lr_verdict(ctx)
    declared, obs = ctx.declared, verdict.obs
    if verdict.kind not in ("time_factor", "value_factor") or declared is None or obs is None:
        return []
    assert verdict.factor is not None and declared.plan is not None
    factor = verdict.factor
    if verdict.kind == "time_factor":
        ahead = factor > 1
        k = round(factor if ahead else 1 / factor)
        accum = declared.grad_accum_steps
        why = (
            f"; the run declares grad_accum_steps={accum}: consistent with a scheduler stepped "
            "once per micro-batch instead of once per optimizer update"
            if ahead and accum == k
            else ": consistent with a scheduler stepped once per micro-batch (gradient "
            "accumulation) or counted in the wrong unit"
            if ahead
            else ": consistent with a scheduler stepped every few updates (or per epoch)"
        )
        step = int(obs.steps[len(obs) // 2])
        warmup = declared.plan.segments[0].spec.warmup_steps
        message = (
            f"The applied LR is the declared plan run {k}× {'faster' if ahead else 'slower'}"
            f" at {verdict.fit_share:.0%} of {len(obs)} observations: at step "
            f"{fmt_step(step)} it was {fmt_lr(obs.at(step))}, the plan's value for step "
            f"{fmt_step(step * factor)}, not {fmt_lr(declared.plan.lr_at(step))}{why}. "
        )
        if warmup:
            message += (
                f"The warmup ends at update {fmt_step(warmup / factor)} instead of "
                f"{fmt_step(warmup)}; "
            )
        message += (
            f"the decay runs out {k}× early."
            if ahead
            else f"the decay would take {k}× the declared {fmt_step(declared.plan.max_steps)} "
            "steps."
        )
        title = f"LR schedule runs {k}× {'ahead of' if ahead else 'behind'} the optimizer step"
        evidence = {
            "kind": "step_scale",
            "factor": factor,
            "k": k,
            "grad_accum_steps": accum,
            "fit_share": verdict.fit_share,
        }
    else:
        message = (
            f"The applied LR is {factor:.4g}× the declared plan at {verdict.fit_share:.0%}"
            f" of {len(obs)} observations (e.g. {fmt_lr(float(obs.values[-1]))} at step "
            f"{fmt_step(obs.steps[-1])} against "
            f"{fmt_lr(declared.plan.lr_at(int(obs.steps[-1])))}): the shape is right, the "
            "peak is not; a base LR scaled by world size or accumulation count does this."
        )
        title = f"applied LR is {factor:.3g}× the declared plan"
        evidence = {"kind": "lr_scale", "factor": factor, "fit_share": verdict.fit_share}
    return [
        Finding(
            "LR002",
            "error",
            title,
            message,
            evidence,
            steps=[int(obs.steps[0]), int(obs.steps[-1])],
        )
    ]


@register("LR003")
def resume_jump(ctx: Context) -> list[Finding]:
    verdict = lr_verdict(ctx)
    declared, obs = ctx.declared, verdict.obs
    if verdict.kind not in ("restart", "jump") or declared is None or obs is None:
        return []
    assert verdict.resume_step is not None and declared.plan is not None
    resume = verdict.resume_step
    before = obs.steps[obs.steps < resume]
    after = obs.steps[obs.steps >= resume]
    last_before = fmt_lr(obs.at(int(before[-1]))) if before.size else "n/a"
    first_after = int(after[0])
    severity: Severity = "error"
    if verdict.events:
        rises = "; ".join(
            f"at {declared.unit} {fmt_step(e.step)} "
            + (
                f"the warmup started again ({fmt_lr(e.before)} → {fmt_lr(e.after)})"
                if e.kind == "restart"
                else f"it rose from {fmt_lr(e.before)} to {fmt_lr(e.after)} "
                f"(×{e.factor:.3g}, {e.factor - 1:+.0%})"
            )
            for e in verdict.events
        )
        message = (
            f"The applied LR rose after its peak, which {declared.source} "
            f"({declared.plan.describe()}) never does: {rises}. After the last rise it "
            f"follows the declared plan ({verdict.fit_share:.0%} of the later observations "
            "match), so the plan is applied, but each rise is consistent with a resume that "
            "changed the schedule (a new length, e.g. more epochs on resume, or a scheduler "
            "rebuilt without its state)."
        )
        title = f"LR rose ×{verdict.factor:.3g} after its peak ({len(verdict.events)} rise(s))"
        if verdict.kind == "jump" and (verdict.factor or 1.0) < BIG_JUMP_FACTOR:
            severity = "warning"
    elif verdict.kind == "restart":
        warm = declared.plan.segment_at(resume).spec.warmup_steps
        message = (
            f"At the resume at step {fmt_step(resume)} the LR went from {last_before} to "
            f"{fmt_lr(obs.at(first_after))} and then followed the plan from step 0 again "
            f"({verdict.fit_share:.0%} of {after.size} later observations match the plan "
            f"shifted by {fmt_step(resume)}): the warmup of {fmt_step(warm)} steps ran "
            f"a second time. The plan says {fmt_lr(declared.plan.lr_at(first_after))} "
            f"there. This is consistent with a scheduler state that was not restored (or a "
            "scheduler rebuilt after loading the optimizer)."
        )
        title = f"warmup restarted at the resume at step {fmt_step(resume)}"
    else:
        message = (
            f"At the resume at step {fmt_step(resume)} the LR jumped from {last_before} "
            f"to {fmt_lr(obs.at(first_after))}, {verdict.factor:.3g}× the plan's "
            f"{fmt_lr(declared.plan.lr_at(first_after))}; before the resume it followed "
            "the plan."
        )
        title = f"LR jump at the resume at step {fmt_step(resume)}"
    return [
        Finding(
            "LR003",
            severity,
            title,
            message,
            {
                "resume_step": resume,
                "kind": verdict.kind,
                "factor": verdict.factor,
                "applied_after": obs.at(first_after),
                "planned_after": declared.plan.lr_at(first_after),
                "events": [e.to_dict() for e in verdict.events],
            },
            steps=[e.step for e in verdict.events] or [resume],
        )
    ]


@register("LR004")
def missing_warmup(ctx: Context) -> list[Finding]:
    verdict = lr_verdict(ctx)
    declared, obs = ctx.declared, verdict.obs
    if declared is None or declared.plan is None or obs is None or verdict.kind == "time_factor":
        return []
    first = declared.plan.segments[0]
    warmup = first.spec.warmup_steps
    inside = obs.steps < warmup
    if not warmup or not inside.any():
        return []
    steps = obs.steps[inside]
    applied = obs.values[inside] / first.peak_lr
    planned = plan_lr(declared, steps) / first.peak_lr
    early = planned <= 0.6
    if not early.any() or not (applied[early] >= 0.9).all():
        return []
    s = int(steps[early][0])
    lo, hi = float(applied[early].min()), float(applied[early].max())
    share = f"{lo:.2f}×" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}–{hi:.2f}×"
    return [
        Finding(
            "LR004",
            "warning",
            f"no warmup although {fmt_step(warmup)} warmup steps are declared",
            f"During the declared warmup (steps 0–{fmt_step(warmup)}) the applied LR was already "
            f"{share} the peak at "
            f"{int(early.sum())} observation(s); at step {fmt_step(s)} the plan gives "
            f"{fmt_lr(declared.plan.lr_at(s))} ({planned[early][0]:.3f}× peak) and the run used "
            f"{fmt_lr(obs.at(s))}.",
            {
                "warmup_steps": warmup,
                "observations_in_warmup": int(early.sum()),
                "applied_over_peak": [float(v) for v in applied[early][:20]],
                "planned_over_peak": [float(v) for v in planned[early][:20]],
            },
            steps=[int(v) for v in steps[early][:20].tolist()],
        )
    ]
