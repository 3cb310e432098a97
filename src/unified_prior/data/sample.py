"""The bundled sample dataset: scikit-image's shipped sample images cut into ``.pt`` tiles.

Only images that the scikit-image wheel ships are used (no download at run time). Train and
val are split **by source image**: no tile of a val image is in train.

Normalisation (``clean_norm``; every value in ``[0, 1]``, 1 = the sensor's full scale):

* **photography** (astronaut, coffee, chelsea → train; rocket → val): 8-bit sRGB is decoded to
  linear light with the inverse sRGB transfer function (raw sensor data is linear), cropped to
  even size, mosaicked to an RGGB Bayer pattern (R at even row/even column, G at even/odd and
  odd/even, B at odd/odd) and packed to 4 channels ``[R, G1, G2, B]`` at half resolution, as
  packed raw tiles are. ``--tile`` counts packed pixels.
* **microscopy** (cell → train; immunohistochemistry → val): one channel, the 8-bit
  intensity divided by 255 (immunohistochemistry's RGB first reduced to luminance with
  ``skimage.color.rgb2gray``).
* **astronomy** (hubble_deep_field → train; moon → val): one channel, likewise (the Hubble
  RGB reduced to luminance).

Tiles are non-overlapping ``tile x tile`` windows in row-major order, named
``<source>_<row>_<col>.pt``; each file is ``{"clean_norm": float32 [C, tile, tile],
"metadata": {"source", "domain", "split", "row", "col", "normalisation"}}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from unified_prior.errors import InputError

#: (domain, split) → scikit-image sample names; every one loads offline from the wheel.
SOURCES: dict[str, dict[str, tuple[str, ...]]] = {
    "photography": {"train": ("astronaut", "coffee", "chelsea"), "val": ("rocket",)},
    "microscopy": {"train": ("cell",), "val": ("immunohistochemistry",)},
    "astronomy": {"train": ("hubble_deep_field",), "val": ("moon",)},
}

NORMALISATION = {
    "photography": "sRGB decoded to linear, RGGB mosaic packed [R,G1,G2,B] at half resolution",
    "microscopy": "8-bit intensity / 255 (RGB reduced to luminance)",
    "astronomy": "8-bit intensity / 255 (RGB reduced to luminance)",
}

MIN_TILE, MAX_TILE = 8, 128


def _srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (IEC 61966-2-1) on values in [0, 1]."""
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def pack_rggb(rgb_linear: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` linear RGB → RGGB mosaic packed to ``[4, H//2, W//2]``."""
    h, w = (rgb_linear.shape[0] // 2) * 2, (rgb_linear.shape[1] // 2) * 2
    img = rgb_linear[:h, :w]
    return np.stack(
        [
            img[0::2, 0::2, 0],  # R
            img[0::2, 1::2, 1],  # G1
            img[1::2, 0::2, 1],  # G2
            img[1::2, 1::2, 2],  # B
        ]
    )


def _photography(image: np.ndarray) -> np.ndarray:
    return pack_rggb(_srgb_to_linear(image[..., :3].astype(np.float64) / 255.0))


def _intensity(image: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray

    if image.ndim == 3:
        return rgb2gray(image[..., :3])[None]  # rgb2gray scales uint8 to [0, 1]
    return (image.astype(np.float64) / 255.0)[None]


_NORMALISE: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "photography": _photography,
    "microscopy": _intensity,
    "astronomy": _intensity,
}


@dataclass(frozen=True)
class SampleSummary:
    """What ``write_sample_dataset`` wrote: tile counts per (domain, split)."""

    root: Path
    tile: int
    counts: dict[str, dict[str, int]]
    sources: dict[str, dict[str, tuple[str, ...]]]

    def describe(self) -> str:
        """What was written, a line per domain, as ``uprior data sample`` prints it."""
        lines = [f"wrote {self.tile}x{self.tile} tiles to {self.root}"]
        for domain, splits in self.counts.items():
            parts = ", ".join(
                f"{split} {n} ({' '.join(self.sources[domain][split])})"
                for split, n in splits.items()
            )
            lines.append(f"  {domain:<12} {parts}")
        total = sum(n for splits in self.counts.values() for n in splits.values())
        lines.append(f"  total        {total} tiles")
        return "\n".join(lines)


def _load_source(name: str) -> np.ndarray:
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


def write_sample_dataset(out: Path | str, tile: int = 64) -> SampleSummary:
    """Write ``out/<domain>/<split>/*.pt`` from the bundled images; return the counts.

    Existing ``*.pt`` files in those six folders are replaced, so a rerun with another
    ``tile`` never leaves tiles of two sizes side by side.
    """
    if not MIN_TILE <= tile <= MAX_TILE:
        raise InputError(f"--tile {tile}: must be in [{MIN_TILE}, {MAX_TILE}] pixels")
    out = Path(out)
    planned: dict[tuple[str, str], list[tuple[str, int, int, np.ndarray]]] = {}
    for domain, splits in SOURCES.items():
        for split, names in splits.items():
            tiles = planned.setdefault((domain, split), [])
            for name in names:
                image = _NORMALISE[domain](_load_source(name)).astype(np.float32)
                rows, cols = image.shape[1] // tile, image.shape[2] // tile
                for r in range(rows):
                    for c in range(cols):
                        window = image[:, r * tile : (r + 1) * tile, c * tile : (c + 1) * tile]
                        tiles.append((name, r, c, window))
            if not tiles:
                raise InputError(f"--tile {tile}: too large for the {domain} {split} images")
    counts: dict[str, dict[str, int]] = {}
    for (domain, split), tiles in planned.items():
        folder = out / domain / split
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"--out {out}: cannot create {folder} ({err})") from None
        for stale in folder.glob("*.pt"):
            stale.unlink()
        for name, r, c, window in tiles:
            payload = {
                "clean_norm": torch.from_numpy(np.ascontiguousarray(window)),
                "metadata": {
                    "source": f"skimage.data.{name}",
                    "domain": domain,
                    "split": split,
                    "row": r,
                    "col": c,
                    "normalisation": NORMALISATION[domain],
                },
            }
            torch.save(payload, folder / f"{name}_{r:02d}_{c:02d}.pt")
        counts.setdefault(domain, {})[split] = len(tiles)
    return SampleSummary(root=out, tile=tile, counts=counts, sources=SOURCES)
