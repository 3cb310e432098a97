"""The EDM noise-level discretisation (Karras et al. 2022, eq. 5), in float64.

``sigma_i = (sigma_max^(1/rho) + i/(N-1) * (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho`` for
``i < N``, and ``sigma_N = 0``. It is computed in float64 because the sampler's step sizes are
differences of neighbouring levels: in float32 the last steps near ``sigma_min = 0.002`` lose
about three digits.
"""

from __future__ import annotations

import torch

#: EDM's defaults for images in [-1, 1]; our tiles live in [0, 1] with sigma_data 0.5, and the
#: same range covers them (sigma_max ≫ the data's spread, sigma_min below one 8-bit level).
SIGMA_MIN, SIGMA_MAX, RHO = 0.002, 80.0, 7.0


def karras_sigmas(
    steps: int, sigma_min: float = SIGMA_MIN, sigma_max: float = SIGMA_MAX, rho: float = RHO
) -> torch.Tensor:
    """``steps + 1`` noise levels, from ``sigma_max`` down to ``sigma_min``, then 0 (float64)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if rho <= 0:
        raise ValueError(f"rho must be > 0, got {rho}")
    i = torch.arange(steps, dtype=torch.float64)
    # One step has no interior point: EDM's formula divides by N-1; take sigma_max alone.
    frac = i / (steps - 1) if steps > 1 else i
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + frac * (lo - hi)) ** rho
    return torch.cat([sigmas, torch.zeros(1, dtype=torch.float64)])
