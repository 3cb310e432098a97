"""EMA with a half-life in optimizer steps and a ramp-up."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from unified_prior.model import EMA


def _net(value: float) -> nn.Module:
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(value)
    return net


def _gap(ema, target: float) -> float:
    return max(float((p - target).abs().max()) for p in ema.module.parameters())


@pytest.mark.parametrize("halflife", [1, 4, 10, 25])
def test_gap_to_a_constant_target_halves_every_halflife(halflife: int) -> None:
    ema = EMA(_net(0.0), halflife_steps=halflife, rampup_ratio=0.0)
    model = _net(1.0)  # the weights jump to a constant target
    gaps = [_gap(ema, 1.0)]
    for step in range(1, 3 * halflife + 1):  # step 0 would copy; start after it
        ema.update(model, step)
        gaps.append(_gap(ema, 1.0))
    assert gaps[halflife] == pytest.approx(0.5, rel=1e-5)
    assert gaps[2 * halflife] == pytest.approx(0.25, rel=1e-5)
    assert gaps[3 * halflife] == pytest.approx(0.125, rel=1e-5)


def test_rampup_limits_the_halflife_early_and_step_zero_copies() -> None:
    ema = EMA(_net(0.0), halflife_steps=100, rampup_ratio=0.5)
    assert ema.beta(0) == 0.0  # the first update copies the weights (no init bias)
    ema.update(_net(2.0), 0)
    assert _gap(ema, 2.0) == 0.0
    # halflife = min(100, 0.5 * step): 5 at step 10, the configured 100 from step 200 on.
    assert ema.beta(10) == pytest.approx(0.5 ** (1 / 5))
    assert ema.beta(200) == ema.beta(10_000) == pytest.approx(0.5 ** (1 / 100))
    no_ramp = EMA(_net(0.0), halflife_steps=100, rampup_ratio=0.0)
    assert no_ramp.beta(0) == no_ramp.beta(10) == pytest.approx(0.5 ** (1 / 100))


@settings(max_examples=50, deadline=None)
@given(
    halflife=st.integers(min_value=1, max_value=10_000),
    ratio=st.floats(min_value=0.0, max_value=1.0),
    steps=st.lists(st.integers(min_value=0, max_value=10**6), min_size=2, max_size=10),
)
def test_beta_is_in_range_and_never_decreases_with_the_step(halflife, ratio, steps) -> None:
    ema = EMA(_net(0.0), halflife_steps=halflife, rampup_ratio=ratio)
    betas = [ema.beta(s) for s in sorted(steps)]
    assert all(0.0 <= b < 1.0 for b in betas)
    assert betas == sorted(betas)


def test_buffers_follow_the_model_and_state_round_trips() -> None:
    model = _net(0.0)
    ema = EMA(model, halflife_steps=3, rampup_ratio=0.0)
    model.train()
    model(torch.randn(8, 3) + 5)  # updates BatchNorm running statistics
    ema.update(model, 5)
    assert torch.equal(ema.module[1].running_mean, model[1].running_mean)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    fresh = EMA(_net(7.0), halflife_steps=3, rampup_ratio=0.0)
    fresh.load_state_dict(ema.state_dict())
    for a, b in zip(fresh.module.state_dict().values(), ema.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="halflife_steps > 0"):
        EMA(_net(0.0), halflife_steps=0, rampup_ratio=0.0)
