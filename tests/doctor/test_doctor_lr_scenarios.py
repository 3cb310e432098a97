"""The LR family and the loss family on runs written to disk in several formats: a healthy run
of ours, a scheduler stepped per micro-batch (LR002), a warmup restarted at a resume
(LR003), our own run that never applied its plan (LR001 → ``uprior resume``), and a NaN
loss (RUN003)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from doctor_builders import cosine_plan, falling_loss, write_run_dir, write_tb_session

from unified_prior.doctor import diagnose
from unified_prior.doctor.findings import fmt_lr


def _codes(report, severities=("error", "warning", "info")):
    return {f.code for f in report.findings if f.severity in severities}


def _finding(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, f"no {code} in {[(f.code, f.title) for f in report.findings]}"
    return found[0]


def test_healthy_run_of_ours_has_no_warning_or_error(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=200, max_steps=2000)
    run = write_run_dir(tmp_path / "run", plan, last_step=2000, checkpoint_steps=(1000, 2000))
    report = diagnose([run])
    assert report.lr_verdict == "applied"
    assert _codes(report, ("error", "warning")) == set()
    assert report.exit_code == 0
    assert report.declared is not None and report.declared.source.startswith("metrics header")
    assert report.recommendation.summary.startswith("No action needed")
    assert "INF002" not in _codes(report)
    # Checkpoints of ours carry the plan: no CKP101, and they agree with the log.
    assert len(report.evidence.usable_checkpoints) == 2
    assert all(c.layout == "unified-prior" for c in report.evidence.usable_checkpoints)


def test_our_run_that_never_applied_its_plan_gets_a_resume_command(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=200, max_steps=4000)

    def loss(step: int) -> float:  # falls to 0.1 at 1000, then climbs back
        return 0.1 + 2.0 * math.exp(-step / 200) + (0.0 if step <= 1000 else (step - 1000) / 500)

    run = write_run_dir(
        tmp_path / "run",
        plan,
        last_step=3000,
        lr_at=lambda s: 1e-3,
        loss_at=loss,
        checkpoint_steps=(500, 1000, 1500, 2000, 2500, 3000),
    )
    report = diagnose([run])
    assert {"LR001", "RUN001", "INF001", "INF002"} <= _codes(report)
    assert report.best["checkpoint"].endswith("checkpoint_step_0001000.pt")
    (command,) = report.recommendation.commands
    assert command.startswith(
        f"uprior resume {run / 'checkpoints' / 'checkpoint_step_0001000.pt'} --policy replan"
    )
    assert "--learning-rate 3e-04" in command and "--max-steps 4000" in command
    assert report.recommendation.snippet is None
    assert "the run's cosine schedule decaying to 0.01× the peak at step 4,000" in (
        report.recommendation.summary
    )


def test_scheduler_stepped_per_micro_batch_gives_lr002_with_the_factor(tmp_path: Path) -> None:
    # A wandb-style JSONL log plus a config.yaml beside it that declares accumulation 4.
    plan = cosine_plan(3e-4, warmup=400, max_steps=8000)
    rng = np.random.default_rng(2)
    with (tmp_path / "log.jsonl").open("w") as handle:
        for step in range(0, 2001, 10):
            record = {
                "_step": step,
                "train/loss": falling_loss(step, rng),
                "lr": plan.lr_at(4 * step),  # the scheduler ran once per micro-batch
            }
            handle.write(json.dumps(record) + "\n")
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump(
            {
                "optimizer": {"lr": 3e-4},
                "lr_scheduler": "cosine",
                "warmup_steps": 400,
                "max_steps": 8000,
                "min_lr_ratio": 0.01,
                "gradient_accumulation_steps": 4,
            }
        )
    )
    report = diagnose([tmp_path])
    f = _finding(report, "LR002")
    assert f.severity == "error"
    assert f.evidence["kind"] == "step_scale"
    assert f.evidence["k"] == 4 and f.evidence["factor"] == pytest.approx(4.0)
    assert f.evidence["grad_accum_steps"] == 4
    assert "4× faster" in f.message and "grad_accum_steps=4" in f.message
    assert "ends at update 100 instead of 400" in f.message
    assert "LR001" not in _codes(report)


def test_lr002_factor_is_found_without_a_declared_accumulation(tmp_path: Path) -> None:
    plan = cosine_plan(3e-4, warmup=300, max_steps=9000)
    lines = ["step,train_loss,lr"]
    for step in range(0, 3001, 20):
        lines.append(f"{step},{falling_loss(step):.6f},{plan.lr_at(3 * step):.6e}")
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    report = diagnose([tmp_path / "metrics.csv"], expect="cosine lr=3e-4 warmup=300 max_steps=9000")
    f = _finding(report, "LR002")
    assert f.evidence["k"] == 3
    assert "counted in the wrong unit" in f.message


def test_warmup_restart_after_resume_gives_lr003(tmp_path: Path) -> None:
    # Two TensorBoard sessions: the resumed one rebuilt the scheduler from step 0.
    plan = cosine_plan(1e-3, warmup=200, max_steps=4000)
    logdir = tmp_path / "tb"
    first = [(s, plan.lr_at(s)) for s in range(0, 1501, 10)]
    second = [(s, plan.lr_at(s - 1500)) for s in range(1500, 3001, 10)]
    write_tb_session(
        logdir,
        {"train/lr": first, "train/loss": [(s, falling_loss(s)) for s in range(0, 1501, 10)]},
    )
    write_tb_session(
        logdir,
        {"train/lr": second, "train/loss": [(s, falling_loss(s)) for s in range(1500, 3001, 10)]},
    )
    report = diagnose([logdir], expect="cosine lr=1e-3 warmup=200 max_steps=4000")
    assert [r.step for r in report.evidence.resumes] == [1500]
    f = _finding(report, "LR003")
    assert f.severity == "error"
    assert f.evidence["kind"] == "restart" and f.evidence["resume_step"] == 1500
    assert f.evidence["applied_after"] == pytest.approx(plan.lr_at(0), rel=1e-5)
    assert f.evidence["planned_after"] == pytest.approx(plan.lr_at(1500), rel=1e-5)
    assert "warmup of 200 steps ran a second time" in f.message
    assert "LR001" not in _codes(report) and "LR002" not in _codes(report)


def test_lr_jump_at_resume_gives_lr003_jump(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=100, max_steps=3000)
    lines = []
    for s in range(0, 1101, 10):
        lines.append(f"step {s} | loss {falling_loss(s):.5f} | lr {plan.lr_at(s):.6e}")
    # Crashed after 1100, resumed from the checkpoint at 1000 with the LR of a fresh
    # optimizer (the peak) and no scheduler: the log goes back to step 1010.
    for s in range(1010, 2001, 10):
        lines.append(f"step {s} | loss {falling_loss(s):.5f} | lr {1e-3:.6e}")
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    report = diagnose([tmp_path / "train.log"], expect="cosine lr=1e-3 warmup=100 max_steps=3000")
    assert [r.step for r in report.evidence.resumes] == [1010]
    # The newest record of a re-logged step wins: the resumed session's.
    assert report.evidence.series["lr"].value_at(1050) == pytest.approx(1e-3)
    f = _finding(report, "LR003")
    assert f.evidence["resume_step"] == 1010
    assert f.evidence["kind"] == "jump"
    assert f.evidence["factor"] == pytest.approx(1e-3 / plan.lr_at(1010), rel=0.02)
    assert f.title == "LR jump at the resume at step 1,010"


def test_nan_loss_gives_run003_at_the_right_step(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=100, max_steps=2000)
    with (tmp_path / "log.jsonl").open("w") as handle:
        for step in range(0, 1001, 10):
            loss = falling_loss(step) if step < 730 else math.nan
            # json.dumps writes NaN as the bare token NaN, as Python loggers do.
            handle.write(json.dumps({"step": step, "loss": loss, "lr": plan.lr_at(step)}) + "\n")
    report = diagnose([tmp_path / "log.jsonl"], expect="cosine lr=1e-3 warmup=100 max_steps=2000")
    f = _finding(report, "RUN003")
    assert f.severity == "error"
    assert f.evidence["first_step"] == 730
    assert f.evidence["count"] == 28 and f.evidence["kinds"] == ["NaN"]
    assert f.evidence["last_finite"] == pytest.approx(falling_loss(720))
    assert "step 730" in f.title
    assert report.exit_code == 1


def test_nan_written_as_a_string_by_our_recorder_is_run003(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=100, max_steps=2000)
    run = write_run_dir(
        tmp_path / "run",
        plan,
        last_step=600,
        loss_at=lambda s: falling_loss(s) if s < 410 else math.inf,
    )
    # Our Recorder writes non-finite numbers as strings ("inf"), since JSON has none.
    text = (run / "metrics.jsonl").read_text().replace("Infinity", '"inf"')
    (run / "metrics.jsonl").write_text(text)
    report = diagnose([run])
    f = _finding(report, "RUN003")
    assert f.evidence["first_step"] == 410 and f.evidence["kinds"] == ["inf"]


@pytest.mark.parametrize("warmup", [100, 400])
def test_missing_warmup_gives_lr004_not_lr001(tmp_path: Path, warmup: int) -> None:
    # The scheduler was built after a warmup that the loop skipped: the peak from step 0.
    plan = cosine_plan(1e-3, warmup=warmup, max_steps=2000)
    run = write_run_dir(
        tmp_path / "run",
        plan,
        last_step=2000,
        lr_at=lambda s: plan.lr_at(s) if s >= warmup else 1e-3,
    )
    report = diagnose([run])
    f = _finding(report, "LR004")
    assert f.severity == "warning"
    assert f.evidence["warmup_steps"] == warmup
    first = f.steps[0]
    assert first == 10  # the first logged step, where the plan is far below the peak
    assert f"at step 10 the plan gives {fmt_lr(plan.lr_at(10))}" in f.message
    assert "the run used 1e-03" in f.message
    assert _codes(report, ("error",)) == set()
    assert report.lr_verdict in ("applied", "warmup_differs")
