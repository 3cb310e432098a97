"""``wsd``: warmup, stable at peak, then decay over the last ``decay_fraction`` of the run.

The decay shape is ``cosine``, ``linear`` or ``1-sqrt`` (HF ``get_wsd_schedule``,
torchtitan ``decay_type``); the run ends exactly at ``min_lr_ratio``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from unified_prior.schedules.base import DecayingSpec
from unified_prior.schedules.registry import register


@register
class WSDSpec(DecayingSpec):
    kind: Literal["wsd"] = "wsd"
    decay_fraction: float = Field(
        default=0.2, gt=0.0, le=1.0, description="fraction of max_steps spent decaying"
    )
    decay_shape: Literal["cosine", "linear", "1-sqrt"] = "cosine"

    def decay_start(self, total_steps: int) -> int:
        """First step of the decay phase; never inside the warmup."""
        return max(self.warmup_steps, total_steps - round(self.decay_fraction * total_steps))

    def after_warmup(self, step: int, total_steps: int) -> float:
        p = self.progress(step, self.decay_start(total_steps), total_steps)
        if self.decay_shape == "cosine":
            shape = 0.5 * (1.0 + math.cos(math.pi * p))
        elif self.decay_shape == "linear":
            shape = 1.0 - p
        else:
            shape = 1.0 - math.sqrt(p)
        r = self.min_lr_ratio
        return r + (1.0 - r) * shape
