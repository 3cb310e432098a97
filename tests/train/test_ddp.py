"""DDP under ``torchrun`` (gloo on CPU) is the same training as one process (issue 7).

The slow tests launch real ``torchrun`` processes: the product's own command line
(``-m unified_prior train``) or ``ddp_helpers.py``, which wraps ``train()`` with counting
callbacks. Two processes with per-process batch B must equal one process with batch 2B:
the same plan and step counts exactly, the same weights, EMA and optimizer state to float
tolerance (DDP averages gradients in a different order than one big batch does).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

from unified_prior.config import config_from_dict, load_config, write_config
from unified_prior.data import BalancedSampler, build_batch
from unified_prior.errors import InputError
from unified_prior.schedules import Plan
from unified_prior.train.build import build_datasets
from unified_prior.train.checkpoint import checkpoint_name, find_latest, load_checkpoint
from unified_prior.train.checkpoint_eval import evaluate_checkpoint
from unified_prior.train.loop import train
from unified_prior.train.resume import resolve

HELPER = Path(__file__).with_name("ddp_helpers.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
B = 2  # per-process batch of the two-process runs; one process runs with 2B
ACCUM = 2  # TINY's train.grad_accum_steps
GLOBAL_BATCH = 2 * B * ACCUM
#: Float tolerance of 2 × B against 2B (observed differences are about 1e-6 after 8 updates).
RTOL, ATOL = 1e-4, 1e-5


def start(args: list[str]) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(proc: subprocess.Popen[str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """Wait for the end; on a hang, SIGTERM it (torchrun passes it on, then reaps)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=90)
        pytest.fail(f"{proc.args!r} hung for {timeout}s; stderr tail:\n{err[-4000:]}")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def launch(args: list[str]) -> subprocess.CompletedProcess[str]:
    return finish(start(args))


def torchrun(nproc: int, *args: str) -> subprocess.CompletedProcess[str]:
    return launch([*TORCHRUN, str(nproc), *args])


def uprior(*args: str) -> subprocess.CompletedProcess[str]:
    return launch([sys.executable, "-m", "unified_prior", *args])


def load_helper() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ddp_helpers", HELPER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def records(run_dir: Path, kind: str) -> list[dict[str, Any]]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


def checkpoint(run_dir: Path, step: int) -> dict[str, Any]:
    return load_checkpoint(run_dir / "checkpoints" / checkpoint_name(step))


def close(a: object, b: object, path: str = "") -> list[str]:
    """Where two nested states differ: tensors beyond float tolerance, anything else at all."""
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor):
        same = a.shape == b.shape and torch.allclose(a.double(), b.double(), RTOL, ATOL)
        return [] if same else [path]
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path} keys"]
        return [p for k in a for p in close(a[k], b[k], f"{path}/{k}")]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path} length"]
        pairs = enumerate(zip(a, b, strict=True))
        return [p for i, (x, y) in pairs for p in close(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def assert_same_training(a: dict[str, Any], b: dict[str, Any]) -> None:
    """Checkpoints of the same training: plan and step counts exact, tensors to tolerance."""
    assert a["step"] == b["step"]
    assert Plan.from_list(a["plan"]) == Plan.from_list(b["plan"])
    for key in ("model", "ema", "optimizer"):
        assert close(a[key], b[key]) == [], key
    # Adam's per-parameter step counts are exact: one optimizer step per update.
    steps = [s["step"] for s in a["optimizer"]["state"].values()]
    assert steps == [s["step"] for s in b["optimizer"]["state"].values()]
    assert all(float(s) == a["step"] for s in steps)


@pytest.fixture(scope="module")
def config_file(tiny_overrides: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ddp_config") / "tiny.toml"
    write_config(load_config(None, tiny_overrides), path)
    return path


@pytest.fixture(scope="module")
def one_process(config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 updates in this process with batch 2B, counted like the torchrun ranks."""
    run_dir = tmp_path_factory.mktemp("one") / "run"
    torch.set_num_threads(1)
    result, counter = load_helper().run(config_file, [f"train.batch_size={2 * B}"], run_dir)
    assert result.step == 8
    (run_dir.parent / "counts.json").write_text(json.dumps(counter.per_update))
    return run_dir


@pytest.fixture(scope="module")
def two_processes(config_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 updates on 2 torchrun processes with batch B each; counts in ``../counts/``."""
    run_dir = tmp_path_factory.mktemp("two") / "run"
    counts = run_dir.parent / "counts"
    args = ["--config", str(config_file), "--set", f"train.batch_size={B}", "--out", str(run_dir)]
    result = torchrun(2, str(HELPER), *args, "--counts", str(counts))
    assert result.returncode == 0, result.stderr[-4000:]
    return run_dir


@pytest.mark.parametrize("world_size", [2, 4])
def test_ranks_shard_the_one_process_batch_without_overlap(make_config, world_size: int) -> None:
    """Rank r's micro-batch is slice r of the batch one process draws: same tiles, crops and
    noise seeds, so the union over ranks is the one-process stream for any world size."""
    _, train_set, _ = build_datasets(make_config())
    seed, batch = 0, 2

    def sampler(rank: int, world: int) -> BalancedSampler:
        per_rank = batch * world_size // world
        return BalancedSampler(train_set.domain_index, batch_size=per_rank, seed=seed,
                               rank=rank, world_size=world)  # fmt: skip

    for step, micro in [(0, 0), (0, 1), (5, 0), (1234, 1)]:
        whole = build_batch(train_set, sampler(0, 1), seed, step, micro)
        parts = [build_batch(train_set, sampler(r, world_size), seed, step, micro)
                 for r in range(world_size)]  # fmt: skip
        for field in ("images", "masks", "labels", "domains", "seeds"):
            joined = torch.cat([getattr(part, field) for part in parts])
            assert torch.equal(joined, getattr(whole, field)), (step, micro, field)
        assert len(set(whole.seeds.tolist())) == len(whole)  # positions never repeat


def rank_counts(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads((run_dir.parent / "counts" / f"rank{r}.json").read_text()) for r in (0, 1)]


@pytest.mark.slow
def test_two_processes_with_batch_b_equal_one_process_with_batch_2b(
    one_process: Path, two_processes: Path
) -> None:
    names = sorted(p.name for p in (one_process / "checkpoints").iterdir())
    assert names == sorted(p.name for p in (two_processes / "checkpoints").iterdir())
    for step in (4, 8):
        assert_same_training(checkpoint(one_process, step), checkpoint(two_processes, step))
    # The tolerance is far below what one update changes, so the comparison has teeth.
    assert close(checkpoint(one_process, 4)["model"], checkpoint(one_process, 8)["model"])

    one, two = records(one_process, "train"), records(two_processes, "train")
    assert [r["step"] for r in one] == [r["step"] for r in two] == list(range(8))
    assert [r["lr"] for r in one] == [r["lr"] for r in two]  # the same closed form, exactly
    assert [r["skipped_updates"] for r in two] == [0] * 8
    for a, b in zip(one, two, strict=True):  # rank-averaged loss = the loss of the 2B batch
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-4)
        # Per-sigma losses cover every rank's samples, not rank 0's half.
        assert b["loss_by_sigma"].keys() == a["loss_by_sigma"].keys()
        assert b["loss_by_sigma"] == pytest.approx(a["loss_by_sigma"], rel=1e-5)


@pytest.mark.slow
def test_one_lr_write_one_step_and_one_gradient_sync_per_group_on_every_rank(
    one_process: Path, two_processes: Path
) -> None:
    ranks = rank_counts(two_processes)
    plan = Plan.from_list(records(two_processes, "header")[0]["plan"])
    for counts in ranks:
        assert counts["world_size"] == 2 and counts["step"] == 8
        updates = counts["updates"]
        assert [u["step"] for u in updates] == list(range(8))
        for u in updates:
            assert all(writes == 1 for writes in u["lr_writes"]), u  # once per param group
            assert u["optimizer_steps"] == 1 and u["forwards"] == ACCUM, u
            # no_sync on all but the last micro-batch: gradients are all-reduced only after
            # the group's last forward, never per micro-batch.
            assert u["allreduce_after"] and set(u["allreduce_after"]) == {ACCUM}, u
            assert u["lr"] == [plan.lr_at(u["step"])] * len(u["lr"])
    assert ranks[0]["updates"] == ranks[1]["updates"]  # the same clock on every rank
    alone = json.loads((one_process.parent / "counts.json").read_text())
    strip = [{k: v for k, v in u.items() if k != "allreduce_after"} for u in ranks[0]["updates"]]
    assert [{k: v for k, v in u.items() if k != "allreduce_after"} for u in alone] == strip


@pytest.mark.slow
def test_only_rank_0_writes_and_the_run_records_world_size(two_processes: Path) -> None:
    rank0, rank1 = rank_counts(two_processes)
    assert rank1["writes"] == []
    assert {"open metrics.jsonl", "open config.toml", "open train.log"} <= set(rank0["writes"])
    assert "os.rename checkpoints/checkpoint_step_0000008.pt" in rank0["writes"]

    assert sorted(p.name for p in two_processes.iterdir()) == [
        "checkpoints", "config.toml", "metrics.jsonl", "tb", "train.log",
    ]  # fmt: skip
    assert len(list((two_processes / "tb").iterdir())) == 1  # one event file, one writer
    assert len(records(two_processes, "header")) == 1
    log_lines = (two_processes / "train.log").read_text().splitlines()
    assert sum(" step " in line and "/8 loss" in line for line in log_lines) == 8

    header = records(two_processes, "header")[0]
    effective = header["config"]["effective"]
    assert effective["world_size"] == 2 and effective["global_batch_size"] == GLOBAL_BATCH
    assert header["config"]["train"]["batch_size"] == B  # train.batch_size is per process
    assert "\nbatch_size = 2\n" in (two_processes / "config.toml").read_text()
    final = checkpoint(two_processes, 8)
    assert final["world_size"] == 2
    assert final["sampler"]["world_size"] == 2 and final["sampler"]["batch_size"] == B


@pytest.mark.slow
def test_fixed_noise_validation_is_the_same_on_one_and_two_processes(
    one_process: Path, two_processes: Path
) -> None:
    one, two = records(one_process, "val"), records(two_processes, "val")
    assert [r["step"] for r in one] == [r["step"] for r in two] == [0, 4, 8]
    # Before the first update the weights are bit-identical, so the numbers must be too.
    assert one[0]["val_loss"] == two[0]["val_loss"]
    assert one[0]["table"] == two[0]["table"]
    for a, b in zip(one[1:], two[1:], strict=True):
        assert b["val_loss"] == pytest.approx(a["val_loss"], rel=1e-5)
    # The number the two-process run logged is what one process computes from its weights.
    alone = evaluate_checkpoint(two_processes / "checkpoints" / checkpoint_name(8))
    assert alone.ema.mean_loss == two[-1]["val_loss"]
    assert alone.raw.mean_loss == two[-1]["val_loss_raw"]


@pytest.mark.slow
def test_two_process_checkpoint_continues_on_one_process(
    one_process: Path, two_processes: Path, tmp_path: Path
) -> None:
    source = two_processes / "checkpoints" / checkpoint_name(4)
    run_dir = tmp_path / "one"
    result = uprior("resume", str(source), "--set", f"train.batch_size={2 * B}",
                    "--out", str(run_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert_same_training(checkpoint(two_processes, 8), checkpoint(run_dir, 8))
    assert_same_training(checkpoint(one_process, 8), checkpoint(run_dir, 8))
    header = records(run_dir, "header")[0]
    assert header["resume"]["policy"] == "continue"
    assert header["resume"]["from_world_size"] == 2
    assert header["resume"]["from_global_batch_size"] == GLOBAL_BATCH
    assert header["config"]["effective"]["world_size"] == 1
    assert header["config"]["effective"]["global_batch_size"] == GLOBAL_BATCH
    assert [r["step"] for r in records(run_dir, "train")] == list(range(4, 8))


@pytest.mark.slow
def test_one_process_checkpoint_continues_on_two_processes(
    config_file: Path, one_process: Path, two_processes: Path, tmp_path: Path
) -> None:
    source = one_process / "checkpoints" / checkpoint_name(4)
    run_dir = tmp_path / "two"
    result = torchrun(2, "-m", "unified_prior", "train", "--config", str(config_file),
                      "--set", f"train.batch_size={B}", "--resume", str(source),
                      "--out", str(run_dir))  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.count("done: 8 updates") == 2  # both ranks ran to the end
    assert_same_training(checkpoint(one_process, 8), checkpoint(run_dir, 8))
    assert_same_training(checkpoint(two_processes, 8), checkpoint(run_dir, 8))
    header = records(run_dir, "header")[0]
    assert header["resume"]["from_world_size"] == 1
    assert header["config"]["effective"]["world_size"] == 2
    assert [r["step"] for r in records(run_dir, "train")] == list(range(4, 8))


@pytest.mark.slow
def test_a_changed_global_batch_needs_replan_with_the_lr_rule_stated(
    two_processes: Path, tmp_path: Path
) -> None:
    source = two_processes / "checkpoints" / checkpoint_name(4)
    # The checkpoint's per-process batch on one process: global batch 8 → 4.
    result = uprior("resume", str(source), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    message = result.stderr.strip()
    assert message.count("\n") == 0 and message.startswith("uprior: error: resume from")
    assert f"global batch {GLOBAL_BATCH} → {GLOBAL_BATCH // 2}" in message
    assert f"--set train.batch_size={2 * B}" in message  # how to keep the global batch
    # The LR rule is the user's: both scalings of the checkpoint's 2e-3 peak, neither applied.
    assert "--policy replan --learning-rate LR" in message
    assert "scaled linearly is 0.001," in message and "by square root 0.00141421" in message
    assert not (tmp_path / "run").exists()  # nothing written

    # Re-planning across the change is allowed only with the peak LR given explicitly.
    state = load_checkpoint(source)
    config = config_from_dict(state["config"])  # what `uprior resume` starts from
    with pytest.raises(InputError, match="--policy replan changes the global batch 8 → 4"):
        resolve(source, state, config, policy="replan", world_size=1)
    tree = {**state["config"], "optim": {**state["config"]["optim"], "learning_rate": 1e-3}}
    config = config_from_dict(tree)  # as `uprior resume --learning-rate 1e-3` builds it
    point = resolve(source, state, config, policy="replan", world_size=1, learning_rate_given=True)
    assert point.plan.segments[-1].start_step == 4
    assert point.plan.segments[-1].peak_lr == 1e-3
    torch.set_num_threads(1)
    result = train(config, tmp_path / "replanned", point)
    assert result.step == 8
    header = records(tmp_path / "replanned", "header")[0]
    assert header["resume"]["from_global_batch_size"] == GLOBAL_BATCH
    assert header["config"]["effective"]["global_batch_size"] == GLOBAL_BATCH // 2
    logged = records(tmp_path / "replanned", "train")
    assert [r["lr"] for r in logged] == [point.plan.lr_at(s) for s in range(4, 8)]
    # The same global batch on another world size continues the stored plan.
    tree = {**state["config"], "train": {**state["config"]["train"], "batch_size": 2 * B}}
    same = resolve(source, state, config_from_dict(tree), policy="continue", world_size=1)
    assert same.plan == Plan.from_list(state["plan"])


@pytest.mark.slow
def test_sigterm_from_torchrun_stops_every_rank_after_one_update_with_a_checkpoint(
    config_file: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    sets = [f"train.batch_size={B}", "train.max_steps=400", "checkpoint.every_steps=1000",
            "eval.every_steps=1000"]  # fmt: skip
    args = [*TORCHRUN, "2", "-m", "unified_prior", "train", "--config", str(config_file)]
    args += [item for s in sets for item in ("--set", s)] + ["--out", str(run_dir)]
    proc = start(args)
    metrics = run_dir / "metrics.jsonl"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # wait for the third logged update, then stop the run
        if metrics.exists() and metrics.read_text().count('"kind": "train"') >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # to the launcher, which signals its workers
    err = finish(proc).stderr
    stops = [line for line in err.splitlines() if line.startswith("stopped by SIGTERM at step")]
    assert len(stops) == 2 and stops[0] == stops[1], err[-4000:]  # both ranks, one step
    found = find_latest(run_dir / "checkpoints")
    assert found.state is not None
    stopped_at = int(found.state["step"])
    assert f"at step {stopped_at};" in stops[0]
    assert 3 <= stopped_at < 400 and found.state["world_size"] == 2
    steps = [r["step"] for r in records(run_dir, "train")]
    assert steps == list(range(stopped_at))  # the checkpoint holds every update made
