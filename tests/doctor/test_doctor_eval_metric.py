"""Judged on the right metric: the eval loss decides the best point and a divergence where
one is logged, overfitting is named as such, the HF Trainer's ``best_model_checkpoint`` is
what INF001 points to, severity follows the numbers, and too little data is never
"Healthy"."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from hf_builders import hf_linear, write_trainer_state

from unified_prior.doctor import diagnose, render


def _train(step: int) -> float:
    return 0.2 + 2.0 * math.exp(-step / 300)


def _finding(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, f"no {code} in {[(f.code, f.title) for f in report.findings]}"
    return found[0]


def _eval_rising(factor: float):
    """Eval loss falls to 0.5 at step 400, then rises to ``factor`` × 0.5 by step 2000."""

    def value(step: int) -> float:
        if step <= 400:
            return 0.5 + 1.5 * (1 - step / 400)
        return 0.5 * factor ** ((step - 400) / 1600)

    return value


def test_eval_loss_up_2_5x_while_train_falls_is_overfitting(tmp_path: Path) -> None:
    write_trainer_state(
        tmp_path,
        peak=5e-5,
        max_steps=2000,
        lr_factor=hf_linear(100, 2000),
        loss=_train,
        eval_loss=_eval_rising(2.5),
        eval_steps=100,
        best_model_checkpoint="outputs/checkpoint-400",
    )
    report = diagnose([tmp_path / "trainer_state.json"])
    f = _finding(report, "RUN001")
    assert f.evidence["metric"] == "val_loss" and f.evidence["kind"] == "overfitting"
    assert f.evidence["best_step"] == 400
    assert f.severity == "error"  # 2.5× its best
    assert f.title.startswith("overfitting:")
    assert "consistent with overfitting" in f.message
    assert "load_best_model_at_end=True" in f.action
    inf001 = _finding(report, "INF001")
    assert inf001.evidence["path"] == "outputs/checkpoint-400" and inf001.evidence["step"] == 400
    assert report.status == "problems"


def test_a_24_percent_rise_is_a_warning_and_2_percent_is_nothing(tmp_path: Path) -> None:
    for factor, expected in ((1.24, "warning"), (1.02, None)):
        folder = tmp_path / str(factor)
        write_trainer_state(
            folder,
            peak=5e-5,
            max_steps=2000,
            lr_factor=hf_linear(100, 2000),
            loss=_train,
            eval_loss=_eval_rising(factor),
        )
        report = diagnose([folder / "trainer_state.json"])
        found = [f for f in report.findings if f.code == "RUN001"]
        if expected is None:
            assert not found and report.status == "healthy"
        else:
            assert found and found[0].severity == expected
            assert "What to do:" in found[0].message


def test_every_warning_and_error_says_what_to_do(tmp_path: Path) -> None:
    plan = hf_linear(100, 3000)
    write_trainer_state(
        tmp_path,
        peak=5e-5,
        max_steps=3000,
        lr_factor=lambda s: plan(s) if s <= 1200 else plan(s - 1200),
        loss=_train,
        eval_loss=_eval_rising(3.0),
    )
    report = diagnose([tmp_path / "trainer_state.json"])
    flagged = [f for f in report.findings if f.severity != "info"]
    assert {f.code for f in flagged} >= {"LR003", "RUN001"}
    for f in flagged:
        assert f.action and f.message.rstrip().endswith(f.action[1:].rstrip()), f.code
    lr003 = _finding(report, "LR003")
    assert "scheduler.pt" in lr003.action  # the HF way to keep the scheduler's state
    assert "consistent with" in lr003.message


@pytest.mark.parametrize("points", [1, 3])
def test_too_little_data_is_not_enough_data_never_healthy(tmp_path: Path, points: int) -> None:
    history = [
        {"epoch": 0.1 * i, "learning_rate": 1e-5, "loss": 0.0, "step": 10 * i}
        for i in range(1, points + 1)
    ]
    state = {"log_history": history, "max_steps": 100, "global_step": 10 * points}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    report = diagnose([tmp_path / "trainer_state.json"])
    assert report.status == "not enough data"
    assert report.to_dict()["status"] == "not enough data"
    text = render(report, "text")
    assert "Healthy" not in text and "Not enough data" in text
    assert "No action needed" not in text
    assert report.recommendation.summary.startswith("Not enough data to judge this run")
    done = subprocess.run(
        [sys.executable, "-m", "unified_prior", "doctor", str(tmp_path / "trainer_state.json")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Not enough data" in done.stdout and "Healthy" not in done.stdout


def test_few_evaluations_with_a_long_train_loss_are_enough_data(tmp_path: Path) -> None:
    # The shape of our own demo run: 30 train-loss records and 4 evaluations. The trajectory
    # is judged on the eval loss, but the train loss has the points to call the run healthy.
    history = [
        {"epoch": i / 30, "learning_rate": 1e-4, "loss": _train(10 * i), "step": 10 * i}
        for i in range(1, 31)
    ]
    history += [
        {"epoch": s / 300, "eval_loss": _train(s) + 0.05, "step": s} for s in (0, 100, 200, 300)
    ]
    state = {"log_history": history, "max_steps": 300, "global_step": 300}
    (tmp_path / "trainer_state.json").write_text(json.dumps(state))
    report = diagnose([tmp_path / "trainer_state.json"])
    assert report.status == "healthy", [(f.code, f.title) for f in report.findings]
    assert report.loss_points == 30
    assert "Healthy" in render(report, "text")
