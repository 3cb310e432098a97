"""The GAT stabilises Poisson–Gaussian noise and its closed-form inverse is unbiased."""

from __future__ import annotations

import pytest
import torch

from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.vst import exact_unbiased_inverse, gat, gat_range


def observations(x: float, a: float, r: float, n: int = 200_000) -> torch.Tensor:
    noise = NoiseModel(a, r)
    return noise.observe(torch.full((n,), x), torch.Generator().manual_seed(0)).double()


@pytest.mark.parametrize(("a", "r"), [(1.0, 0.01), (10.0, 0.01), (100.0, 0.01), (10.0, 0.1)])
@pytest.mark.parametrize("x", [0.05, 0.3, 1.0])
def test_exact_unbiased_inverse_of_the_mean_recovers_x(x: float, a: float, r: float) -> None:
    """E[f(y)] by Monte Carlo, mapped back: within 3% (the algebraic inverse is far off at
    low counts, which this test also checks where the bias is large)."""
    mean_f = gat(observations(x, a, r), a, r).mean()
    back = exact_unbiased_inverse(mean_f[None], a, r).item()
    # The closed form is an approximation: ~6% off at 0.5 expected counts with 1 count of
    # read noise (Mäkitalo & Foi 2013, fig. 2), within 1% from a few counts on.
    assert back == pytest.approx(x, rel=0.03, abs=0.004)
    algebraic = ((mean_f / 2) ** 2 - 0.375 - (a * r) ** 2).item() / a
    if a * x <= 1.0:
        assert abs(algebraic - x) > 3 * abs(back - x)


@pytest.mark.parametrize("x", [0.3, 1.0])
def test_gat_makes_the_noise_unit_variance(x: float) -> None:
    a, r = 100.0, 0.01
    assert gat(observations(x, a, r), a, r).std().item() == pytest.approx(1.0, abs=0.03)


def test_range_is_the_transform_of_black_and_white_expectations() -> None:
    lo, hi = gat_range(10.0, 0.01)
    assert lo == pytest.approx(gat(torch.tensor([0.0]), 10.0, 0.01).item())
    assert hi == pytest.approx(gat(torch.tensor([1.0]), 10.0, 0.01).item())


def test_observation_statistics_match_the_model() -> None:
    y = observations(0.4, 10.0, 0.05)
    assert y.mean().item() == pytest.approx(0.4, abs=0.005)
    assert y.var().item() == pytest.approx(0.4 / 10 + 0.05**2, rel=0.03)
