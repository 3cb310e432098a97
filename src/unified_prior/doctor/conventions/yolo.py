"""Ultralytics YOLO: v8+ ``args.yaml``; YOLOv5/v7 ``opt.yaml`` + ``hyp.yaml``.

The schedule is a ``LambdaLR`` stepped once per epoch, ``lf(x) = (1 - x/epochs)(1 - lrf) +
lrf`` (linear; the default) or the "one cycle" cosine from 1 to ``lrf`` (``cos_lr``; in old
YOLOv5, cosine unless ``linear_lr``) — our ``linear``/``cosine`` with ``min_lr_ratio = lrf``
over ``epochs``. The warmup runs per *iteration* over ``max(warmup_epochs × batches, 100)``
iterations: weights from 0, biases from ``warmup_bias_lr`` down; ``results.csv`` logs one LR
per epoch, so warmup epochs are not compared. With ``optimizer: auto`` YOLOv8 picks its own
LR and ignores ``lr0``: the peak is then read off the log and the report says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from unified_prior.doctor.conventions.base import Convention, Found, build, number, register, whole
from unified_prior.doctor.declared import Declared, Defaults
from unified_prior.schedules import CosineSpec, LinearSpec


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1"))


@register
class Yolo(Convention):
    name = "yolo"
    label = "Ultralytics YOLO"
    defaults = Defaults("yolo", 0.0, 0.01, "YOLO default lrf=0.01")

    def detect(self, found: Found) -> bool:
        return bool(self._sources(found))

    def _sources(self, found: Found) -> list[tuple[Path, dict[str, Any], str]]:
        out = []
        for name, version in (("args.yaml", "v8"), ("opt.yaml", "v5")):
            for path, data in found.mappings(name):
                if "epochs" in data and ("lr0" in data or "hyp" in data or "lrf" in data):
                    out.append((path, data, version))
        return out

    def declared(self, found: Found) -> Declared | None:
        sources = self._sources(found)
        if not sources:
            return None
        path, args, version = sources[0]
        hyp: dict[str, Any] = dict(args)
        where = [str(path)]
        if isinstance(args.get("hyp"), dict):
            hyp.update(args["hyp"])
        for hyp_path, data in found.mappings("hyp.yaml"):
            if hyp_path.parent == path.parent:
                for key, value in data.items():
                    hyp.setdefault(key, value)
                where.append(str(hyp_path))
        epochs = whole(args, "epochs")
        if version == "v5" and "cos_lr" not in args and "linear_lr" in args:
            cosine = not _truthy(args.get("linear_lr"))  # YOLOv5 ≤ 6.0: one-cycle by default
        else:
            cosine = _truthy(args.get("cos_lr"))
        lrf = number(hyp, "lrf")
        declared = Declared(
            plan=None,
            source=f"YOLO {'args' if version == 'v8' else 'opt/hyp'} in {', '.join(where)}",
            kind="cosine" if cosine else "linear",
            unit="epoch",
            convention=self.name,
            # v8 numbers results.csv epochs from 1, v5 from 0: either is within ±1 epoch.
            step_slack=1,
            skip_observed_warmup=True,
        )
        if lrf is None:
            lrf = 0.01
            declared.assumed.append("lrf=0.01 (YOLO default)")
        warmup_epochs = number(hyp, "warmup_epochs") or 0.0
        declared.compare_from = math.ceil(warmup_epochs) + 1 if warmup_epochs > 0 else 0
        peak = number(hyp, "lr0")
        optimizer = str(args.get("optimizer", "")).strip().lower()
        if version == "v8" and optimizer in ("auto", ""):
            declared.assumed.append(
                "optimizer=auto: YOLOv8 chooses its own LR and ignores lr0, so the peak is "
                "taken from the log (only the shape is checked)"
            )
            declared.peak_known = False
        spec_cls = CosineSpec if cosine else LinearSpec
        # Warmup is per iteration: leave it out of the per-epoch plan (compare_from skips it).
        values = {"warmup_steps": 0, "min_lr_ratio": min(max(lrf, 0.0), 1.0)}
        built = build(declared, values, spec_cls, peak=peak or 0.01, length=epochs)
        if built.plan is not None and peak is None:
            built.assumed.append("lr0=0.01 (YOLO default)")
        return built
