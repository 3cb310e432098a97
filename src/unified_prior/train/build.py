"""Everything a run is made of, built from the config: data, model, EMA, optimizer, loss."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from unified_prior.config import OptimConfig, RunConfig
from unified_prior.data import (
    BalancedSampler,
    DomainRegistry,
    LabelStats,
    TileDataset,
    derive_seed,
)
from unified_prior.errors import InputError
from unified_prior.model import EMA, EDMLoss, EDMPrecond, build_model
from unified_prior.train.dist import DistContext

#: Seed stream tags, so that no two uses of ``train.seed`` ever share a generator.
SEED_INIT, SEED_STEP = 1, 2


@dataclass
class RunParts:
    registry: DomainRegistry
    train_set: TileDataset
    val_set: TileDataset
    sampler: BalancedSampler
    net: EDMPrecond
    model: nn.Module  # ``net`` or its DistributedDataParallel wrapper
    ema: EMA
    optimizer: torch.optim.Optimizer
    loss_fn: EDMLoss


def build_datasets(
    config: RunConfig, stats: dict[str, Any] | None = None
) -> tuple[DomainRegistry, TileDataset, TileDataset]:
    """Train and val tile sets; labels standardised with training-set (or stored) stats."""
    root = Path(config.data.root)
    if not root.is_dir():
        raise InputError(
            f"data.root {root}: no such folder; build tiles with `uprior data sample --out DIR` "
            "and pass --set data.root=DIR"
        )
    registry = DomainRegistry.from_config(config.data)
    label_stats = LabelStats.from_dict(stats) if stats is not None else None
    resolution = config.data.resolution
    train_set = TileDataset(root, config.data.split_train, registry, resolution, label_stats)
    val_set = TileDataset(root, config.data.split_val, registry, resolution, train_set.stats)
    return registry, train_set, val_set


def build_optimizer(net: nn.Module, optim: OptimConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on weight matrices and kernels only.

    Biases and normalisation gains (1-d parameters) are excluded, as in nanoGPT and timm:
    decaying them towards zero only fights the normalisation.
    """
    decay, no_decay = param_groups(net)
    groups = [
        {"params": decay, "weight_decay": optim.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    # Fused AdamW on a GPU: one kernel for every parameter instead of torch's default
    # multi-tensor (foreach) form, and it can skip an update on the device, which the deferred
    # finite check needs (train/finite.py). Elsewhere torch's default stays: on the CPU that is
    # the per-parameter form, and fused CPU AdamW rounds differently, which would end
    # bit-identical resume of runs started before this change.
    on_gpu = all(p.is_cuda for p in [*decay, *no_decay])
    fused = {"fused": True} if on_gpu else {}
    return torch.optim.AdamW(
        groups, lr=optim.learning_rate, betas=optim.betas, eps=optim.eps, **fused
    )


def param_groups(net: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """The optimizer's parameter groups, in its order: decayed (>= 2-d), not decayed."""
    decay = [p for p in net.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in net.parameters() if p.requires_grad and p.ndim < 2]
    return decay, no_decay


def optimizer_kind(optimizer: torch.optim.Optimizer) -> str:
    """Which AdamW implementation runs: ``fused``, ``foreach`` or ``for-loop``.

    A resumed run keeps the form its checkpoint was saved with (``load_state_dict`` restores
    the group flags), so this reads the groups rather than the build's choice.
    """
    group = optimizer.param_groups[0]
    if group.get("fused"):
        return "fused"
    if group.get("foreach") is None:  # torch decides: foreach when every tensor is on a GPU
        on_gpu = all(p.is_cuda for g in optimizer.param_groups for p in g["params"])
        return "foreach" if on_gpu else "for-loop"
    return "foreach" if group["foreach"] else "for-loop"


def build_run(config: RunConfig, ctx: DistContext, stats: dict[str, Any] | None) -> RunParts:
    registry, train_set, val_set = build_datasets(config, stats)
    if not train_set or not val_set:
        raise InputError(
            f"data.root {config.data.root}: needs tiles in both "
            f"{config.data.split_train}/ and {config.data.split_val}/ of every domain"
        )
    sampler = BalancedSampler(
        train_set.domain_index,
        batch_size=config.train.batch_size,
        seed=config.train.seed,
        rank=ctx.rank,
        world_size=ctx.world_size,
        balance=config.data.balance_domains,
    )
    # Identical initial weights on every rank and in every run with this seed.
    torch.manual_seed(derive_seed(config.train.seed, SEED_INIT))
    net = build_model(config.model, registry, config.data.resolution).to(ctx.device)
    model: nn.Module = net
    if ctx.enabled:
        device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        model = nn.parallel.DistributedDataParallel(net, device_ids=device_ids)
    ema = EMA(net, config.train.ema_halflife_steps, config.train.ema_rampup_ratio)
    optimizer = build_optimizer(net, config.optim)
    loss_fn = EDMLoss(config.model.p_mean, config.model.p_std, config.model.sigma_data)
    return RunParts(registry, train_set, val_set, sampler, net, model, ema, optimizer, loss_fn)
