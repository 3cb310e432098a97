"""The EDM sampler (Karras et al. 2022, Algorithm 2): Heun's 2nd-order method with churn.

The ODE state is float64 (as NVlabs/edm's ``edm_sampler``); the denoiser runs in its own
precision. Every sample draws its noise (initial and churn) from its own ``torch.Generator``
seeded by the caller from ``(seed, sample index)``, so a sample does not depend on how many
others are drawn with it, and the same seed gives the same samples bit for bit on CPU (at
the same batch composition; conv kernels are not batch-invariant in the last bits).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

#: ``denoise(x, sigma) -> D(x; sigma)``: x float64 ``[B, ...]``, sigma a float.
Denoiser = Callable[[torch.Tensor, float], torch.Tensor]


@dataclass(frozen=True)
class Churn:
    """Stochastic churn of EDM (S_churn, S_tmin, S_tmax, S_noise); ``S_churn=0`` is the ODE."""

    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = math.inf
    s_noise: float = 1.0

    def gamma(self, sigma: float, steps: int) -> float:
        """How much noise to add at level ``sigma`` (EDM: at most sqrt(2) - 1 per step)."""
        if self.s_churn <= 0 or not self.s_tmin <= sigma <= self.s_tmax:
            return 0.0
        return min(self.s_churn / steps, math.sqrt(2) - 1)


def per_sample_normal(
    generators: Sequence[torch.Generator], shape: tuple[int, ...]
) -> torch.Tensor:
    """One float64 standard-normal tensor of ``shape`` per generator, stacked."""
    return torch.stack([torch.randn(shape, generator=g, dtype=torch.float64) for g in generators])


def edm_sample(
    denoise: Denoiser,
    sigmas: torch.Tensor,
    generators: Sequence[torch.Generator],
    shape: tuple[int, ...],
    churn: Churn | None = None,
    latents: torch.Tensor | None = None,
) -> torch.Tensor:
    """Integrate from ``sigmas[0]`` to 0 with Heun steps; return float64 ``[B, *shape]``.

    ``sigmas`` is a decreasing float64 schedule ending in 0 (``karras_sigmas``). ``latents``
    (unit normal) replaces the first draw of each generator, to run several step counts from
    the same noise.
    """
    churn = churn or Churn()
    steps = len(sigmas) - 1
    levels = [float(s) for s in sigmas]
    if latents is None:
        latents = per_sample_normal(generators, shape)
    x = latents.to(torch.float64) * levels[0]
    for i in range(steps):
        t_cur, t_next = levels[i], levels[i + 1]
        # Increase noise temporarily (churn); gamma is 0 on the deterministic path.
        gamma = churn.gamma(t_cur, steps)
        t_hat = t_cur + gamma * t_cur
        if gamma > 0:
            eps = per_sample_normal(generators, shape)
            x = x + math.sqrt(t_hat**2 - t_cur**2) * churn.s_noise * eps
        # Euler step.
        d_cur = (x - denoise(x, t_hat).to(torch.float64)) / t_hat
        x_next = x + (t_next - t_hat) * d_cur
        # Heun correction, except on the last step to sigma = 0.
        if t_next > 0:
            d_prime = (x_next - denoise(x_next, t_next).to(torch.float64)) / t_next
            x_next = x + (t_next - t_hat) * (0.5 * d_cur + 0.5 * d_prime)
        x = x_next
    return x
