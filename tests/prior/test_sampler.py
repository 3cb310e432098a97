"""The EDM sampler: seeded determinism, independence of N, churn, convergence in steps."""

from __future__ import annotations

import torch

from unified_prior.prior import Churn, Prior, karras_sigmas
from unified_prior.prior.loaded import sample_generators
from unified_prior.prior.sampler import edm_sample, per_sample_normal


def test_same_seed_same_samples_bit_for_bit(tiny_prior: Prior) -> None:
    a = tiny_prior.sample("photography", 3, steps=4, seed=7)
    b = tiny_prior.sample("photography", 3, steps=4, seed=7)
    c = tiny_prior.sample("photography", 3, steps=4, seed=8)
    assert a.shape == (3, 4, 16, 16) and a.dtype == torch.float64
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)


def test_sample_i_does_not_depend_on_how_many_are_drawn(tiny_prior: Prior) -> None:
    three = tiny_prior.sample("microscopy", 3, steps=3, seed=1)
    alone = tiny_prior.sample("microscopy", 1, steps=3, seed=1, start=2)
    # Same noise; conv kernels differ in the last bits between batch sizes.
    torch.testing.assert_close(three[2:], alone, rtol=0, atol=1e-5)
    assert not torch.allclose(three[0], three[1])  # and samples are not all alike


def test_churn_is_seeded_and_changes_the_path(tiny_prior: Prior) -> None:
    ode = tiny_prior.sample("astronomy", 2, steps=4, seed=3)
    sde = tiny_prior.sample("astronomy", 2, steps=4, seed=3, churn=Churn(s_churn=4.0))
    again = tiny_prior.sample("astronomy", 2, steps=4, seed=3, churn=Churn(s_churn=4.0))
    assert torch.equal(sde, again)
    assert not torch.allclose(ode, sde)


def test_more_steps_converge(tiny_prior: Prior) -> None:
    """From the same noise, 32 vs 64 steps differ less than 8 vs 16 steps."""
    latents = per_sample_normal(sample_generators(0, "photography", range(2)), (4, 16, 16))
    runs = {
        n: tiny_prior.sample("photography", 2, steps=n, latents=latents) for n in (8, 16, 32, 64)
    }
    coarse = (runs[8] - runs[16]).abs().max().item()
    fine = (runs[32] - runs[64]).abs().max().item()
    assert fine < coarse
    assert fine < 0.5 * coarse  # 2nd order: the gap shrinks by about 16x, not barely


def test_heun_is_second_order_on_the_exact_ode_of_a_gaussian_prior() -> None:
    """For data N(0, s²) the ideal denoiser is D = s²/(s²+σ²)·x, and the probability-flow
    ODE has the closed form x(σ) = x(σ_max)·sqrt(s²+σ²)/sqrt(s²+σ_max²); the last step
    returns D(x(σ_min), σ_min). Heun's error falls ~4x per doubling of steps."""
    s, smin, smax = 0.5, 0.002, 80.0

    def ideal(x: torch.Tensor, sigma: float) -> torch.Tensor:
        return x * s * s / (s * s + sigma * sigma)

    z = torch.randn((1, 8, 8), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    at_min = z * smax * (s * s + smin * smin) ** 0.5 / (s * s + smax * smax) ** 0.5
    want = at_min * s * s / (s * s + smin * smin)
    errors = []
    for steps in (32, 64):
        sigmas = karras_sigmas(steps, sigma_min=smin, sigma_max=smax)
        out = edm_sample(ideal, sigmas, [torch.Generator().manual_seed(0)], (1, 8, 8))
        errors.append(((out[0] - want).abs().max() / want.abs().max()).item())
    assert errors[1] < 5e-3
    assert errors[0] / errors[1] > 3.5
