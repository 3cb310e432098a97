"""Sample quality of a prior without downloaded weights: SWD of its samples vs val tiles,
beside two references that any prior worth its training must beat: the untrained model
(the run's own step-0 weights) and a Gaussian matched in mean and covariance to the tiles."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import torch

from unified_prior.data.tiles import TileDataset
from unified_prior.prior.loaded import Prior, untrained_prior
from unified_prior.prior.swd import matched_gaussian, swd

REFERENCES = ("prior", "untrained", "gaussian")


@dataclass(frozen=True)
class QualityRow:
    domain: str
    swd: dict[str, list[float]]  # per reference, per pyramid level (finest first)

    def mean(self, name: str) -> float:
        return statistics.fmean(self.swd[name])


def val_crops(
    prior: Prior, root: Path, domain: str, num: int, generator: torch.Generator
) -> torch.Tensor:
    """``num`` random ``resolution``-pixel crops of the domain's val tiles ``[num, C, R, R]``."""
    val = TileDataset(
        root, prior.config.data.split_val, prior.registry, prior.resolution, prior.stats
    )
    tiles = [val.load(i) for i in val.tiles_of_domain[prior.registry[domain].index]]
    r = prior.resolution
    crops = []
    for _ in range(num):
        t = tiles[int(torch.randint(len(tiles), (1,), generator=generator))]
        top = int(torch.randint(t.shape[1] - r + 1, (1,), generator=generator))
        left = int(torch.randint(t.shape[2] - r + 1, (1,), generator=generator))
        crops.append(t[:, top : top + r, left : left + r])
    return torch.stack(crops).double()


def sample_quality(
    prior: Prior, root: Path, *, num: int = 64, steps: int = 32, seed: int = 0
) -> list[QualityRow]:
    """Per domain: SWD (× 1e3, per level) of ``num`` samples of the prior, of the untrained
    model and of the matched Gaussian, each against ``num`` val crops; all clipped to [0, 1]."""
    initial = untrained_prior(prior)
    rows = []
    for domain in prior.domains:
        g = torch.Generator().manual_seed(seed)
        reference = val_crops(prior, root, domain, num, g)
        fit = val_crops(prior, root, domain, max(4 * num, 256), g)
        candidates = {
            "prior": prior.sample(domain, num, steps=steps, seed=seed + 1),
            "untrained": initial.sample(domain, num, steps=steps, seed=seed + 1),
            "gaussian": matched_gaussian(fit, num, g),
        }
        rows.append(
            QualityRow(
                domain,
                {k: swd(v.clamp(0, 1), reference, seed=seed) for k, v in candidates.items()},
            )
        )
    return rows
