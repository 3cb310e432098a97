"""detectron2: the ``config.yaml`` it dumps into ``OUTPUT_DIR`` (``SOLVER.*``).

``WarmupMultiStepLR`` (the default): ``BASE_LR × GAMMA^(milestones passed)``, milestones
``STEPS`` (those ≥ ``MAX_ITER`` are dropped, as detectron2 does); ``WarmupCosineLR``: a
cosine over ``[0, MAX_ITER]`` to ``BASE_LR_END``. The warmup factor rises linearly from
``WARMUP_FACTOR`` (default 0.001) over ``WARMUP_ITERS`` (default 1000) and multiplies the
schedule. ``metrics.json`` logs the LR an iteration used, so the plan is on the same clock.
"""

from __future__ import annotations

import re
from typing import Any

from unified_prior.doctor.conventions.base import (
    Convention,
    Found,
    build,
    number,
    register,
    whole,
    whole_numbers,
)
from unified_prior.doctor.conventions.families import FromZeroCosineSpec, MultiStepSpec
from unified_prior.doctor.declared import Declared, Defaults
from unified_prior.schedules.base import ScheduleSpec

_FILES = ("config.yaml", "config.yml")


_PRINTED = re.compile(r"Running with (full )?config:\s*$")
_TOP_KEY = re.compile(r"^[A-Z][A-Z0-9_]*:")


def printed_config(lines: list[str]) -> dict[str, Any] | None:
    """The YAML config detectron2 / maskrcnn-benchmark print after "Running with config:"
    (indented ``KEY: value`` lines up to the next log line), parsed with ``safe_load``."""
    for i, line in enumerate(lines):
        if not _PRINTED.search(line.rstrip()):
            continue
        block = []
        for following in lines[i + 1 :]:
            if following.strip() and not (
                following.startswith((" ", "\t")) or _TOP_KEY.match(following)
            ):
                break
            block.append(following.rstrip("\n"))
        try:
            import yaml

            data = yaml.safe_load("\n".join(block))
        except Exception:
            continue
        if isinstance(data, dict):
            return data
    return None


def _milestones(value: Any) -> tuple[int, ...]:
    """``STEPS`` as ints: YAML gives a list, a printed tuple is the string "(a, b)"."""
    if isinstance(value, str):
        value = re.findall(r"\d+(?:\.\d+)?", value[:10_000])
    elif isinstance(value, int | float):
        value = [value]
    return whole_numbers(value)


def _solver(data: dict[str, Any]) -> dict[str, Any] | None:
    solver = data.get("SOLVER")
    return solver if isinstance(solver, dict) and "BASE_LR" in solver else None


@register
class Detectron2(Convention):
    name = "detectron2"
    label = "detectron2"
    defaults = Defaults("detectron2", 0.001, 0.0, "detectron2 default WARMUP_FACTOR=0.001")

    def _config(self, found: Found) -> tuple[str, dict[str, Any]] | None:
        for name in _FILES:
            for path, data in found.mappings(name):
                solver = _solver(data)
                if solver is not None:
                    return str(path), solver
        for source, data in found.evidence.configs:
            solver = _solver(data)
            if solver is not None:
                return source, solver
        for path, lines in found.text_heads:
            printed = printed_config(lines)
            solver = _solver(printed) if printed else None
            if solver is not None:
                return f"{path} (printed config)", solver
        return None

    def detect(self, found: Found) -> bool:
        return self._config(found) is not None

    def declared(self, found: Found) -> Declared | None:
        config = self._config(found)
        if config is None:
            return None
        source, solver = config
        name = str(solver.get("LR_SCHEDULER_NAME", "WarmupMultiStepLR"))
        max_iter = whole(solver, "MAX_ITER")
        declared = Declared(
            plan=None, source=f"detectron2 SOLVER in {source}", convention=self.name
        )
        assumed = declared.assumed
        warmup = whole(solver, "WARMUP_ITERS")
        if warmup is None:
            warmup = 1000
            assumed.append("WARMUP_ITERS=1000 (detectron2 default)")
        start = number(solver, "WARMUP_FACTOR")
        if start is None:
            start = 0.001
            assumed.append("WARMUP_FACTOR=0.001 (detectron2 default)")
        if str(solver.get("WARMUP_METHOD", "linear")).lower() == "constant":
            assumed.append("WARMUP_METHOD=constant read as a linear warmup")
        warm = {"warmup_steps": min(warmup, (max_iter or 1) - 1), "warmup_start_factor": start}
        spec_cls: type[ScheduleSpec]
        if "cosine" in name.lower():
            declared.kind = "cosine"
            end = number(solver, "BASE_LR_END") or 0.0
            peak = number(solver, "BASE_LR") or 0.0
            values: dict[str, Any] = {**warm, "min_lr_ratio": end / peak if peak else 0.0}
            spec_cls = FromZeroCosineSpec
        elif "multistep" in name.lower() or "step" in name.lower():
            declared.kind = "multistep"
            milestones = sorted(
                int(s) for s in _milestones(solver.get("STEPS")) if 0 < s < (max_iter or 0)
            )
            gamma = number(solver, "GAMMA")
            gamma = 0.1 if gamma is None else gamma
            values = {**warm, "milestones": tuple(milestones), "gamma": gamma}
            spec_cls = MultiStepSpec
        else:
            declared.kind = name
            declared.problem = f"detectron2 LR_SCHEDULER_NAME {name!r} has no closed form here"
            return declared
        return build(declared, values, spec_cls, peak=number(solver, "BASE_LR"), length=max_iter)
