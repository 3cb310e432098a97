"""PyTorch Lightning: ``hparams.yaml`` beside ``metrics.csv`` (what ``save_hyperparameters``
stored). Lightning has no schedule of its own: the module's ``configure_optimizers`` picks
one, so the keys are read the generic way. Where they are silent we assume what the
schedulers Lightning users reach for do (``transformers``' warmup schedules and torch's
``CosineAnnealingLR(eta_min=0)``): warmup from 0, decay to 0; and a schedule given in
epochs (``max_epochs``, ``warmup_epochs``) counts epochs, Lightning's default ``interval``.
"""

from __future__ import annotations

from typing import Any

from unified_prior.doctor.conventions.base import Convention, Found, register
from unified_prior.doctor.declared import Declared, Defaults, _leaves, plan_from_config

_EPOCH_KEYS = ("max_epochs", "epochs", "num_epochs", "n_epochs")
_STEP_KEYS = ("max_steps", "total_steps", "num_training_steps", "max_iters", "train_steps")


@register
class Lightning(Convention):
    name = "lightning"
    label = "PyTorch Lightning"
    defaults = Defaults("lightning", 0.0, 0.0, "assumed for Lightning: warmup from 0, decay to 0")

    def detect(self, found: Found) -> bool:
        return bool(found.mappings("hparams.yaml"))

    def declared(self, found: Found) -> Declared | None:
        partial: Declared | None = None
        for path, data in found.mappings("hparams.yaml"):
            flat = {str(k).lower(): v for k, v in _flat(data).items()}
            unit = "step"
            config: dict[str, Any] = dict(flat)
            if not any(k in flat for k in _STEP_KEYS) and any(k in flat for k in _EPOCH_KEYS):
                unit = "epoch"
                epochs = next(flat[k] for k in _EPOCH_KEYS if k in flat)
                config["max_steps"] = epochs
                if "warmup_epochs" in flat:
                    config["warmup_steps"] = flat["warmup_epochs"]
            declared = plan_from_config(config, f"Lightning hparams in {path}", self.defaults)
            if declared is None:
                continue
            declared.unit = unit
            if declared.plan is not None:
                return declared
            partial = partial or declared
        return partial


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    """Leaf key → value (first wins), bounded like ``declared._leaves`` (YAML aliases)."""
    out: dict[str, Any] = {}
    for path, value in _leaves(data):
        out.setdefault(path[-1], value)
    return out
