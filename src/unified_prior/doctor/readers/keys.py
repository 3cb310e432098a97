"""Map the metric names that training code writes onto ``loss``, ``val_loss``, ``lr``,
``grad_norm`` and ``step``.

Every reader uses this one table, so ``Loss``, ``train/loss``, ``train_loss_step``,
``learning_rate``, ``lr-AdamW``, ``eval_loss`` and ``Validation Loss`` mean the same thing
whichever file they came from.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from unified_prior.doctor.evidence import as_float, as_step

_SPLIT = re.compile(r"[\s/._\-:]+")

STEP_KEYS = frozenset(
    {
        "step",
        "steps",
        "global_step",
        "globalstep",
        "iter",
        "iters",
        "iteration",
        "it",
        "trainer/global_step",
        "num_updates",
        "update",
        "updates",
        "_step",
        "batch",
        "optimizer_step",
    }
)
_VAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev", "test"})
_LR_WORDS = frozenset({"lr", "learning_rate", "learningrate", "learning rate"})
_GRAD_WORDS = frozenset(
    {
        "grad_norm",
        "gradnorm",
        "gnorm",
        "grad norm",
        "gradient_norm",
        "gradient norm",
        "grad_l2_norm",
        "total_norm",
    }
)
_TRAIN_WORDS = frozenset(
    {
        "train",
        "training",
        "tr",
        "step",
        "epoch",
        "avg",
        "mean",
        "total",
        "batch",
        "iter",
        "running",
        "smoothed",
        "loss",
    }
)


@lru_cache(maxsize=4096)
def normalise_key(raw: str) -> str | None:
    """The metric a key names, ``"step"`` for a step counter, or None if it is neither."""
    key = raw.strip().strip("'\"").lower()
    if not key:
        return None
    if key in STEP_KEYS or key.replace(" ", "_") in STEP_KEYS:
        return "step"
    flat = " ".join(p for p in _SPLIT.split(key) if p)
    joined = flat.replace(" ", "_")
    words = set(flat.split())
    if any(re.fullmatch(r"pg([2-9]|\d\d+)", w) for w in words):
        return None  # Lightning's lr-Adam/pg2...: a second param group, not the plan's LR
    if (
        joined in _LR_WORDS
        or flat in _LR_WORDS
        or (
            "lr" in words
            and len(words) <= 3
            and (not words & {"scale", "min", "max", "init", "final", "ratio"})
        )
    ):
        return "lr"
    if flat.startswith("learning rate") or joined.startswith("learning_rate"):
        return "lr"
    if joined in _GRAD_WORDS or flat in _GRAD_WORDS or ("grad" in words and "norm" in words):
        return "grad_norm"
    if "loss" in words:
        if words & _VAL_WORDS:
            return "val_loss"
        # Only the plain training loss: "loss_by_sigma", "kl_loss" and the like are parts.
        if words <= _TRAIN_WORDS:
            return "loss"
    return None


@lru_cache(maxsize=4096)
def _key_info(key: str) -> tuple[str | None, int]:
    """(metric, number of words): a log repeats the same few keys a million times."""
    return normalise_key(key), len(_SPLIT.split(key.strip()))


def pick_metrics(items: Iterable[tuple[str, Any]]) -> tuple[int | None, dict[str, float]]:
    """The step and the metrics of one record given as (key, value) pairs.

    When several keys map to one metric (``val_loss`` and ``val_loss_raw``) the key with the
    fewest words wins: it is the plain one.
    """
    step: int | None = None
    chosen: dict[str, tuple[int, float]] = {}
    for key, value in items:
        if not isinstance(key, str):
            continue
        metric, rank = _key_info(key)
        if metric is None:
            continue
        if metric == "step":
            found = as_step(value)
            if found is not None and step is None:
                step = found
            continue
        number = value if type(value) is float else as_float(value)
        if number is None:
            continue
        if metric not in chosen or rank < chosen[metric][0]:
            chosen[metric] = (rank, number)
    return step, {m: v for m, (_, v) in chosen.items()}


def pick_from_mapping(record: Mapping[str, Any]) -> tuple[int | None, dict[str, float]]:
    """``pick_metrics`` over a dict record."""
    return pick_metrics(record.items())
