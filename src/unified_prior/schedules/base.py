"""The schedule base class: a pure function of the step, no hidden state.

A schedule *spec* describes a shape (warmup, then a family-specific curve). It becomes a
learning rate only inside a plan segment (``plan.py``), which gives it a length in steps and
a peak LR. Keeping the length out of the spec lets one ``[schedule]`` config section serve
any ``train.max_steps`` and lets a re-planned segment reuse a family unchanged.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field


class ScheduleSpec(BaseModel, ABC):
    """Base of every schedule family: linear warmup from ``warmup_start_factor`` to 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    warmup_steps: int = Field(default=0, ge=0, description="updates of linear warmup")
    warmup_start_factor: float = Field(
        default=0.0, ge=0.0, le=1.0, description="factor at step 0, as a fraction of peak"
    )

    #: Families whose factor falls after warmup take ``min_lr_ratio``; set by subclasses.
    decays: ClassVar[bool] = False

    def factor(self, step: int, total_steps: int) -> float:
        """The multiplier of the peak LR before update ``step`` of a ``total_steps`` run."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        if step < self.warmup_steps:
            f0 = self.warmup_start_factor
            return f0 + (1.0 - f0) * step / self.warmup_steps
        return self.after_warmup(step, total_steps)

    @abstractmethod
    def after_warmup(self, step: int, total_steps: int) -> float:
        """The factor for ``step >= warmup_steps``; equals 1 at ``step == warmup_steps``."""

    def check_length(self, total_steps: int) -> None:
        """Reject a spec that cannot run for ``total_steps``; the message names the key."""
        if total_steps <= 0:
            raise ValueError(f"max_steps must be > 0, got {total_steps}")
        # Even a constant family is rejected at warmup == max_steps: the last update would
        # still be inside the warmup, so the configured peak LR would never be applied.
        if self.warmup_steps >= total_steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} must be < max_steps={total_steps}: "
                "lower warmup_steps or raise max_steps"
            )

    def describe(self) -> str:
        """A one-line human summary, e.g. ``cosine warmup=20000 from 0.01 floor=0.01``."""
        parts = [self.kind, f"warmup={self.warmup_steps}"]
        if self.warmup_steps:
            parts.append(f"from={self.warmup_start_factor:g}")
        for name in type(self).model_fields:
            if name not in ("kind", "warmup_steps", "warmup_start_factor"):
                parts.append(f"{name}={getattr(self, name)}")
        return " ".join(parts)


class DecayingSpec(ScheduleSpec):
    """A family that decays after warmup towards ``min_lr_ratio`` × peak."""

    decays: ClassVar[bool] = True
    min_lr_ratio: float = Field(
        default=0.0, ge=0.0, le=1.0, description="floor as a fraction of peak"
    )

    @staticmethod
    def progress(step: int, start: int, end: int) -> float:
        """Fraction of ``[start, end]`` covered at ``step``, clamped to [0, 1]."""
        if end <= start:
            # An empty phase (e.g. a WSD decay that rounds to 0 steps) is not yet begun
            # before ``start``; returning 1 there put the whole run at the floor.
            return 0.0 if step < start else 1.0
        return min(max((step - start) / (end - start), 0.0), 1.0)
