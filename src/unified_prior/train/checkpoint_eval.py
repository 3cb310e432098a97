"""Evaluate stored checkpoints with the same fixed-noise protocol the run logged."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unified_prior.config import config_from_dict
from unified_prior.evaluate import EvalTable, evaluate_fixed_noise
from unified_prior.model import build_model
from unified_prior.train.build import build_datasets
from unified_prior.train.checkpoint import check_checkpoint_fits, load_checkpoint


@dataclass(frozen=True)
class CheckpointEval:
    path: Path
    step: int
    raw: EvalTable
    ema: EvalTable

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": str(self.path),
            "step": self.step,
            "val_loss": self.ema.mean_loss,
            "val_loss_raw": self.raw.mean_loss,
            "table": {"raw": self.raw.to_dict(), "ema": self.ema.to_dict()},
        }


def evaluate_checkpoint(
    path: Path, *, data_root: Path | None = None, device: str = "cpu"
) -> CheckpointEval:
    """Raw and EMA fixed-noise tables of one checkpoint, with the run's own eval settings.

    The val tiles come from the checkpoint's ``data.root`` unless ``data_root`` is given, and
    labels use the stored training-set statistics, so the numbers equal the run's val records.
    """
    state = load_checkpoint(path)
    tree = dict(state["config"])
    if data_root is not None:
        tree["data"] = {**tree["data"], "root": str(data_root)}
    config = config_from_dict(tree, source=f"checkpoint {path} config")
    check_checkpoint_fits(path, state, config)  # a misfit is one line, not a load traceback
    registry, _, val_set = build_datasets(config, state["data_stats"])
    tables = {}
    for name in ("model", "ema"):
        net = build_model(config.model, registry, config.data.resolution)
        net.load_state_dict(state[name])  # EMA.state_dict() is the averaged net's state dict
        net.to(torch.device(device))
        tables[name] = evaluate_fixed_noise(
            net,
            val_set,
            sigmas=config.eval.sigmas,
            tiles_per_domain=config.eval.tiles_per_domain,
            seed=config.eval.seed,
            batch_size=config.train.batch_size,
            device=device,
        )
    return CheckpointEval(Path(path), int(state["step"]), tables["model"], tables["ema"])
