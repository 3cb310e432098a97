"""SWD on Laplacian-pyramid patches: zero-ish for one distribution, large for another."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from unified_prior.prior.swd import laplacian_pyramid, matched_gaussian, swd


def smooth_images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.avg_pool2d(torch.rand(n, 1, 36, 36, generator=g, dtype=torch.float64), 5, 1)


def test_pyramid_levels_sum_back_to_the_image_structure() -> None:
    x = smooth_images(2, 0)
    levels = laplacian_pyramid(x)
    assert [lv.shape[-1] for lv in levels] == [32, 16]
    assert levels[0].abs().mean() < x.abs().mean()  # band-pass removes the mean


def test_same_distribution_is_closer_than_a_different_one() -> None:
    a, b = smooth_images(64, 1), smooth_images(64, 2)
    white = torch.rand(64, 1, 32, 32, generator=torch.Generator().manual_seed(3))
    same, other = swd(a, b, seed=0), swd(a, white, seed=0)
    assert all(s < o for s, o in zip(same, other, strict=True))
    assert same[0] < 0.5 * other[0]  # the finest band separates them most
    assert swd(a, b, seed=0) == same  # seeded


def test_matched_gaussian_has_the_sample_mean_and_covariance() -> None:
    x = smooth_images(40, 4).reshape(40, -1)[:, :6]
    draws = matched_gaussian(x.reshape(40, 6, 1, 1), 40_000, torch.Generator().manual_seed(0))
    flat = draws.reshape(len(draws), -1)
    torch.testing.assert_close(flat.mean(0), x.mean(0), atol=4e-3, rtol=0)
    torch.testing.assert_close(torch.cov(flat.T), torch.cov(x.T), atol=1e-3, rtol=0.05)
