"""``linear``: warmup, then a straight line from the peak to the floor at ``max_steps``."""

import math

import pytest
from pydantic import ValidationError

from unified_prior.schedules import LinearSpec


def reference(step: int, *, w: int, t: int, f0: float, r: float) -> float:
    if step < w:
        return f0 + (1 - f0) * step / w
    return r + (1 - r) * (1 - min(step - w, t - w) / (t - w))


@pytest.mark.parametrize(("w", "f0", "r"), [(0, 0.0, 0.0), (10, 0.0, 0.1), (250, 0.3, 0.01)])
def test_matches_reference(w: int, f0: float, r: float) -> None:
    spec = LinearSpec(warmup_steps=w, warmup_start_factor=f0, min_lr_ratio=r)
    for step in [*range(0, 1000, 13), 999, 1000, 1001, 5000]:
        ref = reference(step, w=w, t=1000, f0=f0, r=r)
        assert math.isclose(spec.factor(step, 1000), ref, rel_tol=1e-12, abs_tol=1e-15), step


def test_equal_steps_of_decay_lose_equal_amounts() -> None:
    spec = LinearSpec(warmup_steps=100, min_lr_ratio=0.1)
    drops = [spec.factor(s, 1000) - spec.factor(s + 100, 1000) for s in range(100, 1000, 100)]
    assert all(math.isclose(d, 0.1, rel_tol=1e-9) for d in drops)


def test_ends_at_the_floor_and_stays() -> None:
    spec = LinearSpec(warmup_steps=5, min_lr_ratio=0.25)
    assert [spec.factor(s, 50) for s in (50, 51, 500)] == [0.25, 0.25, 0.25]


def test_floor_above_one_is_rejected() -> None:
    with pytest.raises(ValidationError, match="min_lr_ratio"):
        LinearSpec(min_lr_ratio=1.5)
