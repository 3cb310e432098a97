"""unified-prior: a unified EDM diffusion prior trainer whose configuration is the truth,
and a doctor that reads any run and says whether it did what its configuration claimed."""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from unified_prior.prior import Prior


def load_prior(checkpoint: Any, ema: bool = True) -> Prior:
    """The trained prior of a checkpoint (lazy: importing the package does not load torch)."""
    from unified_prior.prior import load_prior as _load

    return _load(checkpoint, ema=ema)
