"""Which config keys claim a schedule, accumulation or clipping (shared by several rules)."""

from __future__ import annotations

import re

from unified_prior.audit.facts import ConfigKey, ScriptFacts, is_off

SCHEDULE_KIND = re.compile(
    r"^(lr_)?sched(ule|uler)?(_type|_name|_kind)?$|^lr_policy$|^decay_lr$|^lr_decay_style$", re.I
)
SCHEDULE_PARAM = re.compile(
    r"warmup|^lr_decay|^min_lr|^eta_min|^decay_(steps|iters)$|^lr_min$|^min_lr_ratio$", re.I
)
ACCUMULATION = re.compile(r"accum", re.I)
CLIPPING = re.compile(r"clip|^max_grad_norm$|^grad_norm_max$", re.I)
#: Keys that describe the run rather than configure it: logging them only is normal.
DESCRIPTIVE = re.compile(
    r"name|project|desc|note|tag|comment|version|author|title|^id$|_id$|entity|group|url|"
    r"^(log|print|verbose|debug|quiet)|wandb|mlflow|tensorboard|^seed_info$",
    re.I,
)


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
    if any(r.kind == "log" for r in key.reads):
        return "is read only to log or print it"
    return "is read only into names that are never used"
