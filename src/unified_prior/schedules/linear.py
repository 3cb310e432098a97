"""``linear``: warmup, then a straight line from peak to ``min_lr_ratio`` at ``max_steps``."""

from __future__ import annotations

from typing import Literal

from unified_prior.schedules.base import DecayingSpec
from unified_prior.schedules.registry import register


@register
class LinearSpec(DecayingSpec):
    kind: Literal["linear"] = "linear"

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = self.progress(step, self.warmup_steps, total_steps)
        r = self.min_lr_ratio
        return r + (1.0 - r) * (1.0 - p)
