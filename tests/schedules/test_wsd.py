"""``wsd``: warmup, stable at the peak, then decay in one of three shapes to the floor."""

import math

import pytest
from pydantic import ValidationError

from unified_prior.schedules import WSDSpec

SHAPES = {
    "cosine": lambda p: 0.5 * (1 + math.cos(math.pi * p)),
    "linear": lambda p: 1 - p,
    "1-sqrt": lambda p: 1 - math.sqrt(p),
}


def reference(step: int, *, w: int, t: int, f0: float, r: float, frac: float, shape: str) -> float:
    """HF ``get_wsd_schedule`` / torchtitan WSD on our step clock, written out."""
    if step < w:
        return f0 + (1 - f0) * step / w
    decay_start = max(w, t - round(frac * t))
    if step < decay_start:
        return 1.0
    p = min((step - decay_start) / (t - decay_start), 1.0)
    return r + (1 - r) * SHAPES[shape](p)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_decay_shape_matches_reference(shape: str) -> None:
    spec = WSDSpec(
        warmup_steps=50,
        warmup_start_factor=0.1,
        min_lr_ratio=0.05,
        decay_fraction=0.2,
        decay_shape=shape,  # type: ignore[arg-type]
    )
    for step in [*range(0, 1001, 9), 799, 800, 801, 1000, 1200]:
        ref = reference(step, w=50, t=1000, f0=0.1, r=0.05, frac=0.2, shape=shape)
        assert math.isclose(spec.factor(step, 1000), ref, rel_tol=1e-12, abs_tol=1e-15), step


@pytest.mark.parametrize(
    ("shape", "midpoint"), [("cosine", 0.5), ("linear", 0.5), ("1-sqrt", 1 - math.sqrt(0.5))]
)
def test_shapes_differ_where_they_should(shape: str, midpoint: float) -> None:
    spec = WSDSpec(decay_fraction=0.2, decay_shape=shape)  # type: ignore[arg-type]
    assert spec.factor(799, 1000) == 1.0  # still stable
    assert spec.decay_start(1000) == 800
    assert math.isclose(spec.factor(900, 1000), midpoint, rel_tol=1e-12)
    assert spec.factor(1000, 1000) == 0.0


def test_decay_never_starts_inside_warmup() -> None:
    spec = WSDSpec(warmup_steps=300, decay_fraction=1.0, min_lr_ratio=0.1)
    assert spec.decay_start(1000) == 300
    assert spec.factor(300, 1000) == 1.0
    assert spec.factor(299, 1000) < 1.0
    assert math.isclose(spec.factor(650, 1000), 0.55, rel_tol=1e-12)


@pytest.mark.parametrize(
    ("key", "value"), [("decay_fraction", 0.0), ("decay_fraction", 1.2), ("decay_shape", "exp")]
)
def test_invalid_values_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValidationError, match=key):
        WSDSpec.model_validate({key: value})


def test_decay_that_rounds_to_zero_steps_keeps_the_peak() -> None:
    # Regression: round(0.001 * 400) == 0 made the decay phase empty, and the empty phase
    # counted as finished from step 0, so the whole run sat at the floor.
    spec = WSDSpec(decay_fraction=0.001, min_lr_ratio=0.1)
    assert spec.factor(0, 400) == 1.0
    assert spec.factor(399, 400) == 1.0
    assert spec.factor(400, 400) == 0.1
