"""LR002 and LR003 without a declared schedule: what the LR series shows on its own.

When no plan was declared (or it cannot be evaluated), ``doctor.inference`` reads the
applied LR: a rise after the peak that is not a regular cycle is LR003 (a resume that did
not restore the scheduler, or changed its length: an HF run resumed without
``scheduler.pt`` warms up again); a smooth decay that reaches its floor at 1/k of the run is
LR002, matched against the gradient accumulation or the epoch length a config gives.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.checks.lr import lr_verdict
from unified_prior.doctor.declared import _ACCUM_KEYS, _first, _flatten
from unified_prior.doctor.evidence import as_step
from unified_prior.doctor.findings import Finding, Severity, fmt_lr, fmt_step
from unified_prior.doctor.inference import BIG_JUMP_FACTOR, Inferred

#: k found from the LR and k from a config agree within this share.
K_MATCH = 0.15


def _applies(ctx: Context) -> Inferred | None:
    """The inferred schedule when the declared comparison did not already judge the LR."""
    inferred = ctx.inferred
    if inferred is None:
        return None
    return inferred if lr_verdict(ctx).kind == "unknown" else None


def accumulation(ctx: Context) -> tuple[int | None, str | None]:
    """The gradient accumulation a declaration or any config gives, and where."""
    if ctx.declared is not None and ctx.declared.grad_accum_steps:
        return ctx.declared.grad_accum_steps, ctx.declared.source
    for source, data in ctx.evidence.configs:
        value, key = _first(_flatten(data), _ACCUM_KEYS, as_step)
        if value and value > 1:
            return int(value), f"{key} in {source}"
    return None, None


def run_length(ctx: Context) -> tuple[int | None, str | None]:
    """The run's planned length in steps from a config (HF trainer_state ``max_steps``)."""
    if ctx.declared is not None and ctx.declared.plan is not None and ctx.same_clock:
        return ctx.declared.plan.max_steps, ctx.declared.source
    for source, data in ctx.evidence.configs:
        value = as_step(data.get("max_steps")) if isinstance(data, Mapping) else None
        if value:
            return value, f"max_steps in {source}"
    return None, None


def steps_per_epoch(ctx: Context) -> float | None:
    epochs = ctx.evidence.get("epoch")
    if epochs is None or len(epochs) < 2 or getattr(ctx.evidence, "step_unit", "step") != "step":
        return None
    span = float(epochs.values[-1] - epochs.values[0])
    return float(epochs.steps[-1] - epochs.steps[0]) / span if span > 0 else None


@register("LR003")
def inferred_rise(ctx: Context) -> list[Finding]:
    inferred = _applies(ctx)
    if inferred is None or inferred.cyclic or not inferred.rises:
        return []
    rises = inferred.rises
    resumes = {r.step for r in ctx.evidence.resumes}
    worst = max(rises, key=lambda e: e.factor if e.kind != "restart" else float("inf"))
    restart = any(e.kind == "restart" for e in rises)
    severity: Severity = "error" if restart or worst.factor >= BIG_JUMP_FACTOR else "warning"
    parts = []
    for event in rises:
        at_resume = any(abs(event.step - r) <= 1 for r in resumes)
        where = f"step {fmt_step(event.step)}" + (
            " (a resume: the log went back)" if at_resume else ""
        )
        if event.kind == "restart":
            parts.append(
                f"at {where} the LR fell from {fmt_lr(event.before)} to {fmt_lr(event.after)} "
                "and climbed again: the warmup started over"
            )
        else:
            parts.append(
                f"at {where} it rose from {fmt_lr(event.before)} to {fmt_lr(event.after)} "
                f"(×{event.factor:.3g}, {event.factor - 1:+.0%})"
            )
    message = (
        f"No schedule was declared, but the applied LR ({ctx.lr.source if ctx.lr else 'LR'}) "
        f"{inferred.summary()}. After its peak, " + "; ".join(parts) + ". Linear, cosine, "
        "step and inverse-sqrt schedules only come down after the warmup, so this is "
        "consistent with a resume that did not restore the scheduler's state (it was rebuilt "
        "from step 0) or that changed the schedule's length (e.g. more epochs on resume)."
    )
    title = (
        f"warmup restarted at step {fmt_step(next(e for e in rises if e.kind == 'restart').step)}"
        if restart
        else f"LR rose ×{worst.factor:.3g} at step {fmt_step(worst.step)} after its peak"
    )
    return [
        Finding(
            "LR003",
            severity,
            title,
            message,
            {
                "source": "inferred from the LR series (no declared schedule)",
                "events": [e.to_dict() for e in rises],
                "resume_step": rises[0].step,
                "kind": "restart" if restart else "jump",
                "factor": worst.factor,
                "inferred": inferred.to_dict(),
            },
            steps=[e.step for e in rises],
        )
    ]


@register("LR002")
def inferred_early_end(ctx: Context) -> list[Finding]:
    inferred = _applies(ctx)
    if inferred is None or inferred.rises:
        return []
    length, length_source = run_length(ctx)
    k = inferred.finished_early(length)
    if k is None:
        return []
    accum, accum_source = accumulation(ctx)
    spe = steps_per_epoch(ctx)
    matched: dict[str, Any] | None = None
    if accum and abs(k / accum - 1.0) <= K_MATCH:
        matched = {
            "k": accum,
            "by": "gradient accumulation",
            "source": accum_source,
            "why": f"the run accumulates {accum} micro-batches per update ({accum_source}): "
            "consistent with a scheduler stepped once per micro-batch instead of once per "
            "optimizer update",
        }
    elif spe and abs(k / spe - 1.0) <= K_MATCH:
        matched = {
            "k": round(spe),
            "by": "epoch length",
            "source": "logged epochs",
            "why": f"an epoch is about {spe:.0f} steps: consistent with a schedule whose "
            "length was given in epochs but stepped every update",
        }
    if matched is None and inferred.cyclic:
        return []  # a cyclic schedule no config explains: intended (triangular, SGDR …)
    end = inferred.floor_step or 0
    run_end = max(length or 0, inferred.last_step)
    k_shown = matched["k"] if matched else round(k, 1)
    wrapped = any(e.kind == "wrap" for e in inferred.events)
    message = (
        f"The applied LR {inferred.summary()}. Its decay reached the floor at step "
        f"{fmt_step(end)}, 1/{k:.2g} of the run's {fmt_step(run_end)} steps"
        + (f" ({length_source})" if length_source else " (the last logged step)")
        + (
            ", then turned back up (what HF's and torch's cosines do past their end)"
            if wrapped
            else ", and stayed there"
        )
        + ": the rest of the run trained at the floor LR. "
        + (
            matched["why"][0].upper() + matched["why"][1:] + "."
            if matched
            else "This is consistent with a scheduler stepped several times per update, "
            "or a schedule length counted in the wrong unit."
        )
    )
    return [
        Finding(
            "LR002",
            "error" if matched else "warning",
            f"LR schedule finished at 1/{k_shown} of the run (step {fmt_step(end)})",
            message,
            {
                "source": "inferred from the LR series (no declared schedule)",
                "kind": "step_scale",
                "k": k_shown,
                "factor": float(k),
                "floor_step": end,
                "run_end": run_end,
                "matched": matched,
                "grad_accum_steps": accum,
                "steps_per_epoch": spe,
            },
            steps=[end, run_end],
        )
    ]


def describe(ctx: Context) -> dict[str, Any] | None:
    """The inferred schedule for the report (always, declared or not)."""
    inferred = ctx.inferred
    if inferred is None:
        return None
    data = inferred.to_dict()
    data["source"] = ctx.lr.source if ctx.lr is not None else None
    return data
