"""DETR-family and torchvision reference scripts: the ``Namespace(...)`` that ``main.py``
prints at start-up (``print(args)``), read with ``ast`` (never evaluated).

DETR / Deformable / Conditional DETR: ``StepLR(optimizer, lr_drop)`` stepped per epoch
(×0.1 every ``lr_drop`` epochs; ``lr_drop_epochs`` lists the drops in some forks), no
warmup. torchvision references: ``lr_scheduler`` in ``steplr`` (``lr_step_size``,
``lr_gamma``), ``multisteplr`` (``lr_steps``), ``cosineannealinglr`` (to ``lr_min``), with
``lr_warmup_epochs`` from ``lr_warmup_decay``. Both count epochs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from unified_prior.doctor.conventions.base import (
    Convention,
    Found,
    build,
    milestones_every,
    number,
    register,
    whole,
    whole_numbers,
)
from unified_prior.doctor.conventions.families import MultiStepSpec
from unified_prior.doctor.declared import Declared, Defaults
from unified_prior.schedules import CosineSpec
from unified_prior.schedules.base import ScheduleSpec

_NAMESPACE = re.compile(r"Namespace\(")


def parse_namespace(line: str) -> dict[str, Any] | None:
    """``Namespace(lr=0.0001, lr_drop=200, …)`` → dict of the literal keyword values."""
    match = _NAMESPACE.search(line)
    if match is None:
        return None
    text = line[match.start() :].strip()
    try:
        node = ast.parse(text, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(node, ast.Call):
        return None
    values: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            continue
        try:
            values[keyword.arg] = ast.literal_eval(keyword.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            continue  # e.g. device=device(type='cuda'): not a schedule key
    return values or None


@register
class DetrNamespace(Convention):
    name = "detr"
    label = "DETR / torchvision reference scripts"
    defaults = Defaults("detr", 0.01, 0.0, "torchvision default lr_warmup_decay=0.01")

    def _args(self, found: Found) -> tuple[Path, dict[str, Any]] | None:
        for path, lines in found.text_heads:
            for line in lines:
                if "Namespace(" in line and "lr" in line:
                    values = parse_namespace(line)
                    if values and "lr" in values and "epochs" in values:
                        return path, values
        return None

    def detect(self, found: Found) -> bool:
        return self._args(found) is not None

    def declared(self, found: Found) -> Declared | None:
        found_args = self._args(found)
        if found_args is None:
            return None
        path, args = found_args
        epochs = whole(args, "epochs")
        peak = number(args, "lr")
        torchvision = "lr_scheduler" in args
        declared = Declared(
            plan=None,
            source=f"{'torchvision' if torchvision else 'DETR'} Namespace in {path}",
            unit="epoch",
            convention="torchvision" if torchvision else self.name,
        )
        warm: dict[str, Any] = {"warmup_steps": 0}
        spec_cls: type[ScheduleSpec] = MultiStepSpec
        values: dict[str, Any]
        if torchvision:
            name = str(args.get("lr_scheduler", "")).lower()
            warmup = whole(args, "lr_warmup_epochs") or 0
            if warmup:
                decay = number(args, "lr_warmup_decay")
                warm = {"warmup_steps": warmup, "warmup_start_factor": decay or 0.01}
            gamma = number(args, "lr_gamma") or 0.1
            if name == "multisteplr":
                milestones = whole_numbers(args.get("lr_steps"))
                values = {**warm, "milestones": milestones, "gamma": gamma}
                declared.kind = "multistep"
            elif name == "steplr":
                every = milestones_every(whole(args, "lr_step_size") or 30, epochs)
                if every is None:
                    declared.problem = "lr_step_size gives too many drops to be a schedule"
                    return declared
                values = {**warm, "milestones": every, "gamma": gamma}
                declared.kind = "multistep"
            elif name == "cosineannealinglr":
                floor = (number(args, "lr_min") or 0.0) / peak if peak else 0.0
                values, spec_cls = {**warm, "min_lr_ratio": floor}, CosineSpec
                declared.kind = "cosine"
            else:
                declared.kind = name or None
                declared.problem = f"torchvision lr_scheduler {name!r} has no closed form here"
                return declared
        else:
            milestones = whole_numbers(args.get("lr_drop_epochs"))
            if not milestones:
                drop = whole(args, "lr_drop")
                found_every = milestones_every(drop, epochs) if drop else None
                if found_every is None:
                    return None
                milestones = found_every
            values = {**warm, "milestones": milestones, "gamma": 0.1}
            declared.kind = "multistep"
        return build(declared, values, spec_cls, peak=peak, length=epochs)
