"""Variance stabilisation for Poisson–Gaussian noise: the generalized Anscombe transform and
its closed-form exact unbiased inverse (Mäkitalo & Foi, IEEE TIP 2013).

Observation model, in the tile's normalised units: ``y = Poisson(A x) / A + N(0, R²)``, i.e.
``z = A y`` is Poisson(A x) plus Gaussian read noise of ``s = A R`` (counts). The GAT
``f(z) = 2 sqrt(max(z + 3/8 + s², 0))`` makes the noise approximately N(0, 1). A denoiser in
that domain estimates ``E[f(z)]``, which is not ``f(E[z])``: the algebraic inverse is biased
at low counts, and the exact unbiased inverse maps ``E[f(z) | x]`` back to ``A x``. Its
closed-form approximation (Mäkitalo & Foi 2013, eq. 12) is implemented here; a test checks
its unbiasedness by Monte Carlo.
"""

from __future__ import annotations

import math

import torch

_SQRT_3_2 = math.sqrt(1.5)
#: Below this the closed form turns up again (spurious); it is ≤ 0 on [0.8, 2 sqrt(3/8)],
#: so clamping D here and the result at 0 gives the inverse's value 0 for every smaller D.
_D_FLOOR = 1.0


def gat(y: torch.Tensor, photons_at_white: float, read_noise: float) -> torch.Tensor:
    """Generalized Anscombe transform of ``y`` (normalised units) → unit-variance domain."""
    a, s = photons_at_white, photons_at_white * read_noise
    return 2.0 * torch.sqrt(torch.clamp(a * y + 0.375 + s * s, min=0.0))


def gat_range(photons_at_white: float, read_noise: float) -> tuple[float, float]:
    """``f`` at the expected counts of black (x = 0) and white (x = 1)."""
    a, s = photons_at_white, photons_at_white * read_noise
    return 2.0 * math.sqrt(0.375 + s * s), 2.0 * math.sqrt(a + 0.375 + s * s)


def exact_unbiased_inverse(
    d: torch.Tensor, photons_at_white: float, read_noise: float
) -> torch.Tensor:
    """Closed-form exact unbiased inverse of the GAT, back to normalised units (≥ 0)."""
    a, s = photons_at_white, photons_at_white * read_noise
    d = torch.clamp(d, min=_D_FLOOR)
    counts = (
        0.25 * d**2 + 0.25 * _SQRT_3_2 / d - 1.375 / d**2 + 0.625 * _SQRT_3_2 / d**3 - 0.125 - s * s
    )
    return torch.clamp(counts, min=0.0) / a
