"""``--expect``: the declared schedule typed on the command line becomes a Plan."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unified_prior.doctor.declared import kind_from_text, parse_expect, plan_from_config
from unified_prior.errors import InputError


def test_original_declaration() -> None:
    d = parse_expect("cosine lr=1e-4 warmup=20000 max_steps=450000 min_lr_ratio=0.01")
    assert d.source == "--expect" and d.kind == "cosine"
    plan = d.plan
    assert plan is not None and plan.max_steps == 450_000
    assert plan.lr_at(25_000) == pytest.approx(9.9967e-5, rel=1e-4)
    assert plan.lr_at(90_000) == pytest.approx(9.3666e-5, rel=1e-4)
    assert plan.lr_at(225_000) == pytest.approx(5.4113e-5, rel=1e-4)
    assert d.assumed == ["warmup_start_factor=0.01 (project default)"]


def test_suffixes_aliases_and_accumulation() -> None:
    d = parse_expect("WarmupStableDecay peak_lr=3e-4 warmup=2k steps=1_000k accum=8")
    assert d.kind == "wsd" and d.grad_accum_steps == 8
    assert d.plan is not None and d.plan.max_steps == 1_000_000
    assert d.plan.segments[0].spec.warmup_steps == 2000
    assert d.plan.lr_at(500_000) == pytest.approx(3e-4)


def test_constant_without_warmup() -> None:
    d = parse_expect("constant lr=1e-3 max_steps=100")
    assert d.plan is not None and d.plan.lr_at(0) == d.plan.lr_at(99) == pytest.approx(1e-3)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "start with the schedule kind"),
        ("lr=1e-4 cosine", "start with the schedule kind"),
        ("sawtooth lr=1e-4", "unknown schedule kind 'sawtooth'"),
        ("cosine lr=abc max_steps=10", "lr='abc' is not a number"),
        ("cosine speed=3 max_steps=10", "'speed=3' is not one of"),
        ("cosine lr=1e-4", "no max_steps declared"),
        ("cosine max_steps=100", "no learning rate declared"),
        ("cosine lr=1e-4 warmup=500 max_steps=100", "invalid"),
    ],
)
def test_bad_expect_is_one_line_naming_it(text: str, says: str) -> None:
    with pytest.raises(InputError) as info:
        parse_expect(text)
    message = str(info.value)
    assert says in message and "\n" not in message
    assert message.startswith("--expect")


def test_config_keys_of_common_trainers() -> None:
    hf = plan_from_config(
        {
            "lr_scheduler_type": "cosine_with_min_lr",
            "learning_rate": 5e-5,
            "warmup_ratio": 0.1,
            "max_steps": 1000,
            "lr_scheduler_kwargs": {"min_lr_rate": 0.1},
            "gradient_accumulation_steps": 2,
        },
        "hf",
    )
    assert hf is not None and hf.plan is not None
    assert hf.plan.segments[0].spec.warmup_steps == 100
    assert hf.plan.lr_at(1000) == pytest.approx(5e-6)
    assert hf.grad_accum_steps == 2
    nanogpt = plan_from_config(
        {"learning_rate": 6e-4, "warmup_iters": 2000, "lr_decay_iters": 600000, "min_lr": 6e-5},
        "nanogpt",
    )
    assert nanogpt is not None and nanogpt.kind == "constant"
    assert nanogpt.assumed[0].startswith("no scheduler named")
    assert plan_from_config({"batch_size": 4}, "none") is None


@settings(max_examples=50, deadline=None)
@given(st.text(max_size=60))
def test_expect_never_crashes(text: str) -> None:
    try:
        parse_expect(text)
    except InputError as err:
        assert "\n" not in str(err) or "\n" in text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("cosine_with_restarts", "cosine"),
        ("CosineAnnealingLR", "cosine"),
        ("linear", "linear"),
        ("constant_with_warmup", "constant"),
        ("inverse_sqrt", "inverse_sqrt"),
        ("wsd", "wsd"),
        ("exponential", None),
    ],
)
def test_kind_words(text: str, kind: str | None) -> None:
    assert kind_from_text(text) == kind
