"""The recommendation: where to restart from, at which LR and schedule, and why.

For our runs it prints the exact ``uprior resume … --policy replan …`` command; for foreign
runs the checkpoint, LR and schedule, and a short correct PyTorch snippet (a closed-form
``LambdaLR`` stepped once per optimizer update, never two schedulers on one optimizer).

How the new peak LR is chosen: if the loss was still falling at a lower applied LR than the
one it diverged at, that LR (on the 1-2-3-5 grid, rounded down); if the LR was the same on
both sides of the best point (the original run: 1e-4 throughout), the diverging LR says only
that it is too high, so the next half-decade step down (÷3, rounded down to the grid).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from unified_prior.doctor.checks.base import Context
from unified_prior.doctor.checks.checkpoints import best_checkpoint
from unified_prior.doctor.checks.counterfactual import failure_window
from unified_prior.doctor.checks.lr import lr_verdict
from unified_prior.doctor.findings import Finding, fmt_lr, fmt_step

_NO_LR_ADVICE = (
    "The applied LR was never above 0, so no peak LR can be read off the run; check that "
    "the optimizer's LR and the schedule's warmup start are what you meant."
)

#: Fewer finite loss points than this: no verdict, so no "no action needed" either
#: (``diagnose.MIN_LOSS_POINTS``).
MIN_JUDGED_POINTS = 5

#: Divide a diverging LR by this when nothing lower is known to have worked.
HALF_DECADE = 3.0
GRID = (1.0, 2.0, 3.0, 5.0)


def grid_floor(value: float) -> float:
    """The largest m·10^e ≤ ``value`` with m in 1, 2, 3, 5: ``3.33e-5`` → ``3e-5``."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"grid_floor needs a finite LR > 0, got {value}")
    exponent = math.floor(math.log10(value))
    for mantissa in reversed(GRID):
        candidate = mantissa * 10.0**exponent
        if candidate <= value * (1 + 1e-9):
            return float(f"{candidate:.0e}")
    return float(f"{10.0 ** (exponent - 1) * 5:.0e}")


@dataclass
class Recommendation:
    summary: str
    commands: list[str] = field(default_factory=list)
    options: list[dict[str, Any]] = field(default_factory=list)
    snippet: str | None = None
    start_checkpoint: str | None = None
    start_step: int | None = None
    peak_lr: float | None = None
    max_steps: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            "commands": self.commands,
            "options": self.options,
            "snippet": self.snippet,
            "start_checkpoint": self.start_checkpoint,
            "start_step": self.start_step,
            "peak_lr": self.peak_lr,
            "max_steps": self.max_steps,
        }


def recommend(ctx: Context, findings: list[Finding]) -> Recommendation:
    """The recommendation the findings support."""
    codes = {f.code for f in findings if f.severity in ("error", "warning")}
    traj = ctx.trajectory
    points = len(traj.raw) if traj is not None else 0
    for name in ("loss", "val_loss"):
        series = ctx.evidence.get(name)
        if series is not None:
            points = max(points, len(series.finite()))
    if not codes and points < MIN_JUDGED_POINTS:
        return Recommendation(
            f"Not enough data to judge this run: {points} finite loss point(s) (at least "
            f"{MIN_JUDGED_POINTS} are needed). Pass the whole log (every file of the run), or "
            "log the loss more often (e.g. HF `logging_steps`, Lightning `log_every_n_steps`)."
        )
    if not codes:
        return Recommendation(
            "No action needed: nothing at warning or error level was found"
            + (
                " and the declared schedule is applied as declared."
                if lr_verdict(ctx).kind == "applied"
                else "."
            )
        )
    failure = failure_window(ctx)
    verdict = lr_verdict(ctx)
    obs = verdict.obs
    chosen, _ = best_checkpoint(ctx)
    traj = ctx.trajectory
    declared = ctx.declared
    plan = declared.plan if declared is not None else None
    fixes = _code_fixes(codes)
    if failure is None or obs is None:
        actions = [f"{f.code}: {f.action}" for f in findings if f.severity != "info" and f.action]
        summary = " ".join(fixes) or " ".join(actions[:3]) or _first_action(findings)
        rec = Recommendation(summary)
        if chosen is not None:
            rec.start_checkpoint, rec.start_step = str(chosen.path), chosen.step
        return rec

    kind, start, _ = failure
    onset = traj.onset_step if traj is not None and traj.onset_step is not None else start
    lr_failed = obs.at(onset)
    if not (math.isfinite(lr_failed) and lr_failed > 0):
        # A warmup from 0 meeting a NaN at step 0: the LR there says nothing about a peak;
        # the highest LR the run applied is the one to judge against.
        positive = obs.values[np.isfinite(obs.values) & (obs.values > 0)]
        if not positive.size:
            rec = Recommendation(" ".join(fixes) or _NO_LR_ADVICE)
            if chosen is not None:
                rec.start_checkpoint, rec.start_step = str(chosen.path), chosen.step
            return rec
        lr_failed = float(positive.max())
    best_step = traj.best_step if traj is not None else start
    falling = obs.values[obs.steps <= best_step]
    lr_falling = float(falling.max()) if falling.size else lr_failed
    if lr_falling < 0.9 * lr_failed:
        peak = grid_floor(lr_falling)
        why_peak = (
            f"the loss was still falling at {fmt_lr(lr_falling)} (up to step "
            f"{fmt_step(best_step)}) and {kind} set in at {fmt_lr(lr_failed)}"
        )
    else:
        peak = grid_floor(lr_failed / HALF_DECADE)
        why_peak = (
            f"the loss fell at {fmt_lr(lr_falling)} until step {fmt_step(best_step)} and "
            f"the {kind} followed at the same {fmt_lr(lr_failed)}, so that LR is too "
            f"high for this stage; {fmt_lr(peak)} is the next half-decade step down "
            f"({lr_failed / peak:.2g}× lower)"
        )
    start_step = chosen.step if chosen is not None and chosen.step is not None else None
    max_steps = plan.max_steps if plan is not None else None
    if max_steps is not None and start_step is not None and max_steps <= start_step:
        max_steps = None
    options: list[dict[str, Any]] = []
    declared_explains = False
    if plan is not None and start_step is not None:
        lr_plan = plan.lr_at(start_step)
        ratio = lr_plan / lr_failed
        declared_explains = ratio <= 0.5
        options.append(
            {
                "name": "resume on the declared plan",
                "lr_at_resume": lr_plan,
                "ratio_to_failed_lr": ratio,
                "supported": declared_explains,
                "why": (
                    f"the declared plan gives {fmt_lr(lr_plan)} at step {fmt_step(start_step)}, "
                    f"{ratio:.4g}× the {fmt_lr(lr_failed)} at which the run diverged"
                    + (
                        ": it would change little"
                        if not declared_explains
                        else ": a real cut, worth trying first"
                    )
                ),
            }
        )
    options.append(
        {
            "name": "resume with a lower peak LR",
            "peak_lr": peak,
            "supported": not declared_explains,
            "why": why_peak,
        }
    )
    rec = Recommendation(
        summary="",
        options=options,
        peak_lr=peak,
        max_steps=max_steps,
        start_step=start_step,
        start_checkpoint=str(chosen.path) if chosen is not None else None,
    )
    use_plan_peak = declared_explains and plan is not None
    new_peak = plan.segment_at(start_step or 0).peak_lr if use_plan_peak and plan else peak
    rec.peak_lr = new_peak
    applied_at_start = obs.at(start_step) if start_step is not None else lr_failed
    rewarm = 0
    if start_step is not None and max_steps is not None and new_peak > 1.05 * applied_at_start:
        # Raising the LR on a trained optimizer state: bridge over 1% of the rest of the run.
        rewarm = max(1, (max_steps - start_step) // 100)
    if ctx.evidence.run_dirs and chosen is not None and max_steps is not None:
        command = (
            f"uprior resume {chosen.path} --policy replan --learning-rate "
            f"{new_peak:.0e} --max-steps {max_steps}"
        )
        if rewarm:
            command += f" --rewarm-steps {rewarm}"
        rec.commands.append(command)
    elif start_step is not None:
        rec.snippet = snippet(
            start_step, max_steps or start_step * 4, new_peak, rewarm, applied_at_start
        )
    where = (
        f"{chosen.path} (step {fmt_step(start_step)})"
        if chosen is not None and start_step is not None
        else "the last good state"
    )
    if rec.commands and plan is not None and max_steps is not None and start_step is not None:
        # ``--policy replan`` keeps the run's own family and floor, without its warmup.
        spec = plan.segment_at(start_step).spec
        floor = getattr(spec, "min_lr_ratio", None)
        schedule = f"the run's {spec.kind} schedule" + (
            f" decaying to {floor:g}× the peak" if floor is not None else ""
        )
        schedule += f" at step {fmt_step(max_steps)} (no second warmup)"
    elif max_steps:
        schedule = f"cosine decay to 1% at step {fmt_step(max_steps)}"
    else:
        schedule = "cosine decay to 1% over the remaining steps"
    lines = [f"Resume from {where} with a peak LR of {fmt_lr(new_peak)} and {schedule}."]
    if options[0]["name"] == "resume on the declared plan" and not declared_explains:
        lines.append(f"Resuming on the declared plan is not enough: {options[0]['why']}.")
    lines.append(f"Why this LR: {why_peak}.")
    lines.extend(fixes)
    rec.summary = " ".join(lines)
    return rec


def _first_action(findings: list[Finding]) -> str:
    """The first warning's or error's own advice, with its code."""
    for f in findings:
        if f.severity in ("error", "warning"):
            return f"{f.code}: {f.title}. See its 'What to do' above."
    return "No action needed."


def _code_fixes(codes: set[str]) -> list[str]:
    fixes = []
    if "LR001" in codes:
        fixes.append(
            "Fix the loop first: the declared schedule is never applied (LR001); build "
            "one closed-form scheduler and step it once per optimizer update."
        )
    if "LR002" in codes:
        fixes.append(
            "Step the scheduler once per optimizer update, inside the accumulation "
            "branch, not once per micro-batch (LR002)."
        )
    if "LR003" in codes:
        fixes.append(
            "Save the scheduler state with the optimizer and restore it after "
            "building the scheduler (LR003)."
        )
    if "CKP101" in codes:
        fixes.append("Store the scheduler state (or the plan) in every checkpoint (CKP101).")
    return fixes


def snippet(
    start_step: int, max_steps: int, peak_lr: float, rewarm_steps: int, from_lr: float
) -> str:
    """A closed-form ``LambdaLR`` resuming at ``start_step``: cosine to 1 % at ``max_steps``."""
    bridge = ""
    if rewarm_steps:
        bridge = (
            f"    if step < RESUME_STEP + REWARM_STEPS:  # bridge from the LR in use\n"
            f"        start = {from_lr / peak_lr:.6g}\n"
            "        return start + (lr_factor(RESUME_STEP + REWARM_STEPS) - start) * "
            "(step - RESUME_STEP) / REWARM_STEPS\n"
        )
    return f'''import math

import torch

RESUME_STEP, MAX_STEPS, PEAK_LR, FLOOR = {start_step}, {max_steps}, {peak_lr:.6g}, 0.01
REWARM_STEPS = {rewarm_steps}


def lr_factor(step: int) -> float:
    """LR / PEAK_LR before optimizer update `step`: cosine to FLOOR at MAX_STEPS."""
{bridge}    progress = min(max((step - RESUME_STEP) / (MAX_STEPS - RESUME_STEP), 0.0), 1.0)
    return FLOOR + (1.0 - FLOOR) * 0.5 * (1.0 + math.cos(math.pi * progress))


def attach_schedule(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
    """Call after optimizer.load_state_dict(...): the loaded groups keep the old LR otherwise."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] = PEAK_LR
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor, last_epoch=RESUME_STEP - 1)


# In the loop, once per optimizer update (inside the gradient-accumulation branch):
#     optimizer.step(); scheduler.step()
# and save scheduler.state_dict() and the step with every checkpoint.
'''
