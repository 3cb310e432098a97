"""Fixed-noise validation: a domain x sigma table of EDM loss and denoising PSNR gain.

The same held-out tiles (the first ``tiles_per_domain`` of each domain, centre-cropped), a
fixed grid of sigmas, and for every (tile, sigma) its own noise from a generator seeded by
``(seed, domain name, tile position, sigma value)`` (EDM's ``StackedRandomGenerator`` idea;
research notes §4). So every (tile, sigma) gets bit-identical inputs whatever the batch
size, evaluation order or world size, two checkpoints are compared on identical inputs, and
the global (training) RNG is never touched. At a fixed batch size the table is bit-identical;
across batch sizes it agrees to float32 rounding (~1e-7 relative), because conv and GEMM
kernels are not batch-invariant (a sample's output differs in the last bits between a batch
of 1 and of 32), and the reduction below is in a fixed order in float64.

PSNR gain is ``10 log10(MSE(noisy, clean) / MSE(D(noisy), clean))`` per (domain, sigma),
pooled over tiles and valid channels: how many dB the denoiser beats the identity baseline
by. Being a ratio it needs no peak value. Run it for raw and for EMA weights.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from unified_prior.data.seeds import STREAM_EVAL, derive_seed, seeded_generator
from unified_prior.data.tiles import TileDataset
from unified_prior.model.loss import masked_weighted_mse


@dataclass
class EvalTable:
    """Per domain, per sigma: mean weighted loss and PSNR gain (dB) over the identity."""

    loss: dict[str, dict[float, float]]
    psnr_gain_db: dict[str, dict[float, float]]
    tiles: dict[str, int] = field(default_factory=dict)

    @property
    def mean_loss(self) -> float:
        """Grid mean over domains x sigmas: the run's ``val_loss``."""
        values = [v for row in self.loss.values() for v in row.values()]
        return math.fsum(values) / len(values)

    def mean_psnr_gain_db(self) -> dict[str, float]:
        """Per domain, the PSNR gain averaged over the sigma grid."""
        return {d: math.fsum(row.values()) / len(row) for d, row in self.psnr_gain_db.items()}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``val_loss``, the two tables (sigma keys as strings), ``psnr`` per
        domain (mean gain in dB) and the number of tiles per domain."""
        return {
            "val_loss": self.mean_loss,
            "loss": {d: {repr(s): v for s, v in row.items()} for d, row in self.loss.items()},
            "psnr_gain_db": {
                d: {repr(s): v for s, v in row.items()} for d, row in self.psnr_gain_db.items()
            },
            "psnr": self.mean_psnr_gain_db(),
            "tiles": dict(self.tiles),
        }

    def to_text(self) -> str:
        """A plain table: one row per domain and quantity, one column per sigma."""
        sigmas = sorted({s for row in self.loss.values() for s in row})
        head = f"{'domain':<14}{'':<10}" + "".join(f"{'s=' + format(s, 'g'):>10}" for s in sigmas)
        lines = [head]
        for d in self.loss:
            lines.append(
                f"{d:<14}{'loss':<10}" + "".join(f"{self.loss[d][s]:>10.4f}" for s in sigmas)
            )
            lines.append(
                f"{'':<14}{'gain dB':<10}"
                + "".join(f"{self.psnr_gain_db[d][s]:>10.2f}" for s in sigmas)
            )
        lines.append(f"val_loss (grid mean) = {self.mean_loss:.6f}")
        return "\n".join(lines)


def _sigma_key(sigma: float) -> int:
    """The exact bits of a sigma: the same value gets the same noise in any grid."""
    return int.from_bytes(struct.pack("<d", float(sigma)), "little")


def eval_noise(
    seed: int, domain: str, position: int, sigma: float, shape: tuple[int, ...]
) -> torch.Tensor:
    """The fixed unit noise of tile ``position`` of ``domain`` at ``sigma``."""
    name_key = zlib.crc32(domain.encode("utf-8"))
    g = seeded_generator(derive_seed(seed, STREAM_EVAL, name_key, position, _sigma_key(sigma)))
    return torch.randn(shape, generator=g)


def _sigma_data(net: nn.Module) -> float:
    """``sigma_data`` of an ``EDMPrecond``, also through a DDP/compile wrapper's ``module``."""
    for candidate in (net, getattr(net, "module", None), getattr(net, "_orig_mod", None)):
        value = getattr(candidate, "sigma_data", None)
        if isinstance(value, float | int):
            return float(value)
    raise TypeError(f"{type(net).__name__} has no sigma_data; pass an EDMPrecond")


@torch.no_grad()
def evaluate_fixed_noise(
    net: nn.Module,
    dataset: TileDataset,
    *,
    sigmas: Sequence[float],
    tiles_per_domain: int,
    seed: int,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> EvalTable:
    """Evaluate ``net`` (a denoiser ``D(x, sigma, labels, masks)``) on fixed noise.

    Uses the first ``tiles_per_domain`` tiles of each domain (all if fewer). The net is put
    in eval mode for the call and restored afterwards.
    """
    if not sigmas or any(s <= 0 for s in sigmas):
        raise ValueError(f"sigmas must be a non-empty list of positive values, got {sigmas}")
    if tiles_per_domain < 1 or batch_size < 1:
        raise ValueError("tiles_per_domain and batch_size must be >= 1")
    registry = dataset.registry
    sigma_data = _sigma_data(net)
    tiles = [
        t for d in registry.domains for t in dataset.tiles_of_domain[d.index][:tiles_per_domain]
    ]
    items = {t: dataset[t] for t in tiles}
    pairs = [(t, s) for t in tiles for s in sigmas]
    loss = torch.empty(len(pairs), dtype=torch.float64)
    err_denoised = torch.empty(len(pairs), dtype=torch.float64)
    err_identity = torch.empty(len(pairs), dtype=torch.float64)

    was_training = net.training
    net.eval()
    try:
        for lo in range(0, len(pairs), batch_size):
            chunk = pairs[lo : lo + batch_size]
            clean = torch.stack([items[t]["image"] for t, _ in chunk])
            masks = torch.stack([items[t]["mask"] for t, _ in chunk])
            labels = torch.stack([items[t]["label"] for t, _ in chunk])
            sigma = torch.tensor([s for _, s in chunk], dtype=torch.float32)
            noise = torch.stack(
                [
                    eval_noise(
                        seed,
                        registry.domains[dataset.domain_index[t]].name,
                        dataset.position_in_domain[t],
                        s,
                        tuple(clean.shape[1:]),
                    )
                    for t, s in chunk
                ]
            )
            clean = clean * masks
            noisy = clean + noise * sigma.reshape(-1, 1, 1, 1) * masks
            denoised = net(noisy.to(device), sigma.to(device), labels.to(device), masks.to(device))
            denoised = denoised.float().cpu()
            hi = lo + len(chunk)
            loss[lo:hi] = masked_weighted_mse(denoised, clean, sigma, masks, sigma_data).double()
            valid = masks.sum(dim=(1, 2, 3)) * clean.shape[-1] * clean.shape[-2]
            err_denoised[lo:hi] = (
                ((denoised - clean) ** 2 * masks).sum(dim=(1, 2, 3)) / valid
            ).double()
            err_identity[lo:hi] = (
                ((noisy - clean) ** 2 * masks).sum(dim=(1, 2, 3)) / valid
            ).double()
    finally:
        net.train(was_training)

    # Reduce in a fixed order (domain, then tile, per sigma), in float64.
    table_loss: dict[str, dict[float, float]] = {}
    table_gain: dict[str, dict[float, float]] = {}
    counts: dict[str, int] = {}
    row = {pair: n for n, pair in enumerate(pairs)}
    for domain in registry.domains:
        mine = dataset.tiles_of_domain[domain.index][:tiles_per_domain]
        counts[domain.name] = len(mine)
        table_loss[domain.name], table_gain[domain.name] = {}, {}
        for s in sigmas:
            rows = [row[(t, s)] for t in mine]
            table_loss[domain.name][float(s)] = math.fsum(loss[rows].tolist()) / len(rows)
            identity = math.fsum(err_identity[rows].tolist())
            ratio = identity / max(math.fsum(err_denoised[rows].tolist()), 1e-30)
            table_gain[domain.name][float(s)] = 10.0 * math.log10(ratio)
    return EvalTable(loss=table_loss, psnr_gain_db=table_gain, tiles=counts)
