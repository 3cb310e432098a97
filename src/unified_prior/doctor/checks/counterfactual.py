"""INF002, the counterfactual: what the declared schedule would have applied at the steps
that matter, next to what the run applied, and whether that difference alone explains the
failure.

The hand analysis of the original run said the missing cosine decay caused the divergence
between 25K and 90K; the plan it declared is 0.9997× peak at 25K and 0.937× at 90K, so it
could not have. This check says such things with numbers, in either direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unified_prior.doctor.analysis import plan_lr
from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr import lr_verdict
from unified_prior.doctor.findings import Finding, fmt_lr, fmt_step

#: Declared/applied above this through the failure window: the schedule does not explain it.
NOT_EXPLAINED_RATIO = 0.8
#: Declared/applied below this through the window: the schedule alone could explain it.
EXPLAINED_RATIO = 0.5


def failure_window(ctx: Context) -> tuple[str, int, int] | None:
    """(what failed, first step, last step) of the failure the run shows, if any."""
    traj = ctx.trajectory
    if traj is not None and traj.diverged and traj.onset_step is not None:
        return ("divergence", traj.best_step, traj.final_step)
    for name in ("loss", "val_loss"):
        series = ctx.evidence.get(name)
        if series is not None and not np.isfinite(series.values).all():
            first = int(series.steps[np.nonzero(~np.isfinite(series.values))[0][0]])
            return ("non-finite loss", first, first)
    return None


@register("INF002")
def counterfactual(ctx: Context) -> list[Finding]:
    verdict = lr_verdict(ctx)
    declared, obs = ctx.declared, verdict.obs
    if declared is None or declared.plan is None or obs is None:
        return []
    failure = failure_window(ctx)
    if failure is None and verdict.kind == "applied":
        return []
    plan = declared.plan
    marks: dict[int, str] = {}
    first_seg = plan.segments[0]
    if first_seg.spec.warmup_steps and obs.steps[0] < first_seg.spec.warmup_steps:
        inside = obs.steps[obs.steps < first_seg.spec.warmup_steps]
        marks[int(inside[0])] = "first observation in the warmup"
    if first_seg.spec.warmup_steps and first_seg.spec.warmup_steps <= obs.steps[-1]:
        marks[first_seg.spec.warmup_steps] = "end of declared warmup"
    traj = ctx.trajectory
    if traj is not None:
        marks[traj.best_step] = "best loss"
        if traj.diverged and traj.onset_step is not None:
            marks.setdefault(traj.onset_step, f"divergence onset ({traj.onset_level[1]})")
        marks.setdefault(traj.final_step, "last step")
    if failure is not None and failure[0] == "non-finite loss":
        marks[failure[1]] = "first non-finite loss"
    rows: list[dict[str, Any]] = []
    for step in sorted(marks):
        applied = obs.at(step)
        planned = float(plan_lr(declared, np.array([step]))[0])
        extrapolated = not (obs.steps[0] <= step <= obs.steps[-1])
        rows.append(
            {
                "step": step,
                "label": marks[step],
                "declared_lr": planned,
                "applied_lr": applied,
                "ratio": planned / applied if applied > 0 else None,
                "applied_extrapolated": extrapolated,
            }
        )
    table = "; ".join(
        f"step {fmt_step(r['step'])} ({r['label']}): declared {fmt_lr(r['declared_lr'])}, "
        f"applied {fmt_lr(r['applied_lr'])}"
        + (f" → {r['ratio']:.4g}×" if r["ratio"] is not None else "")
        for r in rows
    )
    explains, statement = _statement(failure, rows, traj.best_step if traj else None)
    return [
        Finding(
            "INF002",
            "info",
            f"counterfactual: the declared schedule {explains} the failure"
            if failure
            else "counterfactual: declared vs applied LR",
            f"Declared ({plan.describe()}) vs applied LR, declared/applied at the key steps: "
            f"{table}. {statement}",
            {
                "key_steps": rows,
                "explains": explains,
                "statement": statement,
                "failure": None
                if failure is None
                else {"kind": failure[0], "from_step": failure[1], "to_step": failure[2]},
                "verdict": verdict.kind,
            },
            steps=[int(r["step"]) for r in rows],
        )
    ]


def _statement(
    failure: tuple[str, int, int] | None, rows: list[dict[str, Any]], best_step: int | None
) -> tuple[str, str]:
    if failure is None:
        return "n/a", (
            "The run shows no divergence or non-finite loss, so there is no failure "
            "for the schedule difference to explain; it still changed the LR the "
            "run trained at."
        )
    kind, start, end = failure
    window = [r for r in rows if start <= r["step"] <= end and r["ratio"] is not None]
    if not window:
        return "may not explain", "No LR evidence covers the failure window."
    ratios = [r["ratio"] for r in window]
    lo, hi = min(ratios), max(ratios)
    span = f"steps {fmt_step(start)}–{fmt_step(end)}"
    early = [
        r
        for r in rows
        if r["ratio"] is not None
        and best_step is not None
        and r["step"] < best_step
        and r["ratio"] < EXPLAINED_RATIO
    ]
    warmup_note = (
        f" The only large difference is before the best point (declared/applied "
        f"{early[0]['ratio']:.3g}× at step {fmt_step(early[0]['step'])}, in the "
        "warmup), where the loss was still falling."
        if early
        else ""
    )
    if lo >= NOT_EXPLAINED_RATIO:
        return "does not explain", (
            f"The schedule alone does NOT explain the {kind}: over {span} the declared schedule "
            f"would still have applied {lo:.3g}–{hi:.3g}× the LR the run used, so a run on the "
            f"declared plan would have trained at nearly the same LR through the {kind}."
            f"{warmup_note} Resuming on the declared plan would give about the same LR again; "
            "the evidence is consistent with a peak LR too high for this stage of training."
        )
    if hi <= EXPLAINED_RATIO:
        return "could explain", (
            f"The schedule alone could explain the {kind}: over {span} the declared schedule "
            f"would have applied only {lo:.3g}–{hi:.3g}× the LR the run used. Resuming on the "
            "declared plan is the natural first fix."
        )
    return "partly explains", (
        f"The schedule partly explains the {kind}: over {span} the declared schedule would "
        f"have applied {lo:.3g}–{hi:.3g}× the LR the run used, a real but not decisive cut."
    )
