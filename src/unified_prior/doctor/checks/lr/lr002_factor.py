"""LR002: the applied LR is the declared plan run k× faster or slower, or scaled."""

from __future__ import annotations

from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr.verdict import lr_verdict
from unified_prior.doctor.findings import Finding, fmt_lr, fmt_step


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
