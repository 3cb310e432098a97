"""LR004: the declared warmup never happened."""

from __future__ import annotations

from unified_prior.doctor.analysis import plan_lr
from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr.verdict import lr_verdict
from unified_prior.doctor.findings import Finding, fmt_lr, fmt_step


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
