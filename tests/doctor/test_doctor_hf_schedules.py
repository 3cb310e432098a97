"""HF Trainer runs: the declared schedule from training_args.json / the model card with HF's
conventions (warmup from 0, decay to 0), ``--expect`` on a correct HF run (no LR001), a
resume without ``scheduler.pt`` (LR003 with no config) and a cosine stepped per micro-batch
under accumulation 4 (LR002 ×4, declared and inferred)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hf_builders import (
    hf_cosine,
    hf_linear,
    write_model_card,
    write_trainer_state,
    write_training_args,
)

from unified_prior.doctor import diagnose
from unified_prior.doctor.conventions.hf import parse_model_card


def _loss(step: int) -> float:
    return 0.3 + 2.0 * math.exp(-step / 400)


def _codes(report, severities=("error", "warning")):
    return {f.code for f in report.findings if f.severity in severities}


def _finding(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, f"no {code} in {[(f.code, f.title) for f in report.findings]}"
    return found[0]


def _lagged(factor, lag: int):
    """AMP skipped the scheduler step on the first ``lag`` overflowing updates."""
    return lambda step: factor(max(0, step - lag))


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_expect_on_a_correct_hf_run_is_not_lr001(tmp_path: Path, kind: str) -> None:
    factor = (hf_linear if kind == "linear" else hf_cosine)(500, 5000)
    write_trainer_state(
        tmp_path,
        peak=1e-5,
        max_steps=5000,
        lr_factor=_lagged(factor, 2),
        loss=_loss,
        logging_steps=25,
    )
    report = diagnose([tmp_path], expect=f"{kind} lr=1e-5 warmup=500 max_steps=5000")
    assert report.declared is not None and report.declared.convention == "hf"
    # HF's own defaults fill what --expect leaves out, and the report says so.
    assert any("HF Trainer: warmup from 0, decay to 0" in a for a in report.declared.assumed)
    assert report.declared.plan.lr_at(0) == 0.0 and report.declared.plan.lr_at(5000) == 0.0
    assert report.lr_verdict == "applied"
    assert "LR001" not in _codes(report) and "LR004" not in _codes(report)


def test_the_same_run_against_the_project_defaults_would_differ(tmp_path: Path) -> None:
    # Without the HF convention (a bare CSV), the project defaults (warmup from 1 %, floor
    # 1 %) are assumed and listed: the test above is not passing by accident.
    factor = hf_linear(500, 5000)
    lines = ["step,loss,lr"] + [
        f"{s},{_loss(s):.5f},{1e-5 * factor(s):.6e}" for s in range(25, 5001, 25)
    ]
    (tmp_path / "log.csv").write_text("\n".join(lines) + "\n")
    report = diagnose([tmp_path / "log.csv"], expect="linear lr=1e-5 warmup=500 max_steps=5000")
    assert report.declared.convention == "generic"
    assert "min_lr_ratio=0.01 (project default)" in report.declared.assumed


def test_declared_from_training_args_json(tmp_path: Path) -> None:
    write_training_args(
        tmp_path,
        learning_rate=2e-5,
        lr_scheduler_type="cosine",
        warmup_ratio=0.1,
        max_steps=2000,
    )
    write_trainer_state(
        tmp_path, peak=2e-5, max_steps=2000, lr_factor=hf_cosine(200, 2000), loss=_loss
    )
    report = diagnose([tmp_path])
    d = report.declared
    assert d is not None and d.convention == "hf" and d.unit == "step"
    assert d.source.startswith("HF TrainingArguments in ")
    assert d.plan.segments[0].spec.warmup_steps == 200  # ceil(0.1 × 2000)
    assert d.plan.lr_at(2000) == 0.0
    assert report.lr_verdict == "applied"
    assert _codes(report) == set()
    data = report.to_dict()["declared_schedule"]
    assert data["unit"] == "step" and data["convention"] == "hf"


def test_declared_from_the_model_card(tmp_path: Path) -> None:
    card = {
        "learning_rate": "1e-05",
        "train_batch_size": 16,
        "seed": 42,
        "optimizer": "Adam with betas=(0.9,0.999) and epsilon=1e-08",
        "lr_scheduler_type": "linear",
        "lr_scheduler_warmup_steps": 500,
        "training_steps": 5000,
        "mixed_precision_training": "Native AMP",
    }
    write_model_card(tmp_path, card)
    assert parse_model_card((tmp_path / "README.md").read_text())["warmup_steps"] == "500"
    # trainer_state.json of the last checkpoint sits one folder down, as HF saves it.
    write_trainer_state(
        tmp_path / "last-checkpoint",
        peak=1e-5,
        max_steps=5000,
        lr_factor=_lagged(hf_linear(500, 5000), 2),
        loss=_loss,
        logging_steps=25,
    )
    report = diagnose([tmp_path / "last-checkpoint" / "trainer_state.json"])
    d = report.declared
    assert d is not None and "model card" in d.source and d.kind == "linear"
    assert d.plan.max_steps == 5000 and d.plan.segments[0].spec.warmup_steps == 500
    assert report.lr_verdict == "applied" and _codes(report) == set()


def test_hf_run_resumed_without_scheduler_state_is_lr003_with_no_config(tmp_path: Path) -> None:
    # Resumed at 1200 from a checkpoint whose scheduler.pt was missing: HF built a fresh
    # scheduler, so the warmup of 100 steps ran again from step 1200.
    plan = hf_linear(100, 3000)
    write_trainer_state(
        tmp_path,
        peak=5e-5,
        max_steps=3000,
        lr_factor=lambda s: plan(s) if s <= 1200 else plan(s - 1200),
        loss=_loss,
    )
    report = diagnose([tmp_path / "trainer_state.json"])
    assert report.declared is None or report.declared.plan is None
    f = _finding(report, "LR003")
    assert f.severity == "error"
    assert f.evidence["kind"] == "restart"
    assert 1200 <= f.evidence["resume_step"] <= 1210
    assert "warmup" in f.title
    inferred = report.to_dict()["inferred_schedule"]
    assert inferred["looks_intended"] is False
    assert "warmup" in inferred["why"]


def test_healthy_hf_run_without_config_is_quiet_and_described(tmp_path: Path) -> None:
    write_trainer_state(
        tmp_path, peak=5e-5, max_steps=3000, lr_factor=hf_linear(100, 3000), loss=_loss
    )
    report = diagnose([tmp_path / "trainer_state.json"])
    assert _codes(report) == set()
    inferred = report.to_dict()["inferred_schedule"]
    assert inferred["kind"] == "linear" and inferred["looks_intended"] is True
    assert inferred["warmup_end_step"] == 100
    assert "decayed linearly" in inferred["summary"]


def test_cosine_per_micro_batch_under_accumulation_4_declared(tmp_path: Path) -> None:
    write_training_args(
        tmp_path,
        learning_rate=3e-4,
        lr_scheduler_type="cosine",
        warmup_steps=100,
        max_steps=2000,
        gradient_accumulation_steps=4,
    )
    factor = hf_cosine(100, 2000)
    write_trainer_state(
        tmp_path, peak=3e-4, max_steps=2000, lr_factor=lambda s: factor(4 * s), loss=_loss
    )
    report = diagnose([tmp_path])
    f = _finding(report, "LR002")
    assert f.severity == "error"
    assert f.evidence["k"] == 4 and f.evidence["grad_accum_steps"] == 4
    assert "LR001" not in _codes(report)


def test_cosine_per_micro_batch_under_accumulation_4_inferred(tmp_path: Path) -> None:
    # No scheduler declared anywhere; a config gives only the accumulation.
    (tmp_path / "config.json").write_text('{"gradient_accumulation_steps": 4, "seed": 1}')
    factor = hf_cosine(100, 2000)
    write_trainer_state(
        tmp_path, peak=3e-4, max_steps=2000, lr_factor=lambda s: factor(4 * s), loss=_loss
    )
    report = diagnose([tmp_path])
    f = _finding(report, "LR002")
    assert f.severity == "error"
    assert f.evidence["k"] == 4
    assert f.evidence["matched"]["by"] == "gradient accumulation"
    assert f.evidence["floor_step"] == pytest.approx(500, abs=15)
    assert "consistent with a scheduler stepped once per micro-batch" in f.message
