"""Restoration of Poisson–Gaussian observations with the prior: two methods.

**Posterior sampling** (``posterior_sample``) runs the EDM sampler with a denoiser that is
pulled toward the observation. The likelihood ``p(y | x)`` of ``y = Poisson(A x)/A + N(0, R²)``
is approximated per pixel by the heteroscedastic Gaussian ``N(y; x, v(x))``,
``v(x) = max(x, 0)/A + R²``, whose log-gradient ``(y − x)/v(x)`` is the exact Poisson
log-gradient when R = 0 (the dependence of ``v`` on ``x`` is neglected). The prior at noise
level ``sigma`` is approximated by ``N(x; D(x_sigma), sigma²/lam)`` around its Tweedie
estimate ``D`` (as DiffPIR, Zhu et al. 2023, does with ``rho = lam · v / sigma²``); the
product of the two Gaussians is closed-form per pixel:
``x0 = (v · D + (sigma²/lam) · y) / (v + sigma²/lam)``, with ``v`` re-evaluated at ``x0`` for a
few fixed-point iterations (starting from ``v(D)`` alone trusts ``y`` fully wherever ``D`` is
near 0). The guided ``x0`` replaces ``D`` in the Heun steps. Early (large sigma) the
observation dominates; late, the prior does.

**Variance stabilisation** (``vst_denoise``): the generalized Anscombe transform makes the
noise ≈ N(0, 1); the transformed image is rescaled to [0, 1] between the GAT values of black
and white, denoised by any Gaussian denoiser at the matching noise level (the prior's
``D(·, sigma)``, or BM3D in the bench), and mapped back with the exact unbiased inverse.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.sampler import Churn, edm_sample
from unified_prior.prior.schedule import karras_sigmas
from unified_prior.prior.vst import exact_unbiased_inverse, gat, gat_range

#: ``denoise(x, sigma)`` on images in the data range; x float64 ``[B, C, H, W]``.
GaussianDenoiser = Callable[[torch.Tensor, float], torch.Tensor]

#: Restoration starts at a lower sigma_max than sampling: the observation already fixes the
#: coarse content, and σ = 80 would spend most steps far from any image.
POSTERIOR_SIGMA_MAX = 10.0
FIXED_POINT_ITERATIONS = 3


def guided_estimate(
    denoised: torch.Tensor, y: torch.Tensor, sigma: float, noise: NoiseModel, lam: float = 1.0
) -> torch.Tensor:
    """Per-pixel product of N(D, sigma²/lam) and the heteroscedastic likelihood N(y; x, v(x))."""
    prior_var = sigma * sigma / lam
    x0 = denoised
    for _ in range(FIXED_POINT_ITERATIONS):
        v = noise.variance(x0)
        x0 = (v * denoised + prior_var * y) / (v + prior_var)
    return x0


def posterior_sample(
    denoise: GaussianDenoiser,
    y: torch.Tensor,
    noise: NoiseModel,
    generators: Sequence[torch.Generator],
    steps: int = 32,
    lam: float = 1.0,
    sigma_max: float = POSTERIOR_SIGMA_MAX,
) -> torch.Tensor:
    """One posterior sample per observation in ``y`` (``[B, C, H, W]``), clipped to [0, 1]."""
    y64 = y.to(torch.float64)

    def guided(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return guided_estimate(denoise(x, sigma).to(torch.float64), y64, sigma, noise, lam)

    sigmas = karras_sigmas(steps, sigma_max=sigma_max)
    x = edm_sample(guided, sigmas, generators, tuple(y.shape[1:]), Churn())
    return x.clamp(0.0, 1.0).float()


def vst_denoise(denoise: GaussianDenoiser, y: torch.Tensor, noise: NoiseModel) -> torch.Tensor:
    """GAT → Gaussian denoiser at the matching sigma → exact unbiased inverse; clipped to [0, 1]."""
    a, r = noise.photons_at_white, noise.read_noise
    lo, hi = gat_range(a, r)
    scale = hi - lo
    u = (gat(y.to(torch.float64), a, r) - lo) / scale
    u_hat = denoise(u, 1.0 / scale).to(torch.float64)
    x = exact_unbiased_inverse(u_hat * scale + lo, a, r)
    return x.clamp(0.0, 1.0).float()
