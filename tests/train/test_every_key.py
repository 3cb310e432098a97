"""Every config key has an effect (DESIGN §4): changing it changes the run or its recorded
effective settings. A key added to the config without a row here fails the coverage test."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel

from unified_prior.config import RunConfig, load_config
from unified_prior.errors import InputError
from unified_prior.train.checkpoint import BEST_NAME, checkpoint_name, load_checkpoint
from unified_prior.train.loop import Callback, TrainState, train

#: The baseline: 6 updates (Adam's first step on a fresh gradient is sign-only, so a few
#: updates are needed before every input shows in the weights), no EMA ramp-up.
BASE = [
    "train.max_steps=6",
    "schedule.warmup_steps=1",
    "train.ema_rampup_ratio=0",
    "checkpoint.every_steps=2",
    "checkpoint.keep_last=5",
    "eval.every_steps=2",
    "data.num_workers=0",
]

#: key → a changed value (as ``--set`` TOML). ``{alt_root}`` is a second tile folder.
CHANGES: dict[str, str] = {
    "data.root": "'{alt_root}'",
    "data.domains": (
        "{photography={channels=4, scale=10000.0, read_noise=3.0, background=0.0},"
        " microscopy={channels=1, scale=20000.0, read_noise=2.0, background=0.0},"
        " astronomy={channels=1, scale=50000.0, read_noise=1.0, background=0.0}}"
    ),
    "data.split_train": "'val'",
    "data.split_val": "'train'",
    "data.resolution": "8",
    "data.num_workers": "1",
    "data.balance_domains": "false",
    "model.channels": "4",
    "model.channel_mult": "[1, 1]",
    "model.blocks_per_level": "2",
    "model.attention_resolutions": "[8]",
    "model.dropout": "0.3",
    "model.sigma_data": "1.0",
    "model.p_mean": "0.5",
    "model.p_std": "0.3",
    "optim.learning_rate": "1e-3",
    "optim.weight_decay": "0.5",
    "optim.betas": "[0.5, 0.9]",
    "optim.eps": "1e-2",
    "optim.grad_clip_norm": "0.01",
    "schedule.kind": "'constant'",
    "schedule.warmup_steps": "2",
    "schedule.warmup_start_factor": "0.5",
    "schedule.min_lr_ratio": "0.5",
    "train.max_steps": "8",
    "train.batch_size": "2",
    "train.grad_accum_steps": "1",
    "train.precision": "'bf16'",
    "train.ema_halflife_steps": "50",
    "train.ema_rampup_ratio": "0.5",
    "train.seed": "1",
    "train.device": "'cuda'",
    "train.compile": "'default'",
    "checkpoint.every_steps": "3",
    "checkpoint.keep_last": "1",
    "checkpoint.keep_best": "false",
    "eval.every_steps": "3",
    "eval.sigmas": "[0.5, 1.0]",
    "eval.tiles_per_domain": "1",
    "eval.seed": "1",
    "log.every_steps": "2",
    "log.tensorboard": "false",
    "log.progress": "'plain'",
}


def all_keys(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        if name != "schedule" and isinstance(sub, type) and issubclass(sub, BaseModel):
            keys += all_keys(sub, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


def test_every_key_has_a_row() -> None:
    schedule_keys = [f"schedule.{k}" for k in type(RunConfig().schedule).model_fields]
    keys = [k for k in all_keys() if k != "schedule"] + schedule_keys
    assert sorted(keys) == sorted(CHANGES)


class Children(Callback):
    """The most child processes seen during the run (DataLoader workers are processes)."""

    def __init__(self) -> None:
        self.most = 0

    def on_update_end(self, run: TrainState, updated: bool) -> None:
        pid = os.getpid()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        self.most = max(self.most, len(children))


@dataclass
class Observed:
    """What a user can see of a run: its files, records, weights and messages."""

    values: dict[str, Any] = field(default_factory=dict)

    def differs(self, other: Observed) -> list[str]:
        return [k for k in self.values if self.values[k] != other.values.get(k)]


def digest(state: dict[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(state.items()):
        h.update(name.encode())
        h.update(tensor.detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def observe(config: RunConfig, run_dir: Path) -> Observed:
    children = Children()
    result = train(config, run_dir, callbacks=[children])
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    header = lines[0]
    val = [r for r in lines if r["kind"] == "val"]
    ckpt_dir = run_dir / "checkpoints"
    final = load_checkpoint(ckpt_dir / checkpoint_name(result.step))
    log_text = (run_dir / "train.log").read_text()
    # Messages only: the log's timestamps differ between any two runs.
    warnings = [x.split(" WARNING ", 1)[1] for x in log_text.splitlines() if " WARNING " in x]
    return Observed(
        {
            "steps": result.step,
            "weights": digest(final["model"]),
            "ema": digest(final["ema"]),
            "params": sum(t.numel() for t in final["model"].values()),
            "lrs": [r["lr"] for r in lines if r["kind"] == "train"],
            "train_steps": [r["step"] for r in lines if r["kind"] == "train"],
            "val": [(r["step"], r["val_loss"], sorted(r["psnr"])) for r in val],
            "val_sigmas": sorted(val[0]["table"]["ema"]["loss"]["photography"]),
            "checkpoints": sorted(p.name for p in ckpt_dir.iterdir()),
            "best": (ckpt_dir / BEST_NAME).exists(),
            "tensorboard": (run_dir / "tb").exists(),
            "effective": header["config"]["effective"]["precision"],
            "compile": header["config"]["effective"]["compile"],
            "warnings": warnings,
            "workers": children.most,
        }
    )  # fmt: skip


@pytest.fixture(scope="module")
def alt_root(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tiles less half of the photography training tiles."""
    root = tmp_path_factory.mktemp("alt") / "tiles"
    shutil.copytree(sample_root, root)
    tiles = sorted((root / "photography" / "train").glob("*.pt"))
    for path in tiles[: len(tiles) // 2]:
        path.unlink()
    return root


@pytest.fixture(scope="module")
def baseline(
    tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[RunConfig, Observed]:
    config = load_config(None, [*tiny_overrides, *BASE])
    run_dir = tmp_path_factory.mktemp("baseline") / "run"
    return config, observe(config, run_dir)


@pytest.mark.parametrize("key", sorted(CHANGES))
def test_changing_the_key_changes_the_run(
    key: str,
    baseline: tuple[RunConfig, Observed],
    tiny_overrides: list[str],
    alt_root: Path,
    tmp_path: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    value = CHANGES[key].replace("{alt_root}", str(alt_root))
    overrides = [*tiny_overrides, *BASE, f"{key}={value}"]
    if key == "schedule.kind":  # constant has no floor: drop the key the tiny config sets
        overrides = [o for o in overrides if not o.startswith("schedule.min_lr_ratio")]
    config = load_config(None, overrides)
    assert config != baseline[0]
    if key == "train.device" and not torch.cuda.is_available():
        with pytest.raises(InputError, match=r"train\.device='cuda'"):
            train(config, tmp_path / "run")
        return
    capfd.readouterr()
    changed = observe(config, tmp_path / "run").differs(baseline[1])
    # The baseline prints nothing (log.progress=off); what a run prints is observable too.
    if capfd.readouterr().out.strip():
        changed.append("printed")
    assert changed, f"{key}={value} changed nothing a user can observe"
