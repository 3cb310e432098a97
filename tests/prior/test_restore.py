"""Restoration: the guided estimate's limits, and both methods beat the noisy input when the
denoiser is good (an oracle-like Gaussian denoiser on a smooth image)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unified_prior.prior import NoiseModel, Prior
from unified_prior.prior.restore import guided_estimate, posterior_sample, vst_denoise


def smooth_image() -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    return (0.2 + 0.6 * (0.5 + 0.5 * torch.sin(3 * xx + 2 * yy)))[None, None].double()


def blur_denoiser(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A fixed 5x5 box filter: a stand-in Gaussian denoiser that suits a smooth image."""
    k = torch.full((1, 1, 5, 5), 1 / 25, dtype=x.dtype).expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), k, groups=x.shape[1])


def test_guided_estimate_follows_the_observation_early_and_the_prior_late() -> None:
    noise = NoiseModel(10.0, 0.01)
    d, y = torch.full((4,), 0.2, dtype=torch.float64), torch.full((4,), 0.6, dtype=torch.float64)
    early = guided_estimate(d, y, 50.0, noise)
    late = guided_estimate(d, y, 1e-3, noise)
    assert early.sub(y).abs().max() < 1e-3
    assert late.sub(d).abs().max() < 1e-3
    mid = guided_estimate(d, y, 0.2, noise)
    assert bool(((mid > d) & (mid < y)).all())


@pytest.mark.parametrize("photons", [10.0, 100.0])
def test_both_methods_beat_the_noisy_input_with_a_good_denoiser(photons: float) -> None:
    clean = smooth_image()
    noise = NoiseModel(photons, 0.01)
    y = noise.observe(clean, torch.Generator().manual_seed(0)).double()

    def mse(a: torch.Tensor) -> float:
        return (a.double() - clean).pow(2).mean().item()

    vst = vst_denoise(blur_denoiser, y, noise)
    post = posterior_sample(blur_denoiser, y, noise, [torch.Generator().manual_seed(0)], steps=8)
    assert mse(vst) < 0.5 * mse(y.clamp(0, 1))
    assert mse(post) < 0.5 * mse(y.clamp(0, 1))


def test_prior_restore_is_seeded_and_keeps_the_input_shape(tiny_prior: Prior) -> None:
    clean = torch.rand(1, 1, 20, 24, generator=torch.Generator().manual_seed(0))
    y = NoiseModel(10.0, 0.01).observe(clean, torch.Generator().manual_seed(1))
    a = tiny_prior.restore(y, "microscopy", 10.0, 0.01, steps=3, seed=5)
    b = tiny_prior.restore(y, "microscopy", 10.0, 0.01, steps=3, seed=5)
    v = tiny_prior.restore(y, "microscopy", 10.0, 0.01, method="vst")
    assert a.shape == v.shape == (1, 1, 20, 24)
    assert torch.equal(a, b)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
