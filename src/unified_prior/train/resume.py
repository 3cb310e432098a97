"""Resume policies: continue the stored plan exactly, or re-plan explicitly.

HF, Composer, timm and plain torch let a loaded optimizer state silently override a new
``--learning_rate``. Here a resumed run either follows the checkpoint's plan to the letter
(``continue``) or appends a new plan segment at the resume step (``replan``), recorded in the
checkpoint and the metrics header. A changed LR under ``continue`` is an error that shows
the difference and the command that would apply it; it is never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from unified_prior.config import RunConfig, config_from_dict
from unified_prior.errors import InputError
from unified_prior.schedules import Plan, Segment

Policy = Literal["continue", "replan"]


@dataclass(frozen=True)
class ResumePoint:
    """Where a run restarts and the plan it follows from there."""

    path: Path
    state: dict[str, Any]
    plan: Plan
    policy: Policy

    @property
    def step(self) -> int:
        return int(self.state["step"])

    def header(self) -> dict[str, Any]:
        return {"from_step": self.step, "checkpoint": str(self.path), "policy": self.policy}


def global_batch(config: RunConfig, world_size: int) -> int:
    return config.train.batch_size * config.train.grad_accum_steps * world_size


def plan_differences(old: RunConfig, new: RunConfig) -> list[str]:
    """The plan-determining keys that differ, as ``key: old → new``."""
    pairs = [
        ("optim.learning_rate", old.optim.learning_rate, new.optim.learning_rate),
        ("train.max_steps", old.train.max_steps, new.train.max_steps),
        ("schedule", old.schedule.describe(), new.schedule.describe()),
    ]
    return [f"{key}: {a} → {b}" for key, a, b in pairs if a != b]


def replan_command(path: Path, config: RunConfig, extra: str = "") -> str:
    return (
        f"uprior resume {path} --policy replan --learning-rate {config.optim.learning_rate:g} "
        f"--max-steps {config.train.max_steps} --schedule {config.schedule.kind}{extra}"
    )


def resolve(
    path: Path,
    state: dict[str, Any],
    config: RunConfig,
    *,
    policy: Policy,
    world_size: int,
    rewarm_steps: int | None = None,
) -> ResumePoint:
    """Check ``config`` against the checkpoint and build the plan the resumed run follows."""
    stored = config_from_dict(state["config"], source=f"checkpoint {path} config")
    stored_plan = Plan.from_list(state["plan"])
    step = int(state["step"])
    stored_world = int(state.get("world_size", 1))
    batch_changed = global_batch(stored, stored_world) != global_batch(config, world_size)
    if policy == "continue":
        diffs = plan_differences(stored, config)
        if batch_changed:
            diffs.append(
                f"global batch: {global_batch(stored, stored_world)} → "
                f"{global_batch(config, world_size)} (batch_size × grad_accum_steps × world size)"
            )
        if diffs:
            raise InputError(
                f"resume from {path} with --policy continue needs the checkpoint's plan, but "
                f"the config changes it ({'; '.join(diffs)}); to apply the change run: "
                + replan_command(path, config)
            )
        if step >= stored_plan.max_steps:
            raise InputError(
                f"checkpoint {path} is at step {step}, the end of its plan; to train on, "
                f"run: uprior resume {path} --policy replan --max-steps N"
            )
        return ResumePoint(path, state, stored_plan, policy)

    if step == 0:
        raise InputError(f"checkpoint {path} is at step 0: start a fresh run instead of a replan")
    if config.train.max_steps <= step:
        raise InputError(
            f"--max-steps {config.train.max_steps} must be above the checkpoint's step {step}"
        )
    # The resumed segment starts at the peak of its own curve: the config's warmup was for a
    # cold start. A bridge from the LR last applied (rewarm) is the explicit way to ramp.
    spec = config.schedule.model_copy(update={"warmup_steps": 0})
    from_lr = stored_plan.lr_at(step - 1)  # the LR the last update before the resume used
    remaining = config.train.max_steps - step
    if rewarm_steps is None:
        target = Segment(step, remaining, config.optim.learning_rate, spec).curve(step)
        going_up = target > from_lr * (1 + 1e-9)
        rewarm_steps = min(config.schedule.warmup_steps, remaining // 10) if going_up else 0
    plan = stored_plan.replan(
        step,
        spec,
        peak_lr=config.optim.learning_rate,
        max_steps=config.train.max_steps,
        rewarm_steps=rewarm_steps,
        from_lr=from_lr,
    )
    return ResumePoint(path, state, plan, policy)
