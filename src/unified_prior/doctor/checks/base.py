"""The check registry and the context every check reads.

A check is a function of the ``Context`` returning findings; ``@register("RUN001", ...)``
adds it under the codes it may emit. The context computes each shared analysis once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from unified_prior.doctor.analysis import LrObservations, Trajectory, applied_lr, loss_trajectory
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import Evidence
from unified_prior.doctor.findings import Finding


@dataclass
class Context:
    evidence: Evidence
    declared: Declared | None
    #: Facts one check computes for a later one (e.g. the LR verdict for INF002).
    shared: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def trajectory(self) -> Trajectory | None:
        return loss_trajectory(self.evidence)

    @cached_property
    def lr(self) -> LrObservations | None:
        return applied_lr(self.evidence)

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
