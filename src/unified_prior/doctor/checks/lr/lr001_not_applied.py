"""LR001: the declared schedule was not applied (constant, or not following the plan)."""

from __future__ import annotations

from unified_prior.doctor.analysis import LrObservations
from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr.verdict import lr_verdict
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.findings import Finding, Severity, fmt_lr, fmt_step


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
