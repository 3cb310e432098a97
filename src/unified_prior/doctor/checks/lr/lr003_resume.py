"""LR003: at a resume the LR jumps off the plan, or the warmup starts again."""

from __future__ import annotations

from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr.verdict import lr_verdict
from unified_prior.doctor.findings import Finding, Severity, fmt_lr, fmt_step
from unified_prior.doctor.inference import BIG_JUMP_FACTOR


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
