"""Fixtures for trainer tests: real sample tiles on disk and a tiny, fast run config."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from unified_prior.config import RunConfig, load_config

#: A run that takes about a second on one CPU core: 16 px crops, a one-level U-Net.
TINY = [
    "data.resolution=16",
    "model.channels=8",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
    "optim.learning_rate=2e-3",
    "schedule.kind=cosine",
    "schedule.warmup_steps=3",
    "schedule.warmup_start_factor=0.1",
    "schedule.min_lr_ratio=0.1",
    "train.max_steps=8",
    "train.batch_size=4",
    "train.grad_accum_steps=2",
    "train.precision=fp32",
    "train.device=cpu",
    "train.ema_halflife_steps=2",
    "checkpoint.every_steps=4",
    "checkpoint.keep_last=5",
    "eval.every_steps=4",
    "eval.sigmas=[0.5, 2.0]",
    "eval.tiles_per_domain=2",
    "log.every_steps=1",
    "log.progress=off",
]


@pytest.fixture
def make_config(sample_root: Path) -> Callable[..., RunConfig]:
    """``make_config("train.max_steps=4", ...)``: the tiny config plus overrides."""

    def make(*overrides: str) -> RunConfig:
        return load_config(None, [*TINY, f"data.root={sample_root}", *overrides])

    return make


def tensors_equal(a: object, b: object) -> bool:
    """Deep, exact equality of nested state dicts (tensors compared bit for bit)."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        return a.dtype == b.dtype and a.shape == b.shape and bool(torch.equal(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(tensors_equal(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(tensors_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.fixture
def state_equal() -> Callable[[object, object], bool]:
    return tensors_equal


@pytest.fixture(scope="session")
def tiny_overrides(sample_root: Path) -> list[str]:
    """The tiny config as ``--set`` items, for module-scoped runs and CLI subprocesses."""
    return [*TINY, f"data.root={sample_root}"]
