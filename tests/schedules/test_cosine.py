"""``cosine``: the original run's schedule, against DESIGN §3 and HF's formula."""

import math

import pytest
from pydantic import ValidationError

from unified_prior.schedules import CosineSpec, Plan


def design_formula(step: int, *, w: int, t: int, f0: float, r: float) -> float:
    """DESIGN §3, written out independently of the package."""
    if step < w:
        return f0 + (1 - f0) * step / w
    if step <= t:
        return r + (1 - r) * 0.5 * (1 + math.cos(math.pi * (step - w) / (t - w)))
    return r


def hf_cosine_with_min_lr(step: int, *, w: int, t: int, min_lr_rate: float) -> float:
    """HF ``get_cosine_with_min_lr_schedule_with_warmup`` (num_cycles=0.5), warmup from 0."""
    if step < w:
        return step / max(1, w)
    progress = (step - w) / max(1, t - w)
    factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
    return factor * (1 - min_lr_rate) + min_lr_rate


ORIGINAL = CosineSpec(warmup_steps=20_000, warmup_start_factor=0.01, min_lr_ratio=0.01)


@pytest.mark.parametrize(
    ("step", "printed"),
    [
        (0, 1.000000e-06),
        (10_000, 5.050000e-05),
        (20_000, 1.000000e-04),
        (25_000, 9.996698e-05),
        (90_000, 9.366645e-05),
        (225_000, 5.411327e-05),
        (450_000, 1.000000e-06),
    ],
)
def test_the_original_runs_numbers(step: int, printed: float) -> None:
    plan = Plan.single(ORIGINAL, peak_lr=1e-4, max_steps=450_000)
    exact = 1e-4 * design_formula(step, w=20_000, t=450_000, f0=0.01, r=0.01)
    assert math.isclose(plan.lr_at(step), exact, rel_tol=1e-12)
    assert math.isclose(plan.lr_at(step), printed, rel_tol=5e-7)  # the 7 digits


def test_matches_hf_cosine_with_min_lr() -> None:
    spec = CosineSpec(warmup_steps=100, warmup_start_factor=0.0, min_lr_ratio=0.1)
    for step in range(0, 1001, 7):
        hf = hf_cosine_with_min_lr(step, w=100, t=1000, min_lr_rate=0.1)
        assert math.isclose(spec.factor(step, 1000), hf, rel_tol=1e-12, abs_tol=1e-15), step


def test_holds_the_floor_after_max_steps() -> None:
    spec = CosineSpec(warmup_steps=10, min_lr_ratio=0.05)
    assert [spec.factor(s, 100) for s in (100, 101, 10_000)] == [0.05, 0.05, 0.05]


def test_midpoint_of_decay_is_halfway_to_the_floor() -> None:
    spec = CosineSpec(warmup_steps=100, min_lr_ratio=0.2)
    assert math.isclose(spec.factor(550, 1000), 0.6, rel_tol=1e-12)


def test_without_warmup_starts_at_peak() -> None:
    assert CosineSpec(min_lr_ratio=0.1).factor(0, 10) == 1.0


@pytest.mark.parametrize(("warmup", "total"), [(100, 100), (200, 100)])
def test_warmup_not_shorter_than_the_run_is_rejected(warmup: int, total: int) -> None:
    with pytest.raises(ValueError, match=f"warmup_steps={warmup} must be < max_steps={total}"):
        CosineSpec(warmup_steps=warmup).check_length(total)


@pytest.mark.parametrize("ratio", [-0.01, 1.01])
def test_floor_outside_unit_interval_is_rejected(ratio: float) -> None:
    with pytest.raises(ValidationError, match="min_lr_ratio"):
        CosineSpec(min_lr_ratio=ratio)
