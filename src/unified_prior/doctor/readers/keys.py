"""The one metric-name mapping every reader uses: which logged key is the step, the epoch,
the training loss, the eval loss, the LR of the main parameter group, the gradient norm.

A key alone is classified by ``normalise_key``; a *record layout* (the keys of one CSV
header, one JSON object, the tags of one event file) is resolved by ``layout`` so that the
choice between competing keys is made the same way whatever the format:

- a plain total (``loss``, ``total_loss``, ``train/loss``, ``val_loss``, ``eval_loss``) wins;
- with no total, the components (YOLO ``train/box_loss`` + ``train/cls_loss`` + …,
  ``val/*_loss``) are **summed**, as YOLO itself sums them into its training loss;
- Lightning's ``train_loss_step`` wins over its epoch mean ``train_loss_epoch``;
- the LR is that of the main parameter group: YOLOv5/v8 log three groups (``x/lr0..2``,
  ``lr/pg0..2``) of which group 0 holds the biases (warmed from ``warmup_bias_lr`` = 0.1
  *down* to lr0) and group 1 the weights with decay, so group 1 is the main one; Lightning's
  LearningRateMonitor counts groups from 1 (``lr-AdamW/pg1``), so there too ``pg1`` is the
  first group. Other numbered groups are kept as ``other`` series.

Every other numeric key (``eval_wer``, ``metrics/mAP50(B)``, ``bbox/AP``) is passed through
as ``other`` under its own name, for the checks that want eval metrics.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from unified_prior.doctor.evidence import as_float, as_step

_SPLIT = re.compile(r"[\s/._\-:()\[\]]+")

STEP_KEYS = frozenset(
    {
        "step",
        "steps",
        "global_step",
        "globalstep",
        "global step",
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
        "s",  # llm.c: "s:120 trl:3.2 lr:0.0006 norm:0.3"
    }
)
EPOCH_KEYS = frozenset({"epoch", "epochs", "train/epoch", "trainer/epoch", "ep"})
_VAL_WORDS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev", "test"})
_LR_WORDS = frozenset({"lr", "learning_rate", "learningrate", "learning rate"})
#: Short names some loggers print: llm.c ``trl``/``tel``, nanoGPT forks ``norm``.
_ALIASES = {"trl": "loss", "tel": "val_loss", "norm": "grad_norm", "gnorm": "grad_norm"}
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
#: Words that may surround "loss" in the name of the plain (total) training loss.
_TRAIN_WORDS = frozenset(
    {
        "train",
        "training",
        "tr",
        "step",
        "epoch",
        "avg",
        "average",
        "mean",
        "total",
        "batch",
        "iter",
        "running",
        "smoothed",
        "loss",
        "losses",
    }
)
#: A key with one of these words is about a loss but is not one (fp16 loss scale, the best
#: loss so far, a loss weight), or is a repeat of one (DETR's ``*_unscaled``).
_NOT_A_LOSS = frozenset(
    {
        "scale",
        "scaler",
        "best",
        "min",
        "max",
        "std",
        "var",
        "weight",
        "coef",
        "ratio",
        "unscaled",
        "runtime",
        "time",
        "ema",
        "bpb",
        "ppl",
    }
)
#: Mean-over-epoch variants, used only when no per-step value is logged.
_EPOCH_MEAN_WORDS = frozenset({"epoch", "avg", "average", "mean", "running", "smoothed"})
_GROUP = re.compile(r"^(?:(?P<yolo>x/lr|lr/pg)|.*?(?:/pg|_pg|/group|_group|lr_?))(?P<n>\d+)$")
#: HF writes one closing summary (``train_runtime``, ``total_flos``, the mean ``train_loss``
#: over the whole run) at the last step: it is not a logging interval.
SUMMARY_KEYS = frozenset({"train_runtime", "total_flos", "train_samples_per_second"})


@lru_cache(maxsize=4096)
def normalise_key(raw: str) -> str | None:
    """The metric a key names (``loss``, ``val_loss``, ``lr``, ``grad_norm``), ``"step"``
    or ``"epoch"`` for a clock, or None. Components and extra param groups are None here;
    ``classify`` tells them apart."""
    kind = classify(raw)
    return kind.metric if kind.role == "main" else None


@dataclass(frozen=True)
class KeyKind:
    """What one key is: ``metric`` with ``role`` main (the total), part (a component loss),
    group (the LR of param group ``group``), mean (an epoch mean of the loss), other."""

    metric: str | None
    role: str = "main"
    group: int = 0
    yolo: bool = False


_OTHER = KeyKind(None, "other")


@lru_cache(maxsize=4096)
def classify(raw: str) -> KeyKind:
    """Classify one key; see the module docstring for the rules."""
    key = raw.strip().strip("'\"").lower()
    if " - " in key:
        # W&B's chart export names a column "RUN NAME - metric" (and "… - metric__MIN").
        key = key.rsplit(" - ", 1)[1].strip()
    if not key:
        return _OTHER
    if key in STEP_KEYS or key.replace(" ", "_") in STEP_KEYS:
        return KeyKind("step")
    if key in EPOCH_KEYS:
        return KeyKind("epoch")
    if key in _ALIASES:
        return KeyKind(_ALIASES[key])
    group = _GROUP.match(key)
    if group is not None and ("lr" in key or "learning" in key):
        return KeyKind("lr", "group", int(group.group("n")), group.group("yolo") is not None)
    flat = " ".join(p for p in _SPLIT.split(key) if p)
    joined = flat.replace(" ", "_")
    words = set(flat.split())
    if (
        joined in _LR_WORDS
        or flat in _LR_WORDS
        or (
            "lr" in words
            and len(words) <= 3
            and (not words & {"scale", "min", "max", "init", "final", "ratio", "decay"})
        )
        or flat.startswith("learning rate")
    ):
        return KeyKind("lr")
    if joined in _GRAD_WORDS or flat in _GRAD_WORDS or ("grad" in words and "norm" in words):
        return KeyKind("grad_norm")
    if ("loss" in words or "losses" in words) and not words & _NOT_A_LOSS:
        metric = "val_loss" if words & _VAL_WORDS else "loss"
        rest = words - _TRAIN_WORDS - _VAL_WORDS
        if not rest:
            if metric == "loss" and words & _EPOCH_MEAN_WORDS and "step" not in words:
                return KeyKind(metric, "mean")
            return KeyKind(metric)
        # A component: "box_loss", "loss_cls". Per-decoder-layer repeats ("loss_ce_0") are
        # already inside their component and must not be summed twice.
        if any(w.isdigit() for w in rest):
            return _OTHER
        return KeyKind(metric, "part")
    return _OTHER


@dataclass(frozen=True)
class Layout:
    """How the keys of one record layout map onto the normalised series.

    ``main[metric]`` is the key giving it directly; ``parts[metric]`` the keys summed when
    no main key exists; ``other`` every remaining key (passed through by name).
    """

    step: str | None
    epoch: str | None
    main: dict[str, str]
    parts: dict[str, tuple[str, ...]]
    other: tuple[str, ...]
    summary: bool = False
    #: Per metric, every key that may give it, best first: a row without the best key takes
    #: the next (one JSONL file may say ``train/loss`` in some records, ``loss`` in others).
    alternatives: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def metrics(self) -> set[str]:
        return set(self.main) | set(self.parts)


def _words(key: str) -> int:
    return len([p for p in _SPLIT.split(key.strip()) if p])


@lru_cache(maxsize=1024)
def layout(keys: tuple[str, ...]) -> Layout:
    """Resolve a record layout (see the module docstring). Cached: a log repeats a few
    layouts a million times."""
    step = epoch = None
    candidates: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    parts: dict[str, list[str]] = {}
    groups: list[tuple[KeyKind, str]] = []
    other: list[str] = []
    for key in keys:
        if not isinstance(key, str):
            continue
        kind = classify(key)
        if kind.metric == "step":
            step = step or key
        elif kind.metric == "epoch":
            epoch = epoch or key
        elif kind.metric is None:
            other.append(key)
        elif kind.role == "part":
            parts.setdefault(kind.metric, []).append(key)
        elif kind.role == "group":
            groups.append((kind, key))
        else:
            # Fewest words is the plainest name ("val_loss" over "val_loss_raw"); an epoch
            # mean only when nothing per step exists.
            rank = (1 if kind.role == "mean" else 0, _words(key))
            candidates.setdefault(kind.metric, []).append((rank, key))
    main = {metric: min(found)[1] for metric, found in candidates.items()}
    alternatives: dict[str, tuple[str, ...]] = {}
    for metric, found in candidates.items():
        ranked = sorted(found)
        # An epoch mean never stands in for a missing per-step value.
        keep = tuple(k for r, k in ranked if r[0] == ranked[0][0][0])
        alternatives[metric] = keep
        other.extend(key for _, key in found if key not in keep)
    if groups:
        yolo = any(k.yolo for k, _ in groups)
        numbers = {k.group for k, _ in groups}
        # YOLO (0-based, 0 = biases) and Lightning (1-based) both put the main group at 1.
        lightning = not yolo and 0 not in numbers
        preferred = 1 if (yolo or lightning) and 1 in numbers else min(numbers)
        for kind, key in groups:
            if kind.group == preferred and "lr" not in main:
                main["lr"] = key
            else:
                other.append(key)
    chosen_parts = {m: tuple(p) for m, p in parts.items() if m not in main}
    for metric, keys_ in parts.items():
        if metric in main:
            other.extend(keys_)
    summary = any(k in SUMMARY_KEYS for k in keys)
    for metric, key in main.items():
        alternatives.setdefault(metric, (key,))
    return Layout(step, epoch, main, chosen_parts, tuple(other), summary, alternatives)


def pick_metrics(items: Iterable[tuple[str, Any]]) -> tuple[int | None, dict[str, float]]:
    """The step and the main metrics of one record given as (key, value) pairs (parts
    summed when no total is given)."""
    step, _, metrics, _ = pick_record(dict(items))
    return step, metrics


def pick_record(
    record: Mapping[str, Any],
) -> tuple[int | None, float | None, dict[str, float], dict[str, float]]:
    """(step, epoch, main metrics, other numeric keys) of one record."""
    keys = tuple(k for k in record if isinstance(k, str))
    plan = layout(keys)
    step = as_step(record[plan.step]) if plan.step is not None else None
    epoch = as_float(record[plan.epoch]) if plan.epoch is not None else None
    if plan.summary:
        return step, epoch, {}, {}
    metrics: dict[str, float] = {}
    for metric, keys_ in plan.alternatives.items():
        for key in keys_:
            value = record[key]
            number = value if type(value) is float else as_float(value)
            if number is not None:
                metrics[metric] = number
                break
    for metric, keys_ in plan.parts.items():
        values = [as_float(record[k]) for k in keys_]
        if values and all(v is not None for v in values):
            metrics[metric] = float(sum(v for v in values if v is not None))
    others: dict[str, float] = {}
    for key in plan.other:
        number = as_float(record[key])
        if number is not None:
            others[key] = number
    return step, epoch, metrics, others


def pick_from_mapping(record: Mapping[str, Any]) -> tuple[int | None, dict[str, float]]:
    """``pick_metrics`` over a dict record."""
    step, _, metrics, _ = pick_record(record)
    return step, metrics
