"""The Poisson–Gaussian observation model of low-light sensors, in normalised units.

``y = Poisson(A x) / A + N(0, R²)``: ``A`` photons at white (x = 1), read noise ``R`` in the
tile's normalised units (black level subtracted). Observations are drawn from a generator the
caller seeds, so a test set is reproducible from ``(seed, file)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from unified_prior.errors import InputError


@dataclass(frozen=True)
class NoiseModel:
    """``photons_at_white`` A > 0 and ``read_noise`` R ≥ 0 (normalised units)."""

    photons_at_white: float
    read_noise: float

    def __post_init__(self) -> None:
        a, r = self.photons_at_white, self.read_noise
        if not (math.isfinite(a) and a > 0):
            raise InputError(
                f"--photons-at-white {a}: must be a positive number of photons (e.g. 10)"
            )
        if not (math.isfinite(r) and r >= 0):
            raise InputError(f"--read-noise {r}: must be ≥ 0 in normalised units (e.g. 0.01)")

    def observe(self, clean: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One noisy observation of ``clean`` (float32, values may leave [0, 1])."""
        rate = clean.double().clamp(min=0.0) * self.photons_at_white
        counts = torch.poisson(rate, generator=generator)
        read = torch.randn(clean.shape, generator=generator, dtype=torch.float64)
        return (counts / self.photons_at_white + self.read_noise * read).float()

    def variance(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel variance of ``y`` given ``x``: ``x / A + R²`` (x clamped at 0)."""
        return x.clamp(min=0.0) / self.photons_at_white + self.read_noise**2

    def to_dict(self) -> dict[str, float]:
        return {"photons_at_white": self.photons_at_white, "read_noise": self.read_noise}
