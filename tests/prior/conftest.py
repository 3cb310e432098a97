"""Fixtures for the prior: a real (tiny, briefly trained) checkpoint and its loaded prior."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unified_prior.config import load_config
from unified_prior.prior import Prior, load_prior
from unified_prior.train.loop import train

#: The trainer tests' tiny run (16 px crops, one-level U-Net), 4 updates: ~2 s on one core.
TINY = [
    "data.resolution=16",
    "model.channels=8",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
    "schedule.warmup_steps=1",
    "train.max_steps=4",
    "train.batch_size=4",
    "train.grad_accum_steps=1",
    "train.precision=fp32",
    "train.device=cpu",
    "checkpoint.every_steps=4",
    "eval.every_steps=4",
    "eval.sigmas=[0.5]",
    "eval.tiles_per_domain=1",
    "log.progress=off",
]


@pytest.fixture(scope="session")
def tiny_checkpoint(sample_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint written by the real trainer (4 updates of the tiny model)."""
    run_dir = tmp_path_factory.mktemp("prior_run") / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(load_config(None, [*TINY, f"data.root={sample_root}"]), run_dir)
    finally:
        torch.set_num_threads(before)
    return run_dir / "checkpoints" / "checkpoint_step_0000004.pt"


@pytest.fixture
def tiny_prior(tiny_checkpoint: Path) -> Prior:
    """The tiny prior with every zero-initialised weight randomised, so that ``F`` is not 0
    (4 updates leave the network close to ``D(x) = c_skip x``, which hides sampler bugs)."""
    prior = load_prior(tiny_checkpoint)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in prior.net.parameters():
            if p.abs().sum() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return prior
