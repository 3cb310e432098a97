"""Reading and writing the prior's files: sample tiles, PNG previews, noisy observations.

Samples are written in the dataset tile layout (``{"clean_norm": float32 [C, H, W] in
[0, 1], "metadata": {...}}``), so they can be fed back to anything that reads tiles.
Observations (``uprior data noisy``) hold ``noisy``, ``clean_norm`` and ``metadata``; restore
reads ``noisy`` (``[C, H, W]`` of any size: a whole image is tiled) and ignores the rest.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unified_prior.errors import InputError, load_error_reason


def to_tile(x: torch.Tensor) -> torch.Tensor:
    """A sample as tile data: float32, clipped to the normalised range [0, 1]."""
    return x.detach().float().clamp(0.0, 1.0).contiguous()


def preview(image: torch.Tensor) -> np.ndarray:
    """``[C, H, W]`` normalised linear data → displayable array: packed RGGB (4 channels) as
    an sRGB image at packed resolution (greens averaged), one channel as grey."""
    x = image.detach().double().clamp(0.0, 1.0).numpy()
    if x.shape[0] == 4:
        rgb = np.stack([x[0], 0.5 * (x[1] + x[2]), x[3]], axis=-1)
        # sRGB transfer function (IEC 61966-2-1): the tiles hold linear light.
        return np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    if x.shape[0] == 1:
        return x[0]
    return x.mean(axis=0)


def save_grid(images: list[torch.Tensor], path: Path, columns: int | None = None) -> Path:
    """Previews of ``images`` in a grid with 2-pixel gaps, written as PNG."""
    import matplotlib.image

    tiles = [preview(im) for im in images]
    rgb = [t if t.ndim == 3 else np.repeat(t[..., None], 3, axis=-1) for t in tiles]
    h = max(t.shape[0] for t in rgb)
    w = max(t.shape[1] for t in rgb)
    cols = columns or math.ceil(math.sqrt(len(rgb)))
    rows = math.ceil(len(rgb) / cols)
    gap = 2
    grid = np.ones((rows * (h + gap) - gap, cols * (w + gap) - gap, 3))
    for n, t in enumerate(rgb):
        r, c = divmod(n, cols)
        top, left = r * (h + gap), c * (w + gap)
        grid[top : top + t.shape[0], left : left + t.shape[1]] = t
    path.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(path, np.clip(grid, 0.0, 1.0))
    return path


def load_payload(path: Path, what: str) -> dict[str, Any]:
    """A ``torch.save`` dict, loaded without unpickling code; ``InputError`` names the file."""
    if not path.is_file():
        raise InputError(f"{what} {path}: no such file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign or truncated files
        raise InputError(f"{what} {path}: cannot load it ({load_error_reason(err)})") from None
    if not isinstance(payload, dict):
        raise InputError(f"{what} {path}: expected a dict saved with torch.save")
    return payload


def read_observation(path: Path, channels: int) -> torch.Tensor:
    """The ``noisy`` tensor ``[C, H, W]`` of an observation file, checked against the domain."""
    payload = load_payload(path, "noisy file")
    noisy = payload.get("noisy")
    if not isinstance(noisy, torch.Tensor) or not noisy.is_floating_point():
        raise InputError(
            f"noisy file {path}: expected a float tensor under 'noisy' "
            "(make observations with `uprior data noisy`)"
        )
    if noisy.ndim == 2 and channels == 1:
        noisy = noisy[None]
    if noisy.ndim != 3 or noisy.shape[0] != channels:
        raise InputError(
            f"noisy file {path}: 'noisy' has shape {tuple(noisy.shape)}; the domain needs "
            f"[{channels}, H, W]; pass the --domain the file was made for"
        )
    if not torch.isfinite(noisy).all():
        raise InputError(f"noisy file {path}: 'noisy' contains NaN or infinite values")
    return noisy.float()


def save_tile(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload, path)
