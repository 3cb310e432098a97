"""``constant``: linear warmup from ``warmup_start_factor``, then the peak for good."""

import math

import pytest
from pydantic import ValidationError

from unified_prior.schedules import ConstantSpec, spec_from_dict


def test_warmup_ramp_then_flat() -> None:
    spec = ConstantSpec(warmup_steps=10, warmup_start_factor=0.1)
    expected = {0: 0.1, 1: 0.19, 5: 0.55, 9: 0.91, 10: 1.0, 11: 1.0, 99: 1.0, 100: 1.0, 10**6: 1.0}
    for step, factor in expected.items():
        assert math.isclose(spec.factor(step, 100), factor, rel_tol=1e-12), step


def test_without_warmup_the_peak_applies_from_the_first_update() -> None:
    spec = ConstantSpec()
    assert [spec.factor(s, 50) for s in (0, 1, 49, 50)] == [1.0, 1.0, 1.0, 1.0]


def test_warmup_from_zero_starts_at_exactly_zero() -> None:
    assert ConstantSpec(warmup_steps=4).factor(0, 10) == 0.0


@pytest.mark.parametrize("warmup", [100, 101])
def test_warmup_that_fills_the_run_is_rejected(warmup: int) -> None:
    # warmup == max_steps: the peak would never be applied to an update.
    with pytest.raises(ValueError, match="warmup_steps"):
        ConstantSpec(warmup_steps=warmup).check_length(100)


def test_constant_has_no_floor_key() -> None:
    with pytest.raises(ValidationError, match="min_lr_ratio"):
        spec_from_dict({"kind": "constant", "min_lr_ratio": 0.1})


@pytest.mark.parametrize(
    ("key", "value"),
    [("warmup_steps", -1), ("warmup_start_factor", 1.5), ("warmup_start_factor", -0.1)],
)
def test_invalid_values_name_the_key(key: str, value: float) -> None:
    with pytest.raises(ValidationError, match=key):
        ConstantSpec.model_validate({key: value})


def test_negative_step_is_an_error() -> None:
    with pytest.raises(ValueError, match="step"):
        ConstantSpec().factor(-1, 10)
