"""``inverse_sqrt``: EDM2's schedule: warmup, flat until ``ref_steps``, then 1/sqrt decay.

EDM2 (``learning_rate_schedule``) measures time in images; on our one clock it is
``1 / sqrt(max(step / ref_steps, 1))``, floored at ``min_lr_ratio``. It has no natural end:
``max_steps`` only bounds the run.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from unified_prior.schedules.base import DecayingSpec
from unified_prior.schedules.registry import register


@register
class InverseSqrtSpec(DecayingSpec):
    kind: Literal["inverse_sqrt"] = "inverse_sqrt"
    ref_steps: int = Field(default=70_000, gt=0, description="updates before the decay starts")

    @model_validator(mode="after")
    def _ref_after_warmup(self) -> InverseSqrtSpec:
        # A decay that starts inside the warmup would make the curve jump at its end.
        if self.ref_steps < self.warmup_steps:
            raise ValueError(
                f"ref_steps={self.ref_steps} must be >= warmup_steps={self.warmup_steps}"
            )
        return self

    def after_warmup(self, step: int, total_steps: int) -> float:
        return max(self.min_lr_ratio, 1.0 / math.sqrt(max(step / self.ref_steps, 1.0)))
