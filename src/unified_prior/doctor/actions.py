"""What to do about each warning and error: the checkpoint to go back to and the change to
make, per finding code, in the terms of the framework that wrote the run.

``with_actions`` appends "What to do: …" to every warning and error (and sets
``Finding.action``), and prints next to the LR verdicts the assumptions they rest on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from unified_prior.doctor.checks.base import Context
from unified_prior.doctor.checks.checkpoints import best_checkpoint
from unified_prior.doctor.findings import Finding, fmt_step

#: Findings whose verdict rests on the declared schedule (and so on its assumptions).
_USES_DECLARED = ("LR001", "LR002", "LR003", "LR004", "INF002")


def _resume_from(ctx: Context, before_step: int | None = None) -> str:
    """The checkpoint to resume from, as a phrase."""
    chosen, _ = best_checkpoint(ctx)
    usable = ctx.evidence.usable_checkpoints
    if before_step is not None:
        earlier = [c for c in usable if c.step is not None and c.step < before_step]
        if earlier:
            return f"{earlier[-1].path} (step {fmt_step(earlier[-1].step or 0)})"
    if chosen is not None and chosen.step is not None:
        return f"{chosen.path} (step {fmt_step(chosen.step)})"
    recorded = ctx.shared.get("recorded_best")
    if recorded:
        return f"{recorded['path']} (recorded by the HF Trainer as its best)"
    if before_step is not None:
        return f"the last checkpoint saved before step {fmt_step(before_step)}"
    traj = ctx.trajectory
    if traj is not None:
        return f"the checkpoint nearest step {fmt_step(traj.best_step)} (the best {traj.metric})"
    return "the last good checkpoint"


def _convention(ctx: Context) -> str:
    """The framework that wrote the run: the declaration's, else the one the files show."""
    if ctx.declared is not None and ctx.declared.convention != "generic":
        return ctx.declared.convention
    if "convention" not in ctx.shared:
        from unified_prior.doctor.conventions import detected

        found = detected(ctx.evidence)
        ctx.shared["convention"] = found.name if found is not None else "generic"
    name: str = ctx.shared["convention"]
    return name


def _lr001(ctx: Context, f: Finding) -> str:
    fw = _convention(ctx)
    how = {
        "hf": "with the HF Trainer the schedule is built for you: check that no custom "
        "`optimizers=(optimizer, scheduler)` pair or callback overrides it",
        "yolo": "check that the trainer's `scheduler.step()` runs each epoch (a custom "
        "trainer or callback that rebuilds the optimizer drops it)",
        "detectron2": "check that the LRScheduler hook is registered (a custom train loop "
        "must call `scheduler.step()` after `optimizer.step()`)",
    }.get(
        fw,
        "build the scheduler once, after the optimizer, and call `scheduler.step()` once per "
        "optimizer update, right after `optimizer.step()`",
    )
    return (
        f"wire the declared schedule into the loop ({how}); `uprior audit` on the training "
        f"script shows where it is dropped. Then resume from {_resume_from(ctx)} with the "
        "schedule restored (see the recommendation below)."
    )


def _lr002(ctx: Context, f: Finding) -> str:
    k = f.evidence.get("k")
    fw = _convention(ctx)
    if fw == "hf":
        fix = (
            "let the Trainer step the scheduler (it steps once per optimizer update); in a "
            "custom loop, call `lr_scheduler.step()` only under "
            "`if accelerator.sync_gradients:` (or after `optimizer.step()`)"
        )
    else:
        fix = (
            "call `scheduler.step()` only where `optimizer.step()` runs (inside "
            "`if (i + 1) % grad_accum_steps == 0:`), or build the scheduler with its length in "
            "the unit it is stepped in"
        )
    return (
        f"{fix}; the schedule then spans the whole run instead of 1/{k} of it. Resume from "
        f"{_resume_from(ctx)} with the corrected stepping."
    )


def _lr003(ctx: Context, f: Finding) -> str:
    step = f.evidence.get("resume_step")
    fw = _convention(ctx)
    how = {
        "hf": "keep `scheduler.pt` (and `optimizer.pt`, `trainer_state.json`) in the "
        "checkpoint folder and pass `resume_from_checkpoint=` the folder",
        "yolo": "resume with `--resume` and the same `--epochs` (changing the epochs on "
        "resume stretches the decay from where it was)",
    }.get(
        fw,
        "save `scheduler.state_dict()` with every checkpoint and load it after building the "
        "scheduler (and after `optimizer.load_state_dict`)",
    )
    return (
        f"{how}. If the jump hurt, resume again from "
        f"{_resume_from(ctx, before_step=step)} with the schedule's state restored."
    )


def _lr004(ctx: Context, f: Finding) -> str:
    return (
        "build the scheduler before the first update so its warmup runs (a scheduler built "
        "late, or a `last_epoch` past the warmup, skips it); if the run trained fine "
        "without it, drop the warmup from the config so the declaration says what runs."
    )


def _run001(ctx: Context, f: Finding) -> str:
    best = f.evidence.get("best_step")
    where = _resume_from(ctx)
    if f.evidence.get("kind") == "overfitting":
        hf = _convention(ctx) == "hf" or ctx.shared.get("recorded_best")
        keep = (
            'set `load_best_model_at_end=True` with `metric_for_best_model="eval_loss"` '
            "and add `EarlyStoppingCallback(early_stopping_patience=3)`"
            if hf
            else "keep the checkpoint at the best eval loss and stop early (patience of a "
            "few evaluations)"
        )
        return (
            f"use {where}, the best eval loss (step {fmt_step(best or 0)}), not the last "
            f"weights; {keep}; for a longer run, add regularisation (weight decay, dropout, "
            "augmentation) or data rather than steps."
        )
    return (
        f"resume from {where} with a lower peak LR (the recommendation gives one) and "
        "gradient clipping (max norm 1.0); if it diverges again at the same point, inspect "
        "the data around the onset step."
    )


def _run002(ctx: Context, f: Finding) -> str:
    step = f.evidence.get("worst_step")
    return (
        "if the spikes recur, lower the peak LR or clip gradients (max norm 1.0) and look at "
        f"the batches at the spike steps; to undo the largest one, resume from "
        f"{_resume_from(ctx, before_step=step)} and skip the batches at step "
        f"{fmt_step(step or 0)}."
    )


def _run003(ctx: Context, f: Finding) -> str:
    step = f.evidence.get("first_step")
    return (
        f"resume from {_resume_from(ctx, before_step=step)} with a lower LR, bf16 instead "
        "of fp16 (or a loss scaler), and gradient clipping; check the batch at step "
        f"{fmt_step(step or 0)} for NaN/inf inputs."
    )


def _run004(ctx: Context, f: Finding) -> str:
    return (
        "check that the LR is what you meant (not 0, not far too high), that the parameters "
        "train (`requires_grad`, passed to the optimizer) and that the loss reaches the "
        "model (no `.detach()`, labels aligned); try a 10× higher or lower LR on a short run."
    )


def _ckp101(ctx: Context, f: Finding) -> str:
    return (
        "save `scheduler.state_dict()` (or the closed-form plan) with the optimizer in every "
        "checkpoint, so a resume continues the schedule instead of restarting it."
    )


_ACTIONS: dict[str, Callable[[Context, Finding], str]] = {
    "LR001": _lr001,
    "LR002": _lr002,
    "LR003": _lr003,
    "LR004": _lr004,
    "RUN001": _run001,
    "RUN002": _run002,
    "RUN003": _run003,
    "RUN004": _run004,
    "CKP101": _ckp101,
}


_STEP_BEFORE = re.compile(r"\b(S|s)tep(s?) (?=[\d,.]+\d|\d)")
_STEP_AFTER = re.compile(r"(?<=\d) step(s?)\b")


def in_clock(text: str, clock: str) -> str:
    """Say "epoch 29" instead of "step 29" when the run's clock is the epoch (no step was
    logged): a user looking for step 29 would open the wrong checkpoint."""
    if clock != "epoch":
        return text
    text = _STEP_BEFORE.sub(lambda m: f"{'E' if m.group(1) == 'S' else 'e'}poch{m.group(2)} ", text)
    return _STEP_AFTER.sub(lambda m: f" epoch{m.group(1)}", text)


def with_actions(ctx: Context, findings: list[Finding]) -> list[Finding]:
    """Every warning/error ends with "What to do: …"; verdicts that rest on assumed
    schedule values say so next to the verdict."""
    assumed = ctx.declared.assumed if ctx.declared is not None else []
    out = []
    for f in findings:
        message = f.message
        if assumed and f.code in _USES_DECLARED and "Assumed" not in message:
            message = (
                message.rstrip()
                + f" Assumed where {ctx.declared.source if ctx.declared else 'the config'} is "
                "silent: " + "; ".join(assumed) + "."
            )
        action = f.action
        if f.severity in ("error", "warning") and not action and "Fix:" in message:
            action = message.split("Fix:", 1)[1].strip()  # uprior audit's own fix
        if f.severity in ("error", "warning") and not action:
            make = _ACTIONS.get(f.code)
            action = (
                make(ctx, f)
                if make is not None
                else ("read the evidence above; the finding names the steps to look at.")
            )
        if action and "What to do:" not in message:
            message = message.rstrip() + " What to do: " + action[0].upper() + action[1:]
        clock = getattr(ctx.evidence, "step_unit", "step")
        out.append(
            replace(
                f,
                title=in_clock(f.title, clock),
                message=in_clock(message, clock),
                action=in_clock(action, clock),
            )
        )
    return out
