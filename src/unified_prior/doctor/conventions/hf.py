"""Hugging Face ``Trainer``: ``TrainingArguments`` as saved beside the run.

``training_args.bin`` is a pickle and is never loaded (DESIGN §8); the same values come from
``training_args.json`` (written by many scripts), the model card's "Training hyperparameters"
list in ``README.md`` (written by ``Trainer.create_model_card``) and ``trainer_state.json``
(``max_steps``). HF's schedules (``transformers.optimization``) warm up linearly from 0 and
decay to 0 at ``max_steps``; ``constant`` ignores the warmup; ``polynomial`` ends at
``lr_end=1e-7``; ``warmup_steps`` beats ``warmup_ratio`` (ceil of ratio × steps).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from unified_prior.doctor.conventions.base import (
    Convention,
    Found,
    build,
    number,
    read_text,
    register,
    whole,
)
from unified_prior.doctor.conventions.families import (
    CosineRestartsSpec,
    PolynomialSpec,
    ShiftedInverseSqrtSpec,
)
from unified_prior.doctor.declared import Declared, Defaults
from unified_prior.schedules import ConstantSpec, CosineSpec, LinearSpec, WSDSpec
from unified_prior.schedules.base import ScheduleSpec

_CARD_MARK = "hyperparameters were used during training"
_CARD_LINE = re.compile(r"^\s*[-*]\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.+?)\s*$")
#: Model-card names → TrainingArguments names.
_CARD_KEYS = {
    "lr_scheduler_warmup_steps": "warmup_steps",
    "lr_scheduler_warmup_ratio": "warmup_ratio",
    "training_steps": "max_steps",
    "num_epochs": "num_train_epochs",
}


#: Keys only ``TrainingArguments`` has together with ``lr_scheduler_type``.
_TRAINING_ARGS_KEYS = frozenset(
    {"per_device_train_batch_size", "warmup_ratio", "gradient_accumulation_steps", "logging_steps"}
)


def parse_model_card(text: str) -> dict[str, Any]:
    """The ``- key: value`` list under the card's "Training hyperparameters"."""
    if _CARD_MARK not in text:
        return {}
    values: dict[str, Any] = {}
    for line in text[text.index(_CARD_MARK) :].splitlines()[1:80]:
        match = _CARD_LINE.match(line)
        if match:
            key, value = match.group(1), match.group(2)
            values.setdefault(_CARD_KEYS.get(key, key), value)
        elif line.startswith("#"):
            break
    return values


def _scheduler_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text.split(".")[-1] if text.startswith("schedulertype.") else text


@register
class HfTrainer(Convention):
    name = "hf"
    label = "Hugging Face Trainer"
    defaults = Defaults("hf", 0.0, 0.0, "HF Trainer: warmup from 0, decay to 0")
    step_slack = 3  # AMP overflow skips the scheduler step for a few early updates

    def detect(self, found: Found) -> bool:
        return bool(
            any(p.name == "trainer_state.json" for p in found.input_files)
            or any("lr_scheduler_type" in data for _, data in found.evidence.configs)
            or found.files("training_args.json")
            or self._card(found)
        )

    def _card(self, found: Found) -> tuple[Path, dict[str, Any]] | None:
        for path in found.files("README.md"):
            text = read_text(path)
            values = parse_model_card(text) if text else {}
            if values:
                return path, values
        return None

    def _state(self, found: Found) -> tuple[Path, dict[str, Any]] | None:
        states = [(p, d) for p, d in found.mappings("trainer_state.json") if "max_steps" in d]
        for path in found.input_files:
            if path.name == "trainer_state.json":
                states += [(p, d) for p, d in found.mappings("trainer_state.json") if p == path]
        return states[0] if states else None

    def declared(self, found: Found) -> Declared | None:
        sources: list[str] = []
        args: dict[str, Any] = {}
        for path, data in found.mappings("training_args.json"):
            args = dict(data)
            sources.append(str(path))
            break
        if not args:
            # A printed ``TrainingArguments(...)`` (stdout saved beside the run) that the text
            # reader parsed into a config.
            for source, data in found.evidence.configs:
                if "lr_scheduler_type" in data and _TRAINING_ARGS_KEYS & set(data):
                    args = dict(data)
                    sources.append(f"{source} (printed TrainingArguments)")
                    break
        card = self._card(found)
        if card is not None:
            for key, value in card[1].items():
                args.setdefault(key, value)
            sources.append(f"{card[0]} (model card)")
        if not args.get("lr_scheduler_type"):
            return None
        state = self._state(found)
        max_steps = whole(args, "max_steps")
        if not max_steps and state is not None:
            max_steps = whole(state[1], "max_steps")
            sources.append(f"{state[0]} (max_steps)")
        declared = Declared(
            plan=None,
            source="HF TrainingArguments in " + ", ".join(sources),
            convention=self.name,
            grad_accum_steps=whole(args, "gradient_accumulation_steps") or None,
            step_slack=self.step_slack,
        )
        name = _scheduler_name(args.get("lr_scheduler_type")) or "linear"
        kwargs = args.get("lr_scheduler_kwargs")
        kwargs = kwargs if isinstance(kwargs, dict) else {}
        peak = number(args, "learning_rate")
        warmup = whole(args, "warmup_steps") or 0
        if not warmup and max_steps:
            ratio = number(args, "warmup_ratio") or 0.0
            warmup = math.ceil(ratio * max_steps) if ratio > 0 else 0
        made = _spec(name, warmup, peak, max_steps, kwargs)
        if made is None:
            declared.kind = name
            declared.problem = f"HF lr_scheduler_type {name!r} has no closed form here"
            return declared
        spec_cls, values, kind = made
        declared.kind = kind
        return build(declared, values, spec_cls, peak=peak, length=max_steps)


def _spec(
    name: str, warmup: int, peak: float | None, max_steps: int | None, kwargs: dict[str, Any]
) -> tuple[type[ScheduleSpec], dict[str, Any], str] | None:
    warm = {"warmup_steps": warmup, "warmup_start_factor": 0.0}
    if name == "linear":
        return LinearSpec, {**warm, "min_lr_ratio": 0.0}, "linear"
    if name in ("cosine", "cosine_with_min_lr", "cosine_warmup_with_min_lr"):
        floor = number(kwargs, "min_lr_rate") or 0.0
        min_lr = number(kwargs, "min_lr")
        if min_lr is not None and peak:
            floor = min_lr / peak
        return CosineSpec, {**warm, "min_lr_ratio": floor}, "cosine"
    if name == "cosine_with_restarts":
        cycles = whole(kwargs, "num_cycles") or 1
        return CosineRestartsSpec, {**warm, "num_cycles": cycles}, "cosine_restarts"
    if name == "polynomial":
        lr_end = number(kwargs, "lr_end")
        lr_end = 1e-7 if lr_end is None else lr_end
        power = number(kwargs, "power") or 1.0
        ratio = min(lr_end / peak, 1.0) if peak else 0.0
        return PolynomialSpec, {**warm, "min_lr_ratio": ratio, "power": power}, "polynomial"
    if name == "constant":
        return ConstantSpec, {"warmup_steps": 0}, "constant"
    if name == "constant_with_warmup":
        return ConstantSpec, warm, "constant"
    if name == "inverse_sqrt":
        timescale = whole(kwargs, "timescale") or (warmup or 10_000)
        return ShiftedInverseSqrtSpec, {**warm, "timescale": timescale}, "inverse_sqrt"
    if name == "warmup_stable_decay" and max_steps:
        decay = whole(kwargs, "num_decay_steps")
        fraction = decay / max_steps if decay else 0.2
        shape = str(kwargs.get("decay_type", "cosine")).replace("_", "-")
        shape = shape if shape in ("cosine", "linear", "1-sqrt") else "linear"
        floor = number(kwargs, "min_lr_ratio") or 0.0
        values = {**warm, "decay_fraction": fraction, "decay_shape": shape, "min_lr_ratio": floor}
        return WSDSpec, values, "wsd"
    return None


_CHECKPOINT_STEP = re.compile(r"checkpoint-(\d+)\b")


def recorded_best(found: Found) -> dict[str, Any] | None:
    """The best checkpoint the HF Trainer recorded (``best_model_checkpoint``, by its
    ``metric_for_best_model``), with its step; None when none was recorded."""
    candidates = list(found.mappings("trainer_state.json"))
    candidates += [(Path(s), d) for s, d in found.evidence.configs if "best_model_checkpoint" in d]
    for path, data in candidates:
        best = data.get("best_model_checkpoint")
        if not isinstance(best, str) or not best.strip():
            continue
        match = _CHECKPOINT_STEP.search(best)
        metric = number(data, "best_metric")
        return {
            "path": best,
            "step": int(match.group(1)) if match else None,
            "best_metric": metric,
            "source": str(path),
        }
    return None
