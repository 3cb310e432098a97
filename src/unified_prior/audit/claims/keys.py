"""Declared configuration keys, their reads, and the key→concept mapping (which key names
claim a schedule, gradient accumulation or clipping)."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from unified_prior.audit.claims.values import fmt_value

#: Key names that choose a schedule (``lr_scheduler``, ``schedule_type``, ``decay_lr``).
SCHEDULE_KIND = re.compile(
    r"^(lr_)?sched(ule|uler)?(_type|_name|_kind)?$|^lr_policy$|^decay_lr$|^lr_decay_style$", re.I
)
SCHEDULE_PARAM = re.compile(
    r"warmup|^lr_decay|^min_lr|^eta_min|^decay_(steps|iters)$|^lr_min$|^min_lr_ratio$", re.I
)
ACCUMULATION = re.compile(r"accum", re.I)
CLIPPING = re.compile(r"clip|^max_grad_norm$|^grad_norm_max$", re.I)
#: Function parameters whose default is a training claim the rules judge.
PARAM_CLAIM = re.compile(
    ACCUMULATION.pattern + "|" + CLIPPING.pattern + "|" + SCHEDULE_KIND.pattern, re.I
)
#: Keys that describe the run rather than configure it: logging them only is normal.
DESCRIPTIVE = re.compile(
    r"name|project|desc|note|tag|comment|version|author|title|^id$|_id$|entity|group|url|"
    r"^(log|print|verbose|debug|quiet)|wandb|mlflow|tensorboard|^seed_info$",
    re.I,
)


@dataclass
class KeyRead:
    node: ast.AST
    kind: str  # applied | handed | log | stored | dead (script.READ_KINDS)


@dataclass
class ConfigKey:
    """One declared configuration key and what the script claims for it."""

    key: str
    node: ast.AST  # where it is declared (the dict key, the add_argument option, the field)
    value: Any  # the literal claim, a ``NotLiteral``, or ``...`` when there is no value
    container: str  # the name the script gives the container, for messages
    source: str  # dict | argparse | dataclass | file | param
    escaped: bool  # the whole container reaches code we cannot see
    declared_in: ast.AST | None = None  # the dict literal / call it was declared in
    reads: list[KeyRead] = field(default_factory=list)

    @property
    def applied(self) -> bool:
        return any(r.kind in {"applied", "handed"} for r in self.reads)

    @property
    def display(self) -> str:
        if self.source == "argparse":
            return f"--{self.key}"
        if self.source == "dataclass":
            return f"{self.container}.{self.key}"
        if self.source == "file":
            return f"{self.container}: {self.key}"
        if self.source == "param":
            return f"{self.container[:-2]}({self.key}=...)"
        return f'{self.container}["{self.key}"]'

    @property
    def claim(self) -> str:
        if self.source == "argparse":
            return f"{self.display} (default {fmt_value(self.value)})"
        if self.source == "param":
            return f"{self.container[:-2]}({self.key}={fmt_value(self.value)})"
        return f"{self.display} = {fmt_value(self.value)}"
