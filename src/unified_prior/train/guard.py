"""ScheduleGuard: prove, before every optimizer update, that the LR is the plan's.

No library we studied checks this at runtime, which is how a declared warmup+cosine
schedule can silently never run. The guard is an optimizer step pre-hook, so it sees every
update however the loop is written, including loops that are not ours.

Two lines in a foreign loop::

    guard = ScheduleGuard(optimizer, plan).attach()
    ...  # train as usual; a mismatch raises ScheduleMismatchError before the bad update
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.hooks import RemovableHandle

from unified_prior.schedules import LR_SCALE_KEY, Plan


class ScheduleMismatchError(RuntimeError):
    """A param group's LR differs from the plan at an update."""

    def __init__(self, step: int, group: int, expected: float, actual: float) -> None:
        self.step, self.group, self.expected, self.actual = step, group, expected, actual
        ratio = actual / expected if expected else math.inf
        super().__init__(
            f"update {step}: param group {group} has lr={actual:.6e}, the plan says "
            f"{expected:.6e} (ratio {ratio:.6g}); nothing may write the LR but the plan"
        )

    def __reduce__(self) -> tuple[type[ScheduleMismatchError], tuple[int, int, float, float]]:
        # Exceptions pickle their message only by default; this one must survive crossing
        # process boundaries (DataLoader workers, torch.multiprocessing) with its fields.
        return (type(self), (self.step, self.group, self.expected, self.actual))


class ScheduleGuard:
    """Checks every param group's LR against ``plan`` before each ``optimizer.step()``.

    The update index comes from ``step_fn`` (the trainer's clock) when given; otherwise the
    guard counts completed updates itself with a post-hook, starting at ``start_step``.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        plan: Plan,
        *,
        start_step: int = 0,
        step_fn: Callable[[], int] | None = None,
        rel_tol: float = 1e-6,
    ) -> None:
        self.optimizer = optimizer
        self.plan = plan
        self.rel_tol = rel_tol
        self.updates_checked = 0
        self._count = start_step
        self._step_fn = step_fn
        self._handles: list[RemovableHandle] = []

    @property
    def step(self) -> int:
        """The index of the next update, as the guard sees it."""
        return self._step_fn() if self._step_fn is not None else self._count

    def attach(self) -> ScheduleGuard:
        if self._handles:
            raise RuntimeError("ScheduleGuard is already attached")
        self._handles.append(self.optimizer.register_step_pre_hook(self._check))
        if self._step_fn is None:
            self._handles.append(self.optimizer.register_step_post_hook(self._advance))
        return self

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def __enter__(self) -> ScheduleGuard:
        return self.attach()

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def check(self, step: int) -> None:
        """Raise ``ScheduleMismatchError`` unless every group holds the plan's LR at ``step``."""
        expected_base = self.plan.lr_at(step)
        for index, group in enumerate(self.optimizer.param_groups):
            expected = expected_base * group.get(LR_SCALE_KEY, 1.0)
            actual = float(group["lr"])
            if not math.isclose(actual, expected, rel_tol=self.rel_tol, abs_tol=0.0):
                raise ScheduleMismatchError(step, index, expected, actual)
        self.updates_checked += 1

    def _check(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self.check(self.step)

    def _advance(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        self._count += 1


def to_lambda_lr(optimizer: torch.optim.Optimizer, plan: Plan) -> torch.optim.lr_scheduler.LambdaLR:
    """A torch ``LambdaLR`` that follows ``plan``, for loops that want a scheduler object.

    Build the optimizer with ``lr=plan.base_lr``; step the scheduler once after every
    ``optimizer.step()`` (never per micro-batch), and save its ``state_dict`` with the run.
    """
    for index, group in enumerate(optimizer.param_groups):
        base = group.get("initial_lr", group["lr"]) / group.get(LR_SCALE_KEY, 1.0)
        if not math.isclose(base, plan.base_lr, rel_tol=1e-9):
            raise ValueError(
                f"param group {index} has base lr {base:g}; build the optimizer with "
                f"lr={plan.base_lr:g} (the plan's peak) so LambdaLR's factor applies to it"
            )
    return torch.optim.lr_scheduler.LambdaLR(optimizer, plan.factor)
