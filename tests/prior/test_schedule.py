"""The sampler's noise levels equal Karras et al. (2022) eq. 5, computed independently."""

from __future__ import annotations

from decimal import Decimal, getcontext

import pytest
import torch

from unified_prior.prior.schedule import karras_sigmas


def published(steps: int, sigma_min: str, sigma_max: str, rho: str) -> list[Decimal]:
    """Eq. 5 at 50 significant digits: (smax^(1/ρ) + i/(N-1) (smin^(1/ρ) - smax^(1/ρ)))^ρ."""
    getcontext().prec = 50
    smin, smax, r = Decimal(sigma_min), Decimal(sigma_max), Decimal(rho)
    lo = (smin.ln() / r).exp()
    hi = (smax.ln() / r).exp()
    levels = []
    for i in range(steps):
        base = hi + Decimal(i) / Decimal(steps - 1) * (lo - hi)
        levels.append((base.ln() * r).exp())
    return [*levels, Decimal(0)]


@pytest.mark.parametrize(
    ("steps", "sigma_min", "sigma_max", "rho"),
    [
        (32, "0.002", "80", "7"),
        (8, "0.002", "80", "7"),
        (18, "0.01", "10", "3"),
        (2, "0.5", "5", "1"),
    ],
)
def test_levels_equal_the_published_formula(
    steps: int, sigma_min: str, sigma_max: str, rho: str
) -> None:
    got = karras_sigmas(steps, float(sigma_min), float(sigma_max), float(rho))
    want = published(steps, sigma_min, sigma_max, rho)
    assert got.dtype == torch.float64 and len(got) == steps + 1
    for g, w in zip(got.tolist(), want, strict=True):
        assert g == pytest.approx(float(w), rel=1e-13, abs=0.0)


def test_levels_run_from_sigma_max_to_sigma_min_then_zero() -> None:
    s = karras_sigmas(32)
    assert s[0].item() == pytest.approx(80.0, rel=1e-15)
    assert s[-2].item() == pytest.approx(0.002, rel=1e-13)
    assert s[-1].item() == 0.0
    assert bool((s[1:] < s[:-1]).all())


@pytest.mark.parametrize(("steps", "lo", "hi"), [(0, 0.002, 80), (4, 0.0, 80), (4, 90, 80)])
def test_rejects_impossible_schedules(steps: int, lo: float, hi: float) -> None:
    with pytest.raises(ValueError):
        karras_sigmas(steps, lo, hi)
