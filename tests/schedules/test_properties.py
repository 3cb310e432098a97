"""Property tests that every schedule family must satisfy, for any valid parameters.

Each property is checked on the plan's LR (``Plan.lr_at``), the number the trainer writes
into the optimizer, on a sample of steps that always includes the boundaries.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unified_prior.schedules import (
    FAMILIES,
    ConstantSpec,
    CosineSpec,
    InverseSqrtSpec,
    LinearSpec,
    Plan,
    ScheduleSpec,
    WSDSpec,
)

PROPS = settings(max_examples=40, deadline=None)
REL = 1e-12
# Ratios of 0 exactly or >= 1e-9: products of tinier ratios with an LR leave the normal
# float range, which says nothing about the schedule.
unit = st.one_of(st.just(0.0), st.just(1.0), st.floats(1e-9, 1.0))
peak = st.floats(1e-7, 1.0, allow_nan=False)


@st.composite
def family_case(draw: st.DrawFn, kind: str) -> tuple[ScheduleSpec, int]:
    """A valid spec of ``kind`` and a run length it fits."""
    total = draw(st.integers(2, 2_000_000))
    warmup = draw(st.one_of(st.just(0), st.integers(1, total - 1)))
    f0 = draw(unit)
    if kind == "constant":
        return ConstantSpec(warmup_steps=warmup, warmup_start_factor=f0), total
    r = draw(unit)
    common = {"warmup_steps": warmup, "warmup_start_factor": f0, "min_lr_ratio": r}
    if kind == "cosine":
        return CosineSpec(**common), total
    if kind == "linear":
        return LinearSpec(**common), total
    if kind == "wsd":
        fraction = draw(st.floats(1e-6, 1.0, allow_nan=False))
        shape = draw(st.sampled_from(["cosine", "linear", "1-sqrt"]))
        return WSDSpec(**common, decay_fraction=fraction, decay_shape=shape), total
    assert kind == "inverse_sqrt"
    ref = draw(st.integers(max(warmup, 1), 2 * total))
    return InverseSqrtSpec(**common, ref_steps=ref), total


def sample_steps(draw: st.DrawFn, lo: int, hi: int) -> list[int]:
    """Sorted distinct steps in [lo, hi], always including both ends and their neighbours."""
    inner = draw(st.lists(st.integers(lo, hi), max_size=40)) if hi >= lo else []
    edges = {lo, hi, min(lo + 1, hi), max(hi - 1, lo)}
    return sorted(set(inner) | edges)


def floor_of(spec: ScheduleSpec) -> float:
    return float(getattr(spec, "min_lr_ratio", 1.0)) if spec.decays else 1.0


def end_factor(spec: ScheduleSpec, total: int) -> float:
    """The factor each family must reach at ``max_steps``, by its definition."""
    if isinstance(spec, ConstantSpec):
        return 1.0
    if isinstance(spec, InverseSqrtSpec):  # no natural end: 1/sqrt decay, floored
        return max(spec.min_lr_ratio, 1.0 / math.sqrt(max(total / spec.ref_steps, 1.0)))
    return spec.min_lr_ratio  # type: ignore[attr-defined, no-any-return]


KINDS = sorted(FAMILIES)


def test_every_family_is_covered() -> None:
    assert set(KINDS) == {"constant", "cosine", "linear", "wsd", "inverse_sqrt"}


@pytest.mark.parametrize("kind", KINDS)
@PROPS
@given(data=st.data(), lr=peak)
def test_continuity_at_the_warmup_boundary(kind: str, data: st.DataObject, lr: float) -> None:
    spec, total = data.draw(family_case(kind))
    plan = Plan.single(spec, peak_lr=lr, max_steps=total)
    w, f0 = spec.warmup_steps, spec.warmup_start_factor
    assert math.isclose(plan.lr_at(w), lr, rel_tol=REL)  # warmup ends exactly at the peak
    if w:
        # The last warmup step is one warmup increment below the peak: no jump at the seam.
        last_warmup = lr * (f0 + (1 - f0) * (w - 1) / w)
        assert math.isclose(plan.lr_at(w - 1), last_warmup, rel_tol=1e-12, abs_tol=lr * 1e-15)
        assert lr - plan.lr_at(w - 1) <= lr * ((1 - f0) / w * (1 + 1e-9) + 1e-15)
        # and the first decay step moves no more than the decay could over one step.
        assert plan.lr_at(w + 1) <= lr * (1 + 1e-12)


@pytest.mark.parametrize("kind", KINDS)
@PROPS
@given(data=st.data(), lr=peak)
def test_monotone_warmup(kind: str, data: st.DataObject, lr: float) -> None:
    spec, total = data.draw(family_case(kind))
    plan = Plan.single(spec, peak_lr=lr, max_steps=total)
    steps = sample_steps(data.draw, 0, spec.warmup_steps)
    lrs = [plan.lr_at(s) for s in steps]
    assert all(b >= a * (1 - 1e-12) for a, b in itertools.pairwise(lrs)), (steps, lrs)
    if spec.warmup_steps and spec.warmup_start_factor < 1:
        assert lrs[0] < lrs[-1]


@pytest.mark.parametrize("kind", KINDS)
@PROPS
@given(data=st.data(), lr=peak)
def test_monotone_decay(kind: str, data: st.DataObject, lr: float) -> None:
    spec, total = data.draw(family_case(kind))
    plan = Plan.single(spec, peak_lr=lr, max_steps=total)
    steps = sample_steps(data.draw, spec.warmup_steps, 2 * total)  # past the end as well
    lrs = [plan.lr_at(s) for s in steps]
    assert all(b <= a * (1 + 1e-12) for a, b in itertools.pairwise(lrs)), (steps, lrs)


@pytest.mark.parametrize("kind", KINDS)
@PROPS
@given(data=st.data(), lr=peak)
def test_exact_endpoints(kind: str, data: st.DataObject, lr: float) -> None:
    spec, total = data.draw(family_case(kind))
    plan = Plan.single(spec, peak_lr=lr, max_steps=total)
    start = spec.warmup_start_factor if spec.warmup_steps else 1.0
    assert math.isclose(plan.lr_at(0), lr * start, rel_tol=REL, abs_tol=0)
    assert math.isclose(plan.lr_at(total), lr * end_factor(spec, total), rel_tol=REL, abs_tol=0)
    assert math.isclose(plan.factor(total), end_factor(spec, total), rel_tol=REL, abs_tol=0)


@pytest.mark.parametrize("kind", KINDS)
@PROPS
@given(data=st.data(), lr=peak)
def test_floor_and_ceiling_respected(kind: str, data: st.DataObject, lr: float) -> None:
    spec, total = data.draw(family_case(kind))
    plan = Plan.single(spec, peak_lr=lr, max_steps=total)
    for step in sample_steps(data.draw, 0, 3 * total):
        f = plan.lr_at(step) / lr
        assert f <= 1 + 1e-12
        low = spec.warmup_start_factor if step < spec.warmup_steps else floor_of(spec)
        assert f >= low * (1 - 1e-12), (step, f, low)


@st.composite
def replan_case(draw: st.DrawFn) -> tuple[Plan, int, int, ScheduleSpec, int, float, float | None]:
    """An existing plan, a resume step inside it, and a new spec with a rewarm bridge."""
    old_kind, new_kind = draw(st.sampled_from(KINDS)), draw(st.sampled_from(KINDS))
    old_spec, old_total = draw(family_case(old_kind))
    plan = Plan.single(old_spec, peak_lr=draw(peak), max_steps=old_total)
    at = draw(st.integers(1, old_total))
    new_spec, new_total = draw(family_case(new_kind))
    rewarm = draw(st.integers(1, new_total - 1))
    from_lr = draw(st.one_of(st.none(), peak))
    return plan, at, at + new_total, new_spec, rewarm, draw(peak), from_lr


@PROPS
@given(case=replan_case(), data=st.data())
def test_replan_continuity_with_rewarm(
    case: tuple[Plan, int, int, ScheduleSpec, int, float, float | None], data: st.DataObject
) -> None:
    plan, at, max_steps, spec, rewarm, new_peak, given_from = case
    new = plan.replan(
        at, spec, peak_lr=new_peak, max_steps=max_steps, rewarm_steps=rewarm, from_lr=given_from
    )
    from_lr = plan.lr_at(at - 1) if given_from is None else given_from
    target = new_peak * spec.factor(rewarm, max_steps - at)  # the new curve on its own clock
    # Up to the resume step nothing changes; the bridge starts at the LR last applied ...
    for step in sample_steps(data.draw, 0, at - 1):
        assert new.lr_at(step) == plan.lr_at(step)
    assert math.isclose(new.lr_at(at), from_lr, rel_tol=REL)
    # ... reaches the new curve exactly after rewarm_steps, and is monotone in between.
    assert math.isclose(new.lr_at(at + rewarm), target, rel_tol=REL)
    bridge = [new.lr_at(s) for s in sample_steps(data.draw, at, at + rewarm)]
    lo, hi = min(from_lr, target), max(from_lr, target)
    assert all(lo * (1 - 1e-12) <= x <= hi * (1 + 1e-12) for x in bridge)
    direction = 1 if target >= from_lr else -1
    assert all(direction * (b - a) >= -1e-12 * hi for a, b in itertools.pairwise(bridge))
    # After the bridge the new curve is followed, counted from the resume step.
    for step in sample_steps(data.draw, at + rewarm, max_steps):
        expected = new_peak * spec.factor(step - at, max_steps - at)
        assert math.isclose(new.lr_at(step), expected, rel_tol=REL)
    assert new.max_steps == max_steps
