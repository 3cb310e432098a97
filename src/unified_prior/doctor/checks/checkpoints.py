"""Checkpoint facts: checkpoints that cannot restore the schedule (CKP101) and the best
checkpoint on disk before the divergence (INF001)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.evidence import CheckpointInfo
from unified_prior.doctor.findings import Finding, fmt_step


@register("CKP101")
def no_schedule_state(ctx: Context) -> list[Finding]:
    usable = ctx.evidence.usable_checkpoints
    if not usable:
        return []
    bare = [c for c in usable if not c.has_scheduler_state and c.plan is None]
    if len(bare) != len(usable):
        return []
    steps = [c.step for c in bare if c.step is not None]
    return [
        Finding(
            "CKP101",
            "warning",
            f"{len(bare)} checkpoint(s) carry no scheduler state and no plan",
            f"None of the {len(bare)} checkpoint(s) (steps {fmt_step(min(steps))}–"
            f"{fmt_step(max(steps))}, layout {bare[0].layout}) stores a scheduler state or the "
            "schedule plan. A resume from them cannot restore the LR schedule: it restarts the "
            "warmup, keeps the optimizer's stored LR, or follows whatever the new command line "
            "says. Save `scheduler.state_dict()` (or the closed-form plan) with the optimizer.",
            {"checkpoints": [c.path.name for c in bare], "layout": bare[0].layout},
            steps=steps,
        )
    ]


def best_checkpoint(ctx: Context) -> tuple[CheckpointInfo | None, str]:
    """The checkpoint nearest the best point and not after the divergence, and why."""
    if "best_checkpoint" in ctx.shared:
        found: tuple[CheckpointInfo | None, str] = ctx.shared["best_checkpoint"]
        return found
    usable = ctx.evidence.usable_checkpoints
    result: tuple[CheckpointInfo | None, str] = (None, "no loadable checkpoint")
    traj = ctx.trajectory
    if usable and traj is not None:
        limit = traj.onset_step if traj.diverged else None
        allowed = [c for c in usable if limit is None or (c.step or 0) <= limit]
        if allowed:
            best = traj.best_step
            # Nearest to the best point; on a tie the earlier one; periodic files before
            # aliases such as best.pt (same weights, but the name carries the step).
            chosen = min(
                allowed,
                key=lambda c: (
                    abs((c.step or 0) - best),
                    c.step or 0,
                    c.path.name.startswith("best"),
                ),
            )
            why = f"nearest to the best {traj.metric} at step {fmt_step(best)}"
            if limit is not None:
                why += f" and not after the divergence onset at step {fmt_step(limit)}"
            result = (chosen, why)
        else:
            result = (None, "every checkpoint on disk is from after the divergence")
    elif usable:
        scored = [c for c in usable if c.val_loss is not None or c.train_loss is not None]
        if scored:
            chosen = min(
                scored,
                key=lambda c: (c.val_loss if c.val_loss is not None else c.train_loss) or 0.0,
            )
            result = (chosen, "lowest loss stored in a checkpoint (no loss series was found)")
    ctx.shared["best_checkpoint"] = result
    return result


def _recorded(ctx: Context) -> dict[str, Any] | None:
    from unified_prior.doctor.conventions import Found
    from unified_prior.doctor.conventions.hf import recorded_best

    if "recorded_best" not in ctx.shared:
        ctx.shared["recorded_best"] = recorded_best(Found(ctx.evidence))
    found: dict[str, Any] | None = ctx.shared["recorded_best"]
    return found


def _recorded_finding(ctx: Context, recorded: dict[str, Any]) -> Finding:
    """INF001 from the HF Trainer's own ``best_model_checkpoint`` (no checkpoint loaded)."""
    traj = ctx.trajectory
    step = recorded["step"]
    parts = [
        f"The HF Trainer recorded {recorded['path']} as its best checkpoint"
        + (f" (best_metric {recorded['best_metric']:.4g}" if recorded["best_metric"] else " (")
        + f", by its metric_for_best_model; from {recorded['source']})."
    ]
    if traj is not None and step is not None:
        parts.append(
            f"The lowest smoothed {traj.metric} is at step {fmt_step(traj.best_step)}"
            + (
                ", the same point."
                if abs(traj.best_step - step) <= max(1, 0.02 * traj.final_step)
                else f"; at step {fmt_step(step)} it was {traj.value_at(step):.4g} against "
                f"{traj.best_loss:.4g}: the Trainer's metric and the loss disagree, so "
                "choose by the metric you care about."
            )
        )
    return Finding(
        "INF001",
        "info",
        f"best checkpoint (recorded by HF): {Path(recorded['path']).name}",
        " ".join(parts),
        {
            "path": recorded["path"],
            "step": step,
            "reason": "best_model_checkpoint recorded by the HF Trainer",
            "best_metric": recorded["best_metric"],
            "loss_best_step": traj.best_step if traj is not None else None,
        },
        steps=[step] if step is not None else [],
    )


@register("INF001")
def best_on_disk(ctx: Context) -> list[Finding]:
    chosen, why = best_checkpoint(ctx)
    recorded = _recorded(ctx)
    if (chosen is None or chosen.step is None) and recorded is not None:
        return [_recorded_finding(ctx, recorded)]
    if chosen is None or chosen.step is None:
        return []
    traj = ctx.trajectory
    loss_there = traj.value_at(chosen.step) if traj is not None else None
    parts = [f"{chosen.path} (step {fmt_step(chosen.step)}) is the best checkpoint on disk: {why}."]
    if loss_there is not None and traj is not None:
        parts.append(
            f"The smoothed {traj.metric} there is {loss_there:.4g} (best {traj.best_loss:.4g})."
        )
    stored = [
        f"{name} {value:.4g}"
        for name, value in (
            ("stored train_loss", chosen.train_loss),
            ("stored val_loss", chosen.val_loss),
        )
        if value is not None
    ]
    if stored:
        parts.append("It records " + ", ".join(stored) + ".")
    aliases = [
        c.path.name
        for c in ctx.evidence.usable_checkpoints
        if c.step == chosen.step and c.path != chosen.path
    ]
    if aliases:
        parts.append(f"Same step: {', '.join(aliases)}.")
    return [
        Finding(
            "INF001",
            "info",
            f"best checkpoint on disk: {chosen.path.name}",
            " ".join(parts),
            {
                "path": str(chosen.path),
                "step": chosen.step,
                "reason": why,
                "loss_at_step": loss_there,
                "train_loss": chosen.train_loss,
                "val_loss": chosen.val_loss,
                "distance_to_best": (chosen.step - traj.best_step) if traj is not None else None,
            },
            steps=[chosen.step],
        )
    ]
