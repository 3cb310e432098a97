"""Run a fixed-size denoiser over images of any size: overlapping windows, blended back.

The U-Net was trained on ``resolution``-pixel crops; a whole image (or a tile larger than
the crops) is cut into windows of that size with ``overlap`` pixels shared between
neighbours, and the outputs are blended with weights that ramp linearly across each overlap
(no seams where one window's border meets the next). Running this blend inside every
denoiser call, rather than restoring windows separately, keeps the sampler's state global.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def window_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering ``[0, size)`` with windows of ``tile`` overlapping by
    at least ``overlap``; the last window ends at ``size``."""
    if size <= tile:
        return [0]
    stride = max(tile - overlap, 1)
    starts = list(range(0, size - tile, stride))
    return [*starts, size - tile]


def _ramp(tile: int, overlap: int, dtype: torch.dtype) -> torch.Tensor:
    """1-D weights: rising over the first ``overlap`` pixels, falling over the last ones.
    Never zero, so a pixel that only one window covers keeps its value."""
    w = torch.ones(tile, dtype=dtype)
    if overlap > 0:
        edge = (torch.arange(overlap, dtype=dtype) + 1) / (overlap + 1)
        w[:overlap] = edge
        w[tile - overlap :] = edge.flip(0)
    return w


def tiled_apply(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    overlap: int = 8,
    batch_size: int = 32,
) -> torch.Tensor:
    """``fn`` over ``tile x tile`` windows of ``x`` (``[B, C, H, W]``), blended; same shape.

    An image smaller than ``tile`` is padded (edge-replicated) up to it and cropped back.
    """
    if overlap >= tile:
        raise ValueError(f"overlap {overlap} must be smaller than the tile {tile}")
    b, _, h, w = x.shape
    if h == tile and w == tile:
        return torch.cat([fn(x[i : i + batch_size]) for i in range(0, b, batch_size)])
    pad_h, pad_w = max(tile - h, 0), max(tile - w, 0)
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    hh, ww = x.shape[-2:]
    tops, lefts = window_starts(hh, tile, overlap), window_starts(ww, tile, overlap)
    places = [(n, t, left) for n in range(b) for t in tops for left in lefts]
    out = torch.zeros_like(x)
    weight = torch.zeros(1, 1, hh, ww, dtype=x.dtype)
    ramp = _ramp(tile, overlap, x.dtype)
    w2d = ramp[:, None] * ramp[None, :]
    for lo in range(0, len(places), batch_size):
        chunk = places[lo : lo + batch_size]
        windows = torch.stack([x[n, :, t : t + tile, le : le + tile] for n, t, le in chunk])
        result = fn(windows).to(x.dtype)
        for (n, t, le), r in zip(chunk, result, strict=True):
            out[n, :, t : t + tile, le : le + tile] += r * w2d
    for t in tops:
        for le in lefts:
            weight[..., t : t + tile, le : le + tile] += w2d
    return (out / weight)[..., :h, :w]
