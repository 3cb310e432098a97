"""``cosine``: warmup, then half a cosine from peak to ``min_lr_ratio`` at ``max_steps``.

Closed form of torch's ``SequentialLR(LinearLR, CosineAnnealingLR)`` and HF's
``get_cosine_with_min_lr_schedule_with_warmup``; after ``max_steps`` it holds the floor.
"""

from __future__ import annotations

import math
from typing import Literal

from unified_prior.schedules.base import DecayingSpec
from unified_prior.schedules.registry import register


@register
class CosineSpec(DecayingSpec):
    kind: Literal["cosine"] = "cosine"

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = self.progress(step, self.warmup_steps, total_steps)
        r = self.min_lr_ratio
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * p))
