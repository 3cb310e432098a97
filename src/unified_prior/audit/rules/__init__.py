"""Audit rules, one per file, registered by code (DESIGN §7's static codes).

Adding a rule is one file with a :class:`Rule` subclass decorated by :func:`register`, one
import line below, and one test file.
"""

from __future__ import annotations

from typing import TypeVar

from unified_prior.audit.rules.base import Rule

RuleT = TypeVar("RuleT", bound=type[Rule])

#: Every rule, keyed by its public code.
RULES: dict[str, Rule] = {}


def register(cls: RuleT) -> RuleT:
    """Class decorator: make a rule available under its code."""
    if cls.code in RULES:
        raise ValueError(f"audit rule {cls.code} registered twice")
    RULES[cls.code] = cls()
    return cls


# The rule modules register themselves on import (in this, alphabetical, order).
from unified_prior.audit.rules import (  # noqa: E402
    cfg001_key_never_read,
    cfg002_key_only_logged,
    ckp001_checkpoint_omits_scheduler,
    ckp002_resume_omits_scheduler,
    ckp003_resume_lr_replaced,
    opt001_accumulation_not_applied,
    opt002_clipping_not_applied,
    sch001_schedule_not_applied,
    sch002_scheduler_never_stepped,
    sch003_step_per_microbatch,
    sch004_compounding_schedulers,
    sch005_unit_mismatch,
    sec001_unsafe_torch_load,
)

__all__ = [
    "RULES",
    "Rule",
    "cfg001_key_never_read",
    "cfg002_key_only_logged",
    "ckp001_checkpoint_omits_scheduler",
    "ckp002_resume_omits_scheduler",
    "ckp003_resume_lr_replaced",
    "opt001_accumulation_not_applied",
    "opt002_clipping_not_applied",
    "register",
    "sch001_schedule_not_applied",
    "sch002_scheduler_never_stepped",
    "sch003_step_per_microbatch",
    "sch004_compounding_schedulers",
    "sch005_unit_mismatch",
    "sec001_unsafe_torch_load",
]
