"""Resume is exact or explicitly re-planned (DESIGN §3, §5, §8).

On CPU, N updates + resume for N more equals 2N uninterrupted updates tensor for tensor;
``continue`` refuses a changed plan and prints the replan command; ``replan`` follows the
new segment exactly; ``--resume auto`` skips a truncated checkpoint by name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from unified_prior.config import config_from_dict, load_config, write_config
from unified_prior.schedules import Plan
from unified_prior.train.checkpoint import checkpoint_name, find_latest, load_checkpoint
from unified_prior.train.loop import train
from unified_prior.train.resume import resolve

#: What must match bit for bit between a resumed and an uninterrupted run.
EXACT_KEYS = ("step", "model", "ema", "optimizer", "plan", "sampler", "rng", "data_stats")


def uprior(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "unified_prior", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def checkpoint(run_dir: Path, step: int) -> dict:
    return load_checkpoint(run_dir / "checkpoints" / checkpoint_name(step))


def resume_copy(source: Path, step: int, target: Path) -> Path:
    """A new run directory holding only ``source``'s checkpoint at ``step``."""
    (target / "checkpoints").mkdir(parents=True)
    path = target / "checkpoints" / checkpoint_name(step)
    shutil.copy(source / "checkpoints" / checkpoint_name(step), path)
    return path


@pytest.fixture(scope="module")
def full_run(tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 uninterrupted updates, checkpoints at 4 and 8."""
    run_dir = tmp_path_factory.mktemp("full") / "run"
    train(load_config(None, tiny_overrides), run_dir)
    return run_dir


@pytest.mark.parametrize(
    ("accum", "every", "resume_at"),
    [(2, 4, 4), (3, 3, 3), (1, 3, 6)],
    ids=["accum2-at4", "accum3-at3", "accum1-at6"],
)
def test_n_plus_resume_equals_uninterrupted(
    make_config, state_equal, tmp_path: Path, accum: int, every: int, resume_at: int
) -> None:
    config = make_config(f"train.grad_accum_steps={accum}", f"checkpoint.every_steps={every}")
    train(config, tmp_path / "full")
    path = resume_copy(tmp_path / "full", resume_at, tmp_path / "resumed")
    point = resolve(path, load_checkpoint(path), config, policy="continue", world_size=1)
    result = train(config, tmp_path / "resumed", point)
    assert result.step == 8
    a, b = checkpoint(tmp_path / "full", 8), checkpoint(tmp_path / "resumed", 8)
    for key in EXACT_KEYS:
        assert state_equal(a[key], b[key]), key
    # The resumed run's records continue the clock: one train record per update.
    steps = [r["step"] for r in records(tmp_path / "resumed") if r["kind"] == "train"]
    assert steps == list(range(resume_at, 8))


@pytest.mark.slow
def test_sigterm_mid_run_saves_a_checkpoint_that_resumes_exactly(
    tiny_overrides: list[str], state_equal, tmp_path: Path
) -> None:
    # A longer run, so that the signal lands in the middle of it.
    overrides = [*tiny_overrides, "train.max_steps=60", "checkpoint.every_steps=100"]
    overrides += ["eval.every_steps=100", "schedule.warmup_steps=5"]
    config = load_config(None, overrides)
    write_config(config, tmp_path / "run.toml")
    train(config, tmp_path / "full")

    run_dir = tmp_path / "stopped"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "unified_prior", "train", "--config", str(tmp_path / "run.toml")]
    proc = subprocess.Popen(
        [*cmd, "--out", str(run_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait for the third logged update, then stop the run
        if metrics.exists() and metrics.read_text().count('"kind": "train"') >= 3:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr.decode()
    assert "stopped by SIGTERM" in stderr.decode()
    found = find_latest(run_dir / "checkpoints")
    assert found.state is not None
    stopped_at = int(found.state["step"])
    assert 3 <= stopped_at < 60  # mid-run, after the update in flight finished

    resumed = uprior("train", "--config", str(tmp_path / "run.toml"), "--out", str(run_dir),
                     "--resume", "auto")  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    a, b = checkpoint(tmp_path / "full", 60), checkpoint(run_dir, 60)
    for key in EXACT_KEYS:
        assert state_equal(a[key], b[key]), key
    steps = [r["step"] for r in records(run_dir) if r["kind"] == "train"]
    assert steps == list(range(60))  # records after the stop point were not duplicated


def test_replan_follows_the_new_segment_exactly(full_run: Path, tmp_path: Path) -> None:
    path = resume_copy(full_run, 4, tmp_path / "run")
    result = uprior("resume", str(path), "--policy", "replan", "--learning-rate", "5e-4",
                    "--max-steps", "12", "--set", "log.progress=off")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "replanned" in result.stdout

    stored = load_checkpoint(path)
    old_plan = Plan.from_list(stored["plan"])
    final = checkpoint(tmp_path / "run", 12)
    plan = Plan.from_list(final["plan"])
    assert len(plan.segments) == 2 and plan.segments[1].start_step == 4
    assert plan.segments[1].peak_lr == 5e-4 and plan.max_steps == 12
    assert plan.segments[0] == old_plan.segments[0]  # the past is kept as it was
    # The LR went down (2e-3 peak → 5e-4), so no rewarm: the new curve from the first update.
    assert plan.segments[1].rewarm_steps == 0

    lines = records(tmp_path / "run")
    header = next(r for r in lines if r["kind"] == "header")
    assert header["resume"]["policy"] == "replan" and header["resume"]["from_step"] == 4
    assert Plan.from_list(header["plan"]) == plan
    logged = {r["step"]: r["lr"] for r in lines if r["kind"] == "train"}
    assert sorted(logged) == list(range(4, 12))
    for step, lr in logged.items():
        assert lr == plan.lr_at(step)  # exactly the closed form of the new segment
    assert logged[4] == pytest.approx(5e-4, rel=1e-12)  # warmup is for cold starts only
    assert logged[11] < logged[4]


def test_replan_upwards_bridges_from_the_last_applied_lr(full_run: Path) -> None:
    path = full_run / "checkpoints" / checkpoint_name(4)
    state = load_checkpoint(path)
    config = config_from_dict(state["config"])
    config.optim.learning_rate, config.train.max_steps = 1e-2, 40
    point = resolve(path, state, config, policy="replan", world_size=1, rewarm_steps=6)
    last_lr = Plan.from_list(state["plan"]).lr_at(3)  # the LR of the last update before
    new = point.plan.segments[1]
    assert point.plan.lr_at(4) == pytest.approx(last_lr, rel=1e-12)
    assert point.plan.lr_at(7) == pytest.approx(last_lr + (new.curve(10) - last_lr) / 2)
    assert point.plan.lr_at(10) == pytest.approx(new.curve(10), rel=1e-12)
    # Without --rewarm-steps, an upward replan still ramps (never a silent jump up).
    default = resolve(path, state, config, policy="replan", world_size=1)
    assert default.plan.segments[1].rewarm_steps > 0


def test_continue_with_a_changed_lr_exits_2_with_the_replan_command(full_run: Path) -> None:
    path = full_run / "checkpoints" / checkpoint_name(4)
    before = sorted(p.name for p in (full_run / "checkpoints").iterdir())
    result = uprior("resume", str(path), "--learning-rate", "1e-3")
    assert result.returncode == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert "optim.learning_rate: 0.002 → 0.001" in message
    assert f"uprior resume {path} --policy replan --learning-rate 0.001" in message
    assert sorted(p.name for p in (full_run / "checkpoints").iterdir()) == before


def test_resume_auto_skips_a_truncated_newest_checkpoint(
    full_run: Path, tiny_overrides: list[str], tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(full_run / "checkpoints", run_dir / "checkpoints")
    newest = run_dir / "checkpoints" / checkpoint_name(8)
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    write_config(load_config(None, tiny_overrides), tmp_path / "run.toml")
    result = uprior(
        "train", "--config", str(tmp_path / "run.toml"), "--out", str(run_dir), "--resume", "auto"
    )
    assert result.returncode == 0, result.stderr
    assert "skipped" in result.stderr and "checkpoint_step_0000008.pt" in result.stderr
    # It resumed from step 4 and rewrote a complete step-8 checkpoint.
    assert checkpoint(run_dir, 8)["step"] == 8
    header = next(r for r in records(run_dir) if r["kind"] == "header")
    assert header["resume"]["from_step"] == 4


@pytest.mark.parametrize(
    ("where", "bad", "hint"),
    [
        ("set", "train.max_step=5", "train.max_steps"),
        ("file", "[optim]\nlearning_rat = 1e-3\n", "optim.learning_rate"),
    ],
)
def test_unknown_key_exits_2_before_anything_is_written(
    tmp_path: Path, where: str, bad: str, hint: str
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(bad if where == "file" else "", encoding="utf-8")
    extra = ["--set", bad] if where == "set" else []
    out = tmp_path / "out"
    result = uprior("train", "--config", str(config), *extra, "--out", str(out))
    assert result.returncode == 2
    assert f"did you mean '{hint}'" in result.stderr
    assert not out.exists()


def test_evaluate_marks_the_better_checkpoint_and_matches_the_val_records(
    full_run: Path,
) -> None:
    paths = [str(full_run / "checkpoints" / checkpoint_name(s)) for s in (4, 8)]
    result = uprior("evaluate", *paths, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    val = {r["step"]: r for r in records(full_run) if r["kind"] == "val"}
    for entry in report["checkpoints"]:
        assert entry["val_loss"] == pytest.approx(val[entry["step"]]["val_loss"], rel=1e-6)
        assert entry["val_loss_raw"] == pytest.approx(val[entry["step"]]["val_loss_raw"], rel=1e-6)
    better = min(report["checkpoints"], key=lambda e: e["val_loss"])
    assert report["best"] == better["checkpoint"]

    text = uprior("evaluate", *paths)
    assert text.returncode == 0, text.stderr
    assert "step 4" in text.stdout and "step 8" in text.stdout and "★" in text.stdout
    assert f"better: {better['checkpoint']}" in " ".join(text.stdout.split())


def test_evaluate_names_a_missing_checkpoint(tmp_path: Path) -> None:
    result = uprior("evaluate", str(tmp_path / "nope.pt"))
    assert result.returncode == 2 and "nope.pt" in result.stderr
