"""Checkpoints that load but do not fit, and the operations around them (issue 14).

A checkpoint is checked as a whole before anything is restored: a misfit is one line naming
the file and the first mismatch (exit 2), and ``--resume auto`` skips it like a corrupt file.
A finished run resumed with ``--resume auto`` exits 0; temp files of an interrupted save are
removed at start; an unsafe pickle is refused naming its forbidden global.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from unified_prior.config import load_config, write_config
from unified_prior.errors import InputError, foreign_globals
from unified_prior.train.checkpoint import (
    CheckpointError,
    checkpoint_name,
    find_latest,
    load_checkpoint,
)
from unified_prior.train.loop import train
from unified_prior.train.resume import resolve


def uprior(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "unified_prior", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="module")
def run(tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 updates of the tiny config, checkpoints at 4 and 8, and its config file."""
    folder = tmp_path_factory.mktemp("hostile")
    config = load_config(None, [*tiny_overrides, "log.tensorboard=false"])
    write_config(config, folder / "run.toml")
    train(config, folder / "run")
    return folder


def copy_run(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run / "run", tmp_path / "run")
    return tmp_path / "run"


def mutated(run: Path, tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    state = load_checkpoint(run / "run" / "checkpoints" / checkpoint_name(4))
    change(state)
    path = tmp_path / checkpoint_name(4)
    torch.save(state, path)
    return path


def drop_first_model_key(state: dict[str, Any]) -> None:
    del state["model"][next(iter(state["model"]))]


def shrink_exp_avg(state: dict[str, Any]) -> None:
    entry = state["optimizer"]["state"][0]
    entry["exp_avg"] = entry["exp_avg"][:1]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda s: s.update(rng={}), "'rng' is {}"),
        (lambda s: s.update(step="twelve"), "'step' is 'twelve'"),
        (lambda s: s.update(step=-3), "'step' is -3"),
        (lambda s: s.update(format_version="1"), "'format_version' is '1'"),
        (lambda s: s["rng"].update(torch=torch.zeros(3)), "'rng.torch' is torch.float32 [3]"),
        (lambda s: s.update(sampler={}), "'sampler' is {}"),
        (lambda s: s["sampler"].update(batch_size="4"), "'sampler.batch_size' is '4'"),
        (lambda s: s.update(model=[1, 2]), "'model' is list"),
        (lambda s: s["ema"].update(extra="x"), "'ema' entry 'extra' is str"),
        (lambda s: s.update(optimizer={"state": {}}), "not an optimizer state dict"),
        (lambda s: s.update(plan=[{"start_step": "x"}]), "'plan' is not a schedule plan"),
        (lambda s: s.update(plan=[]), "'plan' is not a schedule plan"),
        (lambda s: s["metrics"].update(best_step=1.5), "'metrics.best_step' is 1.5"),
        (lambda s: s.update(world_size=0), "'world_size' is 0"),
        (lambda s: s["config"]["optim"].update(betas=[2, 0]), "optim.betas"),
    ],
    ids=[
        "rng-empty",
        "step-text",
        "step-negative",
        "version-text",
        "rng-wrong-tensor",
        "sampler-empty",
        "sampler-text",
        "model-list",
        "ema-non-tensor",
        "optimizer-form",
        "plan-junk",
        "plan-empty",
        "metrics-type",
        "world-size",
        "config-value",
    ],
)
def test_a_malformed_entry_is_one_line_naming_the_file(
    run: Path, tmp_path: Path, change, expected: str
) -> None:
    path = mutated(run, tmp_path, change)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"checkpoint {path}: ")
    assert expected in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (drop_first_model_key, "'model' lacks "),
        (shrink_exp_avg, "'optimizer' exp_avg of parameter 0 is"),
        (lambda s: s["optimizer"]["param_groups"].pop(), "'optimizer' has 1 param groups"),
    ],
    ids=["missing-model-key", "optimizer-shape", "optimizer-groups"],
)
def test_a_tensor_that_does_not_fit_the_model_is_named(
    run: Path, tmp_path: Path, change, expected: str, tiny_overrides: list[str]
) -> None:
    path = mutated(run, tmp_path, change)
    state = load_checkpoint(path)  # it loads: only the model tells it does not fit
    config = load_config(None, [*tiny_overrides, "log.tensorboard=false"])
    with pytest.raises(CheckpointError) as err:
        resolve(path, state, config, policy="continue", world_size=1)
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"checkpoint {path}: does not fit")
    assert expected in message


def test_another_model_size_names_the_first_tensor_and_the_keys_that_differ(
    run: Path, tiny_overrides: list[str]
) -> None:
    path = run / "run" / "checkpoints" / checkpoint_name(4)
    config = load_config(None, [*tiny_overrides, "model.channels=16"])
    with pytest.raises(CheckpointError) as err:
        resolve(path, load_checkpoint(path), config, policy="continue", world_size=1)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "in the file," in message and "in the model" in message
    assert "model.channels 8 → 16" in message


@pytest.mark.slow
def test_train_resume_of_another_model_size_exits_2_in_one_line_and_writes_nothing(
    run: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(run, tmp_path)
    before = listing(run_dir)
    path = run_dir / "checkpoints" / checkpoint_name(4)
    result = uprior("train", "--config", run / "run.toml", "--set", "model.channels=16",
                    "--out", run_dir, "--resume", path)  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"checkpoint {path}: does not fit this run: 'model." in result.stderr
    assert listing(run_dir) == before


def test_resume_auto_skips_a_misfit_newest_checkpoint_and_says_why(
    run: Path, tmp_path: Path, tiny_overrides: list[str]
) -> None:
    run_dir = copy_run(run, tmp_path)
    newest = run_dir / "checkpoints" / checkpoint_name(8)
    state = load_checkpoint(newest)
    shrink_exp_avg(state)
    torch.save(state, newest)
    config = load_config(None, [*tiny_overrides, "log.tensorboard=false"])
    found = find_latest(run_dir / "checkpoints", config)
    assert found.path == run_dir / "checkpoints" / checkpoint_name(4)
    assert len(found.skipped) == 1
    assert str(newest) in found.skipped[0] and "does not fit" in found.skipped[0]


@pytest.mark.slow
def test_resume_auto_on_a_finished_run_exits_0_and_changes_nothing(
    run: Path, tmp_path: Path
) -> None:
    run_dir = copy_run(run, tmp_path)
    before = listing(run_dir)
    result = uprior("train", "--config", run / "run.toml", "--out", run_dir, "--resume", "auto")
    assert result.returncode == 0, result.stderr
    assert "already complete at step 8" in result.stdout
    assert listing(run_dir) == before


def test_temp_files_of_an_interrupted_save_are_removed_at_start(
    run: Path, tmp_path: Path, tiny_overrides: list[str], capsys
) -> None:
    run_dir = copy_run(run, tmp_path)
    (run_dir / "checkpoints" / checkpoint_name(8)).unlink()
    stale = [
        run_dir / "checkpoints" / ".checkpoint_step_0000008.pt.k3j_x9.tmp",
        run_dir / "checkpoints" / ".best.pt.a1b2c3.tmp",
    ]
    for path in stale:
        path.write_bytes(b"PK\x03\x04 cut short by kill -9")
    keep = run_dir / "checkpoints" / "notes.tmp"  # not ours: left alone
    keep.write_text("mine")
    config = load_config(None, [*tiny_overrides, "log.tensorboard=false"])
    path = run_dir / "checkpoints" / checkpoint_name(4)
    point = resolve(path, load_checkpoint(path), config, policy="continue", world_size=1)
    train(config, run_dir, point)
    assert not any(p.exists() for p in stale) and keep.exists()
    err = capsys.readouterr().err
    assert "removed 2 temp file(s) of an interrupted checkpoint save" in err
    assert "train.log" and "interrupted checkpoint save" in (run_dir / "train.log").read_text()


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_an_unsafe_pickle_is_refused_naming_its_global(tmp_path: Path, capfd) -> None:
    forbidden = f"{os.system.__module__}.system"
    path = tmp_path / checkpoint_name(4)
    torch.save({"step": 4, "model": Evil()}, path)
    with pytest.raises(CheckpointError, match=rf"refers to {forbidden}, which weights_only"):
        load_checkpoint(path)
    bare = tmp_path / "bare.pt"  # a plain pickle: torch names no global for it
    bare.write_bytes(pickle.dumps({"x": Evil()}, protocol=4))
    with pytest.raises(CheckpointError, match=rf"refers to {forbidden}"):
        load_checkpoint(bare)
    assert "this must never run" not in capfd.readouterr().out


@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_forbidden_globals_are_read_from_the_opcodes_of_every_protocol(
    tmp_path: Path, protocol: int
) -> None:
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(["posix", {"a": Evil()}, torch.ones(1)], protocol=protocol))
    found = foreign_globals(path)
    assert found[0] == f"{os.system.__module__}.system"
    assert not any(g.startswith("torch.") for g in found)


def _limit_file_size() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))


@pytest.mark.slow
def test_an_os_error_on_a_checkpoint_write_is_one_line_naming_the_file(
    run: Path, tmp_path: Path
) -> None:
    # A real kernel refusal: files may not grow past 64 kB (EFBIG; Python ignores SIGXFSZ).
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "unified_prior", "train", "--config", str(run / "run.toml"),
         "--out", str(out)],
        capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot write {out / 'checkpoints'}" in proc.stderr
    assert "File too large" in proc.stderr
    assert not list((out / "checkpoints").glob(".*.tmp"))  # the failed save cleaned up


@pytest.mark.slow
def test_a_full_disk_is_one_line_with_the_space_needed(run: Path, tmp_path: Path) -> None:
    """A real full disk: a 200 kB tmpfs mounted in a private user and mount namespace."""
    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) to mount a small tmpfs")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    script = (
        f"mount -t tmpfs -o size=200k tmpfs {mnt} || exit 77; "
        f"exec {sys.executable} -m unified_prior train --config {run / 'run.toml'} "
        f"--out {mnt / 'run'}"
    )
    proc = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    if proc.returncode == 77 or "unshare:" in proc.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:200]}")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert f"cannot write {mnt / 'run' / 'checkpoints'}" in proc.stderr
    assert "No space left on device (needs about " in proc.stderr and " free on " in proc.stderr


def test_a_config_that_cannot_build_the_model_is_an_input_error(
    run: Path, tiny_overrides: list[str]
) -> None:
    path = run / "run" / "checkpoints" / checkpoint_name(4)
    config = load_config(None, [*tiny_overrides, "data.resolution=17"])  # not divisible by 2
    with pytest.raises(InputError, match=r"data\.resolution=17 must be divisible"):
        resolve(path, load_checkpoint(path), config, policy="continue", world_size=1)


def test_evaluate_names_a_tensor_that_does_not_fit_its_own_config(
    run: Path, tmp_path: Path
) -> None:
    from unified_prior.train.checkpoint_eval import evaluate_checkpoint

    def reshape_first(state: dict[str, Any]) -> None:
        key = next(iter(state["model"]))
        state["model"][key] = state["model"][key].flatten()[:-1]

    path = mutated(run, tmp_path, reshape_first)
    with pytest.raises(CheckpointError, match=r"does not fit this run: 'model\.unet\."):
        evaluate_checkpoint(path)
