"""The loss family on logs written to disk: spikes that recover (RUN002), a run that never
learns (RUN004), and the LR scaled by a constant (LR002, value form)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from doctor_builders import cosine_plan, falling_loss

from unified_prior.doctor import diagnose


def _write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_spikes_that_recover_are_run002_not_divergence(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    spikes = {400: 8.0, 1200: 5.0}
    records = []
    for step in range(0, 2000, 5):
        loss = falling_loss(step, rng)
        records.append({"step": step, "loss": loss * spikes.get(step, 1.0)})
    report = diagnose([_write_jsonl(tmp_path / "log.jsonl", records)])
    codes = {f.code for f in report.findings}
    assert "RUN001" not in codes
    f = next(f for f in report.findings if f.code == "RUN002")
    assert f.severity == "warning"
    assert f.evidence["count"] == 2 and f.steps == [400, 1200]
    assert f.evidence["worst_step"] == 400
    assert f.evidence["worst_factor"] == pytest.approx(8.0, rel=0.15)


def test_noisy_healthy_loss_has_no_spike_or_divergence(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    records = [
        {"step": s, "loss": falling_loss(s) * float(np.exp(rng.normal(0, 0.3)))}
        for s in range(0, 3000, 5)
    ]
    report = diagnose([_write_jsonl(tmp_path / "log.jsonl", records)])
    assert {f.code for f in report.findings} & {"RUN001", "RUN002", "RUN004"} == set()


def test_a_run_that_does_not_learn_is_run004(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    records = [{"step": s, "loss": 2.3 + rng.normal(0, 0.02)} for s in range(0, 1000, 10)]
    report = diagnose([_write_jsonl(tmp_path / "log.jsonl", records)])
    f = next(f for f in report.findings if f.code == "RUN004")
    assert f.severity == "warning"
    assert f.evidence["improvement"] < 0.1
    assert f.evidence["first_loss"] == pytest.approx(2.3, abs=0.05)


def test_lr_scaled_by_a_constant_is_lr002_value_form(tmp_path: Path) -> None:
    # The base LR multiplied by the world size (8) on top of the declared peak.
    plan = cosine_plan(1e-4, warmup=100, max_steps=2000)
    records = [
        {"step": s, "loss": falling_loss(s), "lr": 8 * plan.lr_at(s)} for s in range(0, 2000, 10)
    ]
    report = diagnose(
        [_write_jsonl(tmp_path / "log.jsonl", records)],
        expect="cosine lr=1e-4 warmup=100 max_steps=2000",
    )
    f = next(f for f in report.findings if f.code == "LR002")
    assert f.evidence["kind"] == "lr_scale"
    assert f.evidence["factor"] == pytest.approx(8.0, rel=1e-3)
    assert f.title == "applied LR is 8× the declared plan"
    assert "LR001" not in {g.code for g in report.findings}


def test_a_loss_that_only_rises_is_a_divergence_from_the_start(tmp_path: Path) -> None:
    records = [{"step": s, "loss": 1.0 + 3.0 * s / 990} for s in range(0, 1000, 10)]
    report = diagnose([_write_jsonl(tmp_path / "log.jsonl", records)])
    f = next(f for f in report.findings if f.code == "RUN001")
    assert f.evidence["best_step"] == 0
    assert f.evidence["rise_factor"] == pytest.approx(4.0, rel=0.05)
    assert "RUN004" not in {g.code for g in report.findings}
    assert f.message.startswith("The smoothed loss never fell below ")


def test_giving_back_most_of_the_gain_is_a_divergence_below_2x(tmp_path: Path) -> None:
    # 2.0 → 1.0 at step 500 → 1.6 at the end: not 2× the best, but 60% of the gain is lost.
    def loss(step: int) -> float:
        return 2.0 - step / 500 if step <= 500 else 1.0 + 0.6 * (step - 500) / 490

    records = [{"step": s, "loss": loss(s)} for s in range(0, 1000, 5)]
    report = diagnose([_write_jsonl(tmp_path / "log.jsonl", records)])
    f = next(f for f in report.findings if f.code == "RUN001")
    assert abs(f.evidence["best_step"] - 500) <= 10
    assert f.evidence["onset_rule"] == "half the rise"
    assert f.evidence["onset_level"] == pytest.approx(1.3, abs=0.02)
    assert 730 <= f.evidence["onset_step"] <= 760  # where the line crosses 1.3
    assert f.evidence["regained_fraction"] == pytest.approx(0.6, abs=0.03)
    assert "passed half the rise at step" in f.message
