"""The plan: segments on one step clock, JSON round trip, replan, boundaries, errors."""

from __future__ import annotations

import json
import math

import pytest
import torch

from unified_prior.schedules import (
    LR_SCALE_KEY,
    ConstantSpec,
    CosineSpec,
    InverseSqrtSpec,
    LinearSpec,
    Plan,
    ScheduleSpec,
    Segment,
    WSDSpec,
)

ORIGINAL = CosineSpec(warmup_steps=20_000, warmup_start_factor=0.01, min_lr_ratio=0.01)
SPECS: list[ScheduleSpec] = [
    ConstantSpec(warmup_steps=10, warmup_start_factor=0.5),
    ORIGINAL,
    LinearSpec(min_lr_ratio=0.1),
    WSDSpec(warmup_steps=5, decay_fraction=0.3, decay_shape="1-sqrt", min_lr_ratio=0.02),
    InverseSqrtSpec(warmup_steps=100, ref_steps=7000, min_lr_ratio=0.05),
]


def original_plan() -> Plan:
    return Plan.single(ORIGINAL, peak_lr=1e-4, max_steps=450_000)


def replanned() -> Plan:
    return original_plan().replan(
        25_000,
        LinearSpec(warmup_steps=0, min_lr_ratio=0.1),
        peak_lr=3e-5,
        max_steps=200_000,
        rewarm_steps=2_000,
    )


# JSON round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind)
def test_single_segment_round_trip(spec: ScheduleSpec) -> None:
    plan = Plan.single(spec, peak_lr=2.5e-4, max_steps=50_000)
    text = plan.to_json()
    again = Plan.from_json(text)
    assert again == plan
    assert Plan.from_list(plan.to_list()) == plan
    assert [again.lr_at(s) for s in range(0, 50_001, 997)] == [
        plan.lr_at(s) for s in range(0, 50_001, 997)
    ]


def test_replanned_round_trip_is_plain_json() -> None:
    plan = replanned().replan(100_000, SPECS[3], peak_lr=1e-5, max_steps=150_000)
    data = json.loads(plan.to_json())  # only JSON types: lists, dicts, numbers, strings, null
    assert [seg["start_step"] for seg in data] == [0, 25_000, 100_000]
    assert data[1]["spec"] == {
        "kind": "linear",
        "warmup_steps": 0,
        "warmup_start_factor": 0.0,
        "min_lr_ratio": 0.1,
    }
    assert data[1]["rewarm_steps"] == 2_000
    assert data[1]["from_lr"] == original_plan().lr_at(24_999)
    assert data[2]["from_lr"] == replanned().lr_at(99_999)  # stored even without a rewarm
    again = Plan.from_json(json.dumps(data))
    assert again == plan
    assert again.to_json() == plan.to_json()


def test_round_trip_detects_a_changed_plan() -> None:
    data = original_plan().to_list()
    data[0]["spec"]["min_lr_ratio"] = 0.02
    assert Plan.from_list(data) != original_plan()


# Replan ---------------------------------------------------------------------------------


def test_replan_keeps_the_past_and_counts_the_new_segment_from_at_step() -> None:
    old, new = original_plan(), replanned()
    assert [s.start_step for s in new.segments] == [0, 25_000]
    assert new.max_steps == 200_000  # absolute, not 25_000 + 200_000
    assert new.segments[1].total_steps == 175_000
    for step in (0, 10_000, 24_999):
        assert new.lr_at(step) == old.lr_at(step)
    assert new.lr_at(25_000) == old.lr_at(24_999)  # default from_lr: the last LR applied
    # After the rewarm: linear from 3e-5 at step 25_000 to 3e-6 at 200_000, own clock.
    for step in (27_000, 112_500, 200_000):
        expected = 3e-5 * (0.1 + 0.9 * (1 - (step - 25_000) / 175_000))
        assert math.isclose(new.lr_at(step), expected, rel_tol=1e-12), step
    assert math.isclose(new.lr_at(200_000), 3e-6, rel_tol=1e-12)


def test_replan_bridge_is_linear_from_from_lr() -> None:
    plan = original_plan().replan(
        30_000, ConstantSpec(), peak_lr=5e-5, max_steps=60_000, rewarm_steps=100, from_lr=1e-4
    )
    assert plan.lr_at(30_000) == 1e-4
    assert math.isclose(plan.lr_at(30_050), 7.5e-5, rel_tol=1e-12)
    assert plan.lr_at(30_100) == 5e-5
    assert plan.segments[1].from_lr == 1e-4


def test_replan_without_rewarm_jumps_to_the_new_curve() -> None:
    plan = original_plan().replan(25_000, ConstantSpec(), peak_lr=1e-5, max_steps=30_000)
    assert plan.lr_at(24_999) == original_plan().lr_at(24_999)
    assert plan.lr_at(25_000) == 1e-5


def test_replan_drops_segments_after_at_step() -> None:
    later = replanned().replan(100_000, ConstantSpec(), peak_lr=1e-6, max_steps=120_000)
    earlier = later.replan(10_000, ConstantSpec(), peak_lr=2e-6, max_steps=50_000)
    assert [s.start_step for s in earlier.segments] == [0, 10_000]
    assert earlier.max_steps == 50_000
    assert earlier.lr_at(40_000) == 2e-6
    # Replanning exactly at a segment's start replaces that segment.
    same = later.replan(25_000, ConstantSpec(), peak_lr=7e-6, max_steps=40_000)
    assert [s.start_step for s in same.segments] == [0, 25_000]
    assert same.lr_at(30_000) == 7e-6


def test_factor_is_relative_to_the_first_peak_and_apply_writes_every_group() -> None:
    plan = replanned()
    assert plan.base_lr == 1e-4
    assert math.isclose(plan.factor(112_500), plan.lr_at(112_500) / 1e-4, rel_tol=1e-15)
    a, b = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], LR_SCALE_KEY: 0.25}], lr=1.0)
    lr = plan.apply(opt, 50_000)
    assert lr == plan.lr_at(50_000)
    assert opt.param_groups[0]["lr"] == lr
    assert opt.param_groups[1]["lr"] == lr * 0.25


def test_describe_names_every_segment() -> None:
    text = replanned().describe()
    assert "from step 0: cosine warmup=20000" in text
    assert "from step 25000: linear" in text
    assert "rewarm 2000" in text


# Boundaries -----------------------------------------------------------------------------


def test_boundaries_of_the_original_run() -> None:
    assert original_plan().boundaries() == [
        ("start", 0),
        ("end of warmup", 20_000),
        ("1/4 of decay", 127_500),
        ("2/4 of decay", 235_000),
        ("3/4 of decay", 342_500),
        ("end", 450_000),
    ]


def test_boundaries_without_warmup() -> None:
    plan = Plan.single(ConstantSpec(), peak_lr=1.0, max_steps=100)
    assert [s for _, s in plan.boundaries()] == [0, 25, 50, 75, 100]


def test_boundaries_of_a_replanned_plan_stay_inside_each_segment() -> None:
    # Regression: a replan inside the warmup listed segment 1's warmup end and decay
    # quarters, all of which lie in segment 2's territory.
    plan = original_plan().replan(
        10_000, ConstantSpec(), peak_lr=1e-5, max_steps=50_000, rewarm_steps=1_000
    )
    marks = plan.boundaries()
    steps = [s for _, s in marks]
    assert steps == sorted(set(steps))
    assert all(s < 10_000 for name, s in marks if name.startswith("segment 1"))
    assert ("segment 2 start", 10_000) in marks
    assert ("segment 2 end of rewarm", 11_000) in marks
    assert marks[-1] == ("end", 50_000)


# Errors ---------------------------------------------------------------------------------


def test_plan_errors() -> None:
    seg = Segment(0, 100, 1e-3, ConstantSpec())
    with pytest.raises(ValueError, match="step 0"):
        Plan(())
    with pytest.raises(ValueError, match="step 0"):
        Plan((Segment(5, 100, 1e-3, ConstantSpec()),))
    with pytest.raises(ValueError, match="increase strictly"):
        Plan((seg, Segment(50, 100, 1e-3, ConstantSpec()), Segment(50, 100, 1e-3, ConstantSpec())))
    with pytest.raises(ValueError, match="step must be >= 0"):
        Plan((seg,)).lr_at(-1)


@pytest.mark.parametrize("peak", [0.0, -1e-4, math.inf, math.nan])
def test_segment_rejects_a_bad_peak(peak: float) -> None:
    with pytest.raises(ValueError, match="learning_rate"):
        Segment(0, 100, peak, ConstantSpec())


def test_segment_errors() -> None:
    with pytest.raises(ValueError, match="rewarm_steps=100"):
        Segment(0, 100, 1e-3, ConstantSpec(), rewarm_steps=100, from_lr=1e-4)
    with pytest.raises(ValueError, match="from_lr"):
        Segment(0, 100, 1e-3, ConstantSpec(), rewarm_steps=10)
    with pytest.raises(ValueError, match="warmup_steps"):
        Segment(0, 100, 1e-3, ConstantSpec(warmup_steps=100))


def test_replan_errors() -> None:
    with pytest.raises(ValueError, match="at_step > 0"):
        original_plan().replan(0, ConstantSpec(), peak_lr=1e-4, max_steps=10)
    with pytest.raises(ValueError, match="resume step"):
        original_plan().replan(1000, ConstantSpec(), peak_lr=1e-4, max_steps=1000)
    with pytest.raises(ValueError, match="warmup_steps"):  # the new warmup must fit
        original_plan().replan(1000, ORIGINAL, peak_lr=1e-4, max_steps=21_000)


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.pop("peak_lr"), "peak_lr"),
        (lambda d: d.pop("spec"), "spec"),
        (lambda d: d["spec"].update(kind="exponential"), "unknown schedule kind"),
        (lambda d: d["spec"].update(min_lr_ratio=3.0), "min_lr_ratio"),
        (lambda d: d["spec"].update(warmup_stpes=3), "warmup_stpes"),
        (lambda d: d.update(start_step=7), "step 0"),
    ],
)
def test_from_list_rejects_malformed_plans(mutate: object, match: str) -> None:
    data = original_plan().to_list()
    mutate(data[0])  # type: ignore[operator]
    with pytest.raises(ValueError, match=match):
        Plan.from_list(data)


def test_from_json_rejects_an_empty_plan() -> None:
    with pytest.raises(ValueError, match="first segment"):
        Plan.from_json("[]")
