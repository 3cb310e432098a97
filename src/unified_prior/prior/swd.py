"""Sliced Wasserstein distance on Laplacian-pyramid patches (Karras et al. 2018, ICLR;
tkarras/progressive_growing_of_gans ``metrics/sliced_wasserstein.py``), in torch.

Each image becomes a Laplacian pyramid (5-tap binomial filter); from every level, random
7x7 patches are taken as descriptors; each set's descriptors are normalised per channel
(their own mean and std, as the reference does), and the distance between two sets is the
average over random unit directions of the 1-D Wasserstein-1 distance of the projections
(sorted differences). One number per pyramid level; lower is closer. We write our own
because the reference is TF1 code and no maintained package implements this metric; the
parameters follow the reference (7x7 patches, 4 x 128 directions, levels down to 16 px).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PATCH = 7
DIRECTIONS, REPEATS = 128, 4
MIN_LEVEL_PX = 16

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=torch.float64) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    c = x.shape[1]
    k = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x.dtype).expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=c)


def laplacian_pyramid(x: torch.Tensor, min_px: int = MIN_LEVEL_PX) -> list[torch.Tensor]:
    """Band-pass levels, finest first, down to ``min_px``; the last level is the low-pass."""
    levels = []
    while x.shape[-1] // 2 >= min_px:
        down = _blur(x)[..., ::2, ::2]
        up = F.interpolate(down, scale_factor=2, mode="nearest")
        levels.append(x - _blur(up)[..., : x.shape[-2], : x.shape[-1]])
        x = down
    levels.append(x)
    return levels


def patch_descriptors(
    level: torch.Tensor, per_image: int, generator: torch.Generator
) -> torch.Tensor:
    """``per_image`` random 7x7 patches of every image, normalised per channel → ``[N, D]``."""
    b, c, h, w = level.shape
    tops = torch.randint(0, h - PATCH + 1, (b, per_image), generator=generator)
    lefts = torch.randint(0, w - PATCH + 1, (b, per_image), generator=generator)
    windows = level.unfold(2, PATCH, 1).unfold(3, PATCH, 1)  # a view: [B, C, h', w', P, P]
    rows = torch.arange(b)[:, None]
    patches = windows[rows, :, tops, lefts].reshape(b * per_image, c, PATCH, PATCH)
    mean = patches.mean(dim=(0, 2, 3), keepdim=True)
    std = patches.std(dim=(0, 2, 3), keepdim=True).clamp(min=1e-8)
    return ((patches - mean) / std).reshape(len(patches), -1)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> float:
    """Mean over random directions of the W1 distance of the projected descriptor sets."""
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    dists = []
    for _ in range(REPEATS):
        dirs = torch.randn(a.shape[1], DIRECTIONS, generator=generator, dtype=a.dtype)
        dirs = dirs / dirs.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ dirs, dim=0)
        pb, _ = torch.sort(b @ dirs, dim=0)
        dists.append((pa - pb).abs().mean())
    return float(torch.stack(dists).mean())


def swd(
    images_a: torch.Tensor, images_b: torch.Tensor, seed: int = 0, per_image: int = 64
) -> list[float]:
    """SWD per pyramid level (finest first) between two image sets ``[N, C, H, W]``,
    × 1e3 as the reference reports it."""
    g = torch.Generator().manual_seed(seed)
    pa = laplacian_pyramid(images_a.double())
    pb = laplacian_pyramid(images_b.double())
    return [
        1e3
        * sliced_wasserstein(
            patch_descriptors(la, per_image, g), patch_descriptors(lb, per_image, g), g
        )
        for la, lb in zip(pa, pb, strict=True)
    ]


def matched_gaussian(images: torch.Tensor, num: int, generator: torch.Generator) -> torch.Tensor:
    """``num`` draws of the Gaussian with the empirical mean and covariance of ``images``.

    ``mean + Xcᵀ z / sqrt(n - 1)`` with ``z ~ N(0, I_n)`` has exactly the sample covariance
    ``Xcᵀ Xc / (n - 1)`` without forming it (D = C·H·W is ~4000 for a packed tile)."""
    n = len(images)
    flat = images.double().reshape(n, -1)
    mean = flat.mean(dim=0)
    centred = flat - mean
    z = torch.randn(num, n, generator=generator, dtype=torch.float64)
    return (mean + z @ centred / (n - 1) ** 0.5).reshape(num, *images.shape[1:])
