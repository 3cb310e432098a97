"""``inverse_sqrt``: EDM2's ``learning_rate_schedule`` on our step clock."""

import math

import pytest
from pydantic import ValidationError

from unified_prior.schedules import InverseSqrtSpec


def edm2(step: int, *, ref: int) -> float:
    """NVlabs/edm2 ``learning_rate_schedule`` without rampup, counting updates."""
    return 1.0 / math.sqrt(max(step / ref, 1))


def test_flat_until_ref_then_inverse_sqrt() -> None:
    spec = InverseSqrtSpec(ref_steps=1000)
    for step in (0, 1, 999, 1000, 1001, 4000, 9000, 10**6):
        assert math.isclose(spec.factor(step, 10**7), edm2(step, ref=1000), rel_tol=1e-12)
    assert math.isclose(spec.factor(4000, 10**7), 0.5, rel_tol=1e-12)


def test_warmup_then_flat_then_decay() -> None:
    spec = InverseSqrtSpec(warmup_steps=100, warmup_start_factor=0.2, ref_steps=400)
    assert spec.factor(0, 10_000) == 0.2
    assert math.isclose(spec.factor(50, 10_000), 0.6, rel_tol=1e-12)
    assert spec.factor(100, 10_000) == 1.0
    assert spec.factor(400, 10_000) == 1.0
    assert math.isclose(spec.factor(1600, 10_000), 0.5, rel_tol=1e-12)


def test_floor_is_respected() -> None:
    spec = InverseSqrtSpec(ref_steps=100, min_lr_ratio=0.25)
    assert math.isclose(spec.factor(400, 10**6), 0.5, rel_tol=1e-12)
    assert spec.factor(1600, 10**6) == 0.25
    assert spec.factor(10**6, 10**6) == 0.25


def test_decay_inside_warmup_is_rejected() -> None:
    with pytest.raises(ValidationError, match="ref_steps"):
        InverseSqrtSpec(warmup_steps=500, ref_steps=100)


def test_ref_steps_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="ref_steps"):
        InverseSqrtSpec(ref_steps=0)
