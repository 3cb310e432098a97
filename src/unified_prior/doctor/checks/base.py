"""The check registry and the context every check reads.

A check is a function of the ``Context`` returning findings; ``@register("RUN001", ...)``
adds it under the codes it may emit. The context computes each shared analysis once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from unified_prior.doctor.analysis import (
    LrObservations,
    Trajectory,
    applied_lr,
    loss_trajectory,
    on_plan_clock,
)
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import Evidence
from unified_prior.doctor.findings import Finding
from unified_prior.doctor.inference import Inferred, infer_schedule


@dataclass
class Context:
    evidence: Evidence
    declared: Declared | None
    #: Facts one check computes for a later one (e.g. the LR verdict for INF002).
    shared: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def trajectory(self) -> Trajectory | None:
        """The loss the run is judged on: eval/val where logged enough, else train."""
        return loss_trajectory(self.evidence)

    @cached_property
    def train_trajectory(self) -> Trajectory | None:
        """The training loss first (spikes, progress, and overfitting's other half)."""
        return loss_trajectory(self.evidence, prefer_eval=False)

    @cached_property
    def lr(self) -> LrObservations | None:
        return applied_lr(self.evidence)

    @cached_property
    def inferred(self) -> Inferred | None:
        """The schedule the applied LR shows on its own (``doctor.inference``)."""
        if self.lr is None:
            return None
        return infer_schedule(self.lr.steps, self.lr.values)

    @cached_property
    def plan_obs(self) -> LrObservations | None:
        """The applied LR on the declared plan's clock (``analysis.on_plan_clock``)."""
        if self.lr is None or self.declared is None:
            return self.lr
        return on_plan_clock(self.evidence, self.declared, self.lr)

    @property
    def same_clock(self) -> bool:
        """Whether the declared plan counts the same clock as the loss and LR series."""
        if self.declared is None:
            return True
        return self.declared.unit == getattr(self.evidence, "step_unit", "step")

    @property
    def has_plan(self) -> bool:
        return self.declared is not None and self.declared.plan is not None


Check = Callable[[Context], list[Finding]]


@dataclass(frozen=True)
class RegisteredCheck:
    codes: tuple[str, ...]
    run: Check


CHECKS: list[RegisteredCheck] = []


def register(*codes: str) -> Callable[[Check], Check]:
    """Decorator: run this check, which may emit ``codes``, in registration order."""

    def wrap(fn: Check) -> Check:
        CHECKS.append(RegisteredCheck(codes, fn))
        return fn

    return wrap
