"""Resume policies: continue the stored plan exactly, or re-plan explicitly.

HF, Composer, timm and plain torch let a loaded optimizer state silently override a new
``--learning_rate``. Here a resumed run either follows the checkpoint's plan to the letter
(``continue``) or appends a new plan segment at the resume step (``replan``), recorded in the
checkpoint and the metrics header. A changed LR under ``continue`` is an error that shows
the difference and the command that would apply it; it is never dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from unified_prior.config import RunConfig, config_from_dict
from unified_prior.errors import InputError
from unified_prior.schedules import Plan, Segment
from unified_prior.train.checkpoint import check_checkpoint_fits

Policy = Literal["continue", "replan"]


class RunComplete(InputError):
    """The checkpoint is at the end of its plan: nothing is left to train under continue."""

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


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
        train = self.state["config"]["train"]
        world = int(self.state.get("world_size", 1))
        return {
            "from_step": self.step,
            "checkpoint": str(self.path),
            "policy": self.policy,
            # What the checkpoint was trained with, so a world-size change is on record.
            "from_world_size": world,
            "from_global_batch_size": train["batch_size"] * train["grad_accum_steps"] * world,
        }


def global_batch(config: RunConfig, world_size: int) -> int:
    return config.train.batch_size * config.train.grad_accum_steps * world_size


def batch_change_advice(
    path: Path, stored: RunConfig, stored_world: int, config: RunConfig, world_size: int
) -> str:
    """How to resume across a global-batch change: keep the batch, or state the new LR.

    Linear and square-root LR scaling are both in use; which one fits is the user's call,
    so both are worked out from the checkpoint's LR and neither is applied silently.
    """
    old, new = global_batch(stored, stored_world), global_batch(config, world_size)
    lr = stored.optim.learning_rate
    processes = f"{world_size} process" + ("es" if world_size > 1 else "")
    per_rank, rest = divmod(old, config.train.grad_accum_steps * world_size)
    keep = f"keep it with --set train.batch_size={per_rank}, or " if per_rank and not rest else ""
    extra = (
        f" --set train.batch_size={config.train.batch_size}"
        if config.train.batch_size != stored.train.batch_size
        else ""
    )
    return (
        f"global batch {old} → {new} (batch_size × grad_accum_steps × {processes}); {keep}"
        f"re-plan with the LR stated (the checkpoint's peak {lr:g} scaled linearly is "
        f"{lr * new / old:.6g}, by square root {lr * math.sqrt(new / old):.6g}): uprior resume "
        f"{path} --policy replan --learning-rate LR --max-steps {config.train.max_steps}{extra}"
    )


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
    learning_rate_given: bool = False,
) -> ResumePoint:
    """Check ``config`` against the checkpoint and build the plan the resumed run follows.

    ``learning_rate_given``: the user passed the peak LR explicitly, which a replan across a
    global-batch change requires (the LR rule is theirs to state).
    """
    check_checkpoint_fits(path, state, config)  # before anything of it is used
    stored = config_from_dict(state["config"], source=f"checkpoint {path} config")
    stored_plan = Plan.from_list(state["plan"])
    step = int(state["step"])
    stored_world = int(state.get("world_size", 1))
    batch_changed = global_batch(stored, stored_world) != global_batch(config, world_size)
    if policy == "continue":
        diffs = plan_differences(stored, config)
        if batch_changed:
            raise InputError(
                f"resume from {path} with --policy continue needs the checkpoint's global batch"
                + (f" and plan ({'; '.join(diffs)})" if diffs else "")
                + ": "
                + batch_change_advice(path, stored, stored_world, config, world_size)
            )
        if diffs:
            raise InputError(
                f"resume from {path} with --policy continue needs the checkpoint's plan, but "
                f"the config changes it ({'; '.join(diffs)}); to apply the change run: "
                + replan_command(path, config)
            )
        if step >= stored_plan.max_steps:
            raise RunComplete(
                f"checkpoint {path} is at step {step}, the end of its plan; to train on, "
                f"run: uprior resume {path} --policy replan --max-steps N",
                step,
            )
        return ResumePoint(path, state, stored_plan, policy)

    if step == 0:
        raise InputError(f"checkpoint {path} is at step 0: start a fresh run instead of a replan")
    if batch_changed and not learning_rate_given:
        raise InputError(
            f"resume from {path} with --policy replan changes the "
            + batch_change_advice(path, stored, stored_world, config, world_size)
        )
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
