"""``constant``: warmup, then the peak LR for the rest of the run."""

from __future__ import annotations

from typing import Literal

from unified_prior.schedules.base import ScheduleSpec
from unified_prior.schedules.registry import register


@register
class ConstantSpec(ScheduleSpec):
    kind: Literal["constant"] = "constant"

    def after_warmup(self, step: int, total_steps: int) -> float:
        return 1.0
