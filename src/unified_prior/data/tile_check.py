"""What makes a tile file usable, judged from a few facts about it.

A tile is read once (``read_facts``: ``torch.load(weights_only=True)``, never an unpickle of
anything else) and reduced to its facts: the ``clean_norm`` tensor's shape, dtype and value
range. ``judge`` decides from those facts alone, so the dataset scan can keep them in a cache
and re-judge them when the config changes (another resolution, another channel count)
without reading the file again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unified_prior.data.domains import Domain
from unified_prior.errors import load_error_reason

#: How far outside [0, 1] a value may lie: float rounding and the noise of a black-level
#: subtraction give values just past the ends; a tile at 1000 was never normalised (the
#: README: 1 = the sensor's full scale).
RANGE_TOLERANCE = 0.05
SAVE_HINT = "write tiles with torch.save({'clean_norm': tensor, 'metadata': {...}}, path)"


@dataclass(frozen=True)
class TileFacts:
    """What the checks need to know about a tile file that loads."""

    shape: tuple[int, ...]
    dtype: str
    floating: bool
    low: float  # NaN when the tensor holds a NaN; +-inf when it holds an infinity
    high: float

    @classmethod
    def of(cls, tile: torch.Tensor) -> TileFacts:
        low = high = 0.0
        if tile.is_floating_point() and tile.numel():
            # aminmax propagates NaN and keeps infinities: one pass gives range and finiteness.
            lo, hi = torch.aminmax(tile.detach().float())
            low, high = float(lo), float(hi)
        return cls(tuple(tile.shape), str(tile.dtype), tile.is_floating_point(), low, high)

    def to_json(self) -> list[Any]:
        # JSON has no NaN or infinity: keep them as strings.
        return [list(self.shape), self.dtype, self.floating, repr(self.low), repr(self.high)]

    @classmethod
    def from_json(cls, item: list[Any]) -> TileFacts:
        shape, dtype, floating, low, high = item
        return cls(
            tuple(int(s) for s in shape), str(dtype), bool(floating), float(low), float(high)
        )


def read_tile(path: Path) -> torch.Tensor | str:
    """The ``clean_norm`` tensor of a tile file, or why it has none (one line, no path)."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unreadable or non-weights-only file
        return (
            f"cannot load it with weights_only=True ({load_error_reason(err, path)}); {SAVE_HINT}"
        )
    tile = payload.get("clean_norm") if isinstance(payload, dict) else None
    if not isinstance(tile, torch.Tensor):
        found = (
            f"a dict with keys {sorted(map(str, payload))[:5]}"
            if isinstance(payload, dict)
            else type(payload).__name__
        )
        return f"expected a dict with a 'clean_norm' tensor, found {found}; {SAVE_HINT}"
    return tile


def read_facts(path: Path) -> TileFacts | str:
    """The facts of one tile file, or why it is not a tile."""
    tile = read_tile(path)
    return tile if isinstance(tile, str) else TileFacts.of(tile)


def judge(path: Path, facts: TileFacts | str, domain: Domain, resolution: int) -> str | None:
    """The one-line error for a tile of ``domain`` at ``resolution``, or None when usable."""
    if isinstance(facts, str):
        return f"tile {path}: {facts}"
    shape = facts.shape
    if len(shape) != 3 or shape[0] != domain.channels:
        return (
            f"tile {path}: clean_norm has shape {shape}; domain {domain.name!r} expects "
            f"[{domain.channels}, H, W] (data.domains.{domain.name}.channels)"
        )
    if shape[1] < resolution or shape[2] < resolution:
        return (
            f"tile {path}: {shape[1]}x{shape[2]} is smaller than data.resolution={resolution}; "
            "lower data.resolution or use larger tiles"
        )
    if not facts.floating:
        return (
            f"tile {path}: clean_norm is {facts.dtype}; expected a float tensor with values in "
            "[0, 1] (divide integer data by the sensor's full scale)"
        )
    if not (math.isfinite(facts.low) and math.isfinite(facts.high)):
        return f"tile {path}: clean_norm contains NaN or infinite values"
    if facts.low < -RANGE_TOLERANCE or facts.high > 1 + RANGE_TOLERANCE:
        return (
            f"tile {path}: clean_norm values span [{facts.low:.4g}, {facts.high:.4g}]; tiles "
            "hold values in [0, 1] (1 = the sensor's full scale): divide by the full scale"
        )
    return None
