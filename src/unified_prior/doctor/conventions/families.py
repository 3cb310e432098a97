"""Schedule shapes that frameworks use and the trainer does not: multistep drops
(detectron2, torchvision, DETR), HF's polynomial, cosine-with-restarts and inverse-sqrt,
and detectron2's cosine (measured from step 0, the warmup multiplying it).

They are ``ScheduleSpec`` subclasses so a ``Plan`` evaluates them like the trainer's own
families, but they are deliberately *not* registered in ``schedules.FAMILIES``: the trainer's
config accepts only the families it implements, and a stored plan never names these.
"""

from __future__ import annotations

import bisect
import math
from typing import Literal

from pydantic import Field

from unified_prior.schedules.base import DecayingSpec, ScheduleSpec


class MultiStepSpec(ScheduleSpec):
    """``peak × gamma^(milestones passed)``: torch ``MultiStepLR``/``StepLR``, detectron2's
    ``WarmupMultiStepLR``, DETR's ``lr_drop``."""

    kind: Literal["multistep"] = "multistep"
    milestones: tuple[int, ...] = ()
    gamma: float = Field(default=0.1, gt=0.0)

    def after_warmup(self, step: int, total_steps: int) -> float:
        return self.gamma ** bisect.bisect_right(self.milestones, step)

    def factor(self, step: int, total_steps: int) -> float:
        # detectron2 multiplies the warmup factor onto the step schedule (a milestone inside
        # the warmup still drops the LR); elsewhere milestones sit after the warmup.
        if step < self.warmup_steps:
            f0 = self.warmup_start_factor
            warm = f0 + (1.0 - f0) * step / self.warmup_steps
            return warm * self.after_warmup(step, total_steps)
        return self.after_warmup(step, total_steps)


class PolynomialSpec(DecayingSpec):
    """HF ``get_polynomial_decay_schedule_with_warmup``: ``(1-p)^power`` from peak to
    ``min_lr_ratio`` (HF's ``lr_end`` / peak)."""

    kind: Literal["polynomial"] = "polynomial"
    power: float = Field(default=1.0, gt=0.0)

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = self.progress(step, self.warmup_steps, total_steps)
        r = self.min_lr_ratio
        return r + (1.0 - r) * (1.0 - p) ** self.power


class CosineRestartsSpec(DecayingSpec):
    """HF ``get_cosine_with_hard_restarts_schedule_with_warmup``: ``num_cycles`` cosines."""

    kind: Literal["cosine_restarts"] = "cosine_restarts"
    num_cycles: int = Field(default=1, ge=1)

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = self.progress(step, self.warmup_steps, total_steps)
        if p >= 1.0:
            return self.min_lr_ratio
        shape = 0.5 * (1.0 + math.cos(math.pi * ((self.num_cycles * p) % 1.0)))
        return self.min_lr_ratio + (1.0 - self.min_lr_ratio) * shape


class ShiftedInverseSqrtSpec(ScheduleSpec):
    """HF ``get_inverse_sqrt_schedule``: ``1/sqrt((step + timescale - warmup) / timescale)``
    after the warmup (timescale defaults to the warmup, or 10,000 without one)."""

    kind: Literal["inverse_sqrt_hf"] = "inverse_sqrt_hf"
    timescale: int = Field(default=10_000, gt=0)

    def after_warmup(self, step: int, total_steps: int) -> float:
        shift = self.timescale - self.warmup_steps
        return 1.0 / math.sqrt(max((step + shift) / self.timescale, 1e-12))


class FromZeroCosineSpec(DecayingSpec):
    """detectron2's ``WarmupCosineLR``: a cosine over ``[0, max_iter]`` (not from the warmup's
    end) that the warmup factor multiplies."""

    kind: Literal["cosine_from_zero"] = "cosine_from_zero"

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = min(max(step / total_steps, 0.0), 1.0)
        r = self.min_lr_ratio
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * p))

    def factor(self, step: int, total_steps: int) -> float:
        if step < self.warmup_steps:
            f0 = self.warmup_start_factor
            warm = f0 + (1.0 - f0) * step / self.warmup_steps
            return warm * self.after_warmup(step, total_steps)
        return self.after_warmup(step, total_steps)
