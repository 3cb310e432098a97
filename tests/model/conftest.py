"""Fixtures for model tests: the tiny CPU config, its registry, and real batches."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import Batch, DomainRegistry, LabelStats, derive_seed
from unified_prior.model import EDMPrecond, build_model

#: The tiny CPU config of the issue: 32 px, 16 channels, mult [1, 2], one block, no attention.
TINY = [
    "data.resolution=32",
    "model.channels=16",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
]


@pytest.fixture
def tiny_config() -> RunConfig:
    return load_config(None, TINY)


@pytest.fixture
def registry(tiny_config: RunConfig) -> DomainRegistry:
    return DomainRegistry.from_config(tiny_config.data)


@pytest.fixture
def tiny_net(tiny_config: RunConfig, registry: DomainRegistry) -> EDMPrecond:
    torch.manual_seed(0)
    return build_model(tiny_config.model, registry, tiny_config.data.resolution)


MakeBatch = Callable[..., Batch]


@pytest.fixture
def make_batch(registry: DomainRegistry) -> MakeBatch:
    """``make_batch([0, 1, 2, ...])``: images in [0, 1] of those domains, padded and masked
    as ``TileDataset`` makes them, with per-sample loss seeds."""
    stats = LabelStats.from_domains(registry, list(range(len(registry))))

    def make(domains: list[int], resolution: int = 32, seed: int = 0) -> Batch:
        g = torch.Generator().manual_seed(seed)
        cmax = registry.max_channels
        images = torch.zeros(len(domains), cmax, resolution, resolution)
        masks = torch.zeros(len(domains), cmax, 1, 1)
        for i, d in enumerate(domains):
            c = registry.domains[d].channels
            images[i, :c] = torch.rand(c, resolution, resolution, generator=g)
            masks[i, :c] = 1.0
        labels = torch.stack([stats.label(registry.domains[d], registry) for d in domains])
        seeds = torch.tensor([derive_seed(seed, i) for i in range(len(domains))])
        return Batch.with_draws(images, masks, labels, torch.tensor(domains), seeds)

    return make


def _randomise_output(net: EDMPrecond, seed: int = 1) -> EDMPrecond:
    """Give the zero-initialised layers random weights, so F is not identically 0."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            if p.abs().sum() == 0:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)
    return net


@pytest.fixture
def randomise_output() -> Callable[..., EDMPrecond]:
    return _randomise_output
