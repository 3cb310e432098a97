"""Fixtures for evaluation tests: the bundled sample tiles (32 px) and validation sets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import DomainRegistry, TileDataset
from unified_prior.model import EDMPrecond, build_model

#: The tiny CPU model of the issue at 32 px.
TINY_MODEL = [
    "data.resolution=32",
    "model.channels=16",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
]


@pytest.fixture(scope="session")
def sample_tiles(sample_root: Path) -> Path:
    """The bundled sample dataset at 32 px (tests/conftest.py)."""
    return sample_root


@pytest.fixture
def tiny_config(sample_tiles: Path) -> RunConfig:
    return load_config(None, [*TINY_MODEL, f"data.root={sample_tiles}"])


@pytest.fixture
def val_set(tiny_config: RunConfig, sample_tiles: Path) -> TileDataset:
    registry = DomainRegistry.from_config(tiny_config.data)
    train = TileDataset(sample_tiles, "train", registry, 32)
    return TileDataset(sample_tiles, "val", registry, 32, stats=train.stats)


@pytest.fixture
def noisy_net(tiny_config: RunConfig, val_set: TileDataset) -> EDMPrecond:
    """A tiny net whose zero-initialised layers got random weights: F is not 0."""
    torch.manual_seed(0)
    net = build_model(tiny_config.model, val_set.registry, 32)
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().sum() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net
