"""``uprior demo`` end to end, shortened: tiles, training, evaluation, plots, doctor's report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from unified_prior.doctor import diagnose
from unified_prior.schedules import Plan

SHORT = [
    "train.max_steps=40",
    "schedule.warmup_steps=5",
    "checkpoint.every_steps=20",
    "eval.every_steps=20",
    "eval.tiles_per_domain=4",
    "log.every_steps=5",  # 8 train records: enough for the doctor to judge the run
    "log.progress=off",
]


@pytest.mark.slow
def test_demo_trains_evaluates_and_reports_a_healthy_run(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    sets = [item for s in SHORT for item in ("--set", s)]
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "demo", "--out", str(out), *sets],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr
    run_dir = out / "run"
    for line in ("run directory:", "best checkpoint:", "plots:", "doctor's report:"):
        assert line in result.stdout
    assert sorted(p.name for p in (run_dir / "plots").iterdir()) == ["loss.png", "lr.png"]
    for name in ("report.md", "report.html", "report.json"):
        assert (run_dir / "report" / name).stat().st_size > 0

    val = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in val if r["kind"] == "val"]
    assert val[-1]["val_loss"] < val[0]["val_loss"]  # it learned something in 40 updates

    # The doctor, reading our own run, finds it healthy, and the LR stored in every
    # checkpoint is exactly the plan's LR of the last update before the save.
    report = diagnose([run_dir])
    assert report.exit_code == 0
    # Three evaluations but 8 logged train losses: enough to call it healthy.
    assert report.status == "healthy"
    assert not [f for f in report.findings if f.severity != "info"]
    assert report.lr_verdict == "applied"
    header = json.loads((run_dir / "metrics.jsonl").read_text().splitlines()[0])
    plan = Plan.from_list(header["plan"])
    checkpoints = report.evidence.usable_checkpoints
    assert {c.step for c in checkpoints} == {20, 40}
    for ckpt in checkpoints:
        assert ckpt.lr_step is not None and ckpt.lr == plan.lr_at(ckpt.lr_step)
