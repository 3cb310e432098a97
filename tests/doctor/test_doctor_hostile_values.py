"""Issue 14's doctor items: values a real run can produce that once crashed the doctor."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from unified_prior.doctor import diagnose


def test_zero_lr_and_nan_loss_at_step_0_is_reported_not_a_crash(tmp_path: Path) -> None:
    # A warmup from 0 (HF, torch LinearLR(start_factor=0)) meeting a NaN at the first step:
    # the recommendation once took log10 of the LR there (math domain error).
    lines = ["step,loss,lr", "0,nan,0", "10,2.0,1e-4", "20,1.9,2e-4", "30,1.8,3e-4"]
    (tmp_path / "metrics.csv").write_text("\n".join(lines) + "\n")
    report = diagnose([tmp_path / "metrics.csv"])
    run003 = [f for f in report.findings if f.code == "RUN003"]
    assert run003 and run003[0].evidence["first_step"] == 0
    assert report.recommendation.summary  # says something, does not raise


def test_zero_lr_only_and_nan_loss_via_the_cli(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"step": 0, "loss": float("nan"), "lr": 0.0}) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "unified_prior", "doctor", str(log)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr and "math domain error" not in done.stderr


def test_hostile_framework_configs_neither_crash_nor_hang(tmp_path: Path) -> None:
    # A YAML alias bomb as hparams.yaml (9 levels of 9 aliases: 387M leaves if walked).
    bomb = ["a: &a [1, 2, 3]"]
    previous = "a"
    for level in "bcdefghi":
        bomb.append(f"{level}: &{level} {{" + ", ".join(f"k{i}: *{previous}" for i in range(9)))
        bomb[-1] += "}"
        previous = level
    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    (folder / "hparams.yaml").write_text("\n".join(bomb) + "\nlr: 0.001\nwarmup_steps: 10\n")
    (folder / "metrics.csv").write_text(
        "epoch,step,train_loss,lr-Adam\n"
        + "".join(f"0,{s},{2 - s / 100},0.001\n" for s in range(50))
    )
    # DETR / torchvision Namespaces that would build absurd milestone lists.
    (tmp_path / "out.log").write_text(
        "Namespace(lr=0.1, epochs=1000000000000, lr_scheduler='steplr', lr_step_size=1)\n"
        "Namespace(lr=0.1, epochs=5, lr_drop_epochs=[1e400, -3, 'x'])\n"
    )
    # detectron2 with non-numeric and infinite STEPS.
    (tmp_path / "config.yaml").write_text(
        "SOLVER:\n  BASE_LR: .inf\n  STEPS: [.inf, -1, abc]\n  MAX_ITER: 1e400\n  GAMMA: -2\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "unified_prior", "doctor", str(tmp_path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr
