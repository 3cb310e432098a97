"""Which claims the rules can judge (shared by several rules); the key→concept mapping
lives in :mod:`unified_prior.audit.claims.keys`."""

from __future__ import annotations

import re

from unified_prior.audit.claims.keys import (
    ACCUMULATION,
    CLIPPING,
    DESCRIPTIVE,
    SCHEDULE_KIND,
    SCHEDULE_PARAM,
    ConfigKey,
)
from unified_prior.audit.claims.values import is_off
from unified_prior.audit.script import ScriptFacts


def claims(
    facts: ScriptFacts, pattern: re.Pattern[str], *, off_ok: bool = False
) -> list[ConfigKey]:
    """Keys matching ``pattern`` whose claim we can judge: the container stays in this file
    and the value does not switch the feature off (an argparse option always claims an
    effect: whoever passes it expects one)."""
    out = []
    for key in facts.keys_matching(pattern):
        if key.escaped:
            continue
        if not off_ok and key.source != "argparse" and is_off(key.value):
            continue
        out.append(key)
    return out


def unapplied(keys: list[ConfigKey]) -> list[ConfigKey]:
    """Keys no read of which reaches code that could act on the value."""
    return [k for k in keys if not k.applied]


def read_only_in_logs(key: ConfigKey) -> str:
    if not key.reads:
        return "is never read"
    if any(r.kind in {"log", "stored"} for r in key.reads):
        return "is read only to log, print or save it"
    return "is read only into names that are never used"


__all__ = [
    "ACCUMULATION",
    "CLIPPING",
    "DESCRIPTIVE",
    "SCHEDULE_KIND",
    "SCHEDULE_PARAM",
    "claims",
    "read_only_in_logs",
    "unapplied",
]
