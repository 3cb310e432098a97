"""The loop does what the config says: one LR write and one update per group, the LR of
the plan at every logged step, non-finite updates skipped, outputs per DESIGN §5."""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from unified_prior.schedules import Plan
from unified_prior.train.checkpoint import load_checkpoint
from unified_prior.train.loop import Callback, TrainState, train


def read_records(run_dir: Path, kind: str) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


class LRWriteCounter(dict):
    """A param group that counts writes of its ``lr`` (torch keeps groups as plain dicts)."""

    writes = 0

    def __setitem__(self, key: str, value: object) -> None:
        if key == "lr":
            type(self).writes += 1
        super().__setitem__(key, value)


class CountUpdates(Callback):
    """Counts, per update slot, LR writes (param-group proxy), optimizer steps (optimizer
    hooks) and micro-batch forwards (module hook)."""

    def __init__(self) -> None:
        self.steps = 0
        self.forwards = 0
        self.per_update: list[tuple[int, int, int]] = []

    def on_train_start(self, run: TrainState) -> None:
        opt = run.parts.optimizer
        opt.param_groups[:] = [LRWriteCounter(g) for g in opt.param_groups]
        LRWriteCounter.writes = 0
        opt.register_step_post_hook(lambda *_: setattr(self, "steps", self.steps + 1))
        run.parts.net.register_forward_hook(self._count_forward)

    def _count_forward(self, module: torch.nn.Module, args: object, output: object) -> None:
        self.forwards += module.training  # evaluation forwards run in eval mode

    def on_update_end(self, run: TrainState, updated: bool) -> None:
        groups = len(run.parts.optimizer.param_groups)
        self.per_update.append((LRWriteCounter.writes // groups, self.steps, self.forwards))
        LRWriteCounter.writes, self.steps, self.forwards = 0, 0, 0


def test_one_lr_write_and_one_step_per_accumulation_group(make_config, tmp_path):
    counter = CountUpdates()
    config = make_config("train.grad_accum_steps=3", "eval.every_steps=100")
    result = train(config, tmp_path / "run", callbacks=[counter])
    assert result.step == 8
    # One LR write per param group, one optimizer step, three micro-batch forwards.
    assert counter.per_update == [(1, 1, 3)] * 8


def test_logged_lr_equals_the_plan_at_every_step(make_config, tmp_path):
    config = make_config("train.max_steps=10", "schedule.warmup_steps=4")
    train(config, tmp_path / "run")
    header = read_records(tmp_path / "run", "header")[0]
    plan = Plan.from_list(header["plan"])
    assert plan == config.plan()
    records = read_records(tmp_path / "run", "train")
    assert [r["step"] for r in records] == list(range(10))
    for record in records:
        assert record["lr"] == plan.lr_at(record["step"])  # exact: the same closed form
    lrs = [r["lr"] for r in records]
    assert lrs[:5] == sorted(set(lrs[:5])) and lrs[4:] == sorted(set(lrs[4:]), reverse=True)


def test_outputs_follow_the_run_directory_contract(make_config, tmp_path):
    run_dir = tmp_path / "run"
    config = make_config()
    train(config, run_dir)
    assert (run_dir / "config.toml").read_text() == config.to_toml()
    assert (run_dir / "train.log").read_text().count("step ") >= 8
    names = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    assert names == ["best.pt", "checkpoint_step_0000004.pt", "checkpoint_step_0000008.pt"]
    state = load_checkpoint(run_dir / "checkpoints" / "checkpoint_step_0000008.pt")
    assert state["step"] == 8 and state["format_version"] == 1
    assert Plan.from_list(state["plan"]) == config.plan()
    assert state["config"] == config.to_dict()
    assert set(state["data_stats"]) and state["metrics"]["val_loss"] is not None
    val = read_records(run_dir, "val")
    assert [r["step"] for r in val] == [0, 4, 8]
    assert set(val[0]["psnr"]) == {"photography", "microscopy", "astronomy"}
    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"scalars": 0}).Reload()
    assert [e.step for e in events.Scalars("train/lr")] == list(range(8))
    assert [e.step for e in events.Scalars("val/loss")] == [0, 4, 8]


class PoisonLoss(Callback):
    """Makes the network output NaN at one update: a real non-finite loss."""

    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_train_start(self, run: TrainState) -> None:
        def hook(module, args, output):
            return output * math.nan if run.step == self.at_step else output

        run.parts.net.register_forward_hook(hook)


def test_non_finite_loss_is_skipped_logged_and_never_best(make_config, tmp_path):
    run_dir = tmp_path / "run"
    config = make_config("train.max_steps=8", "eval.every_steps=1")
    result = train(config, run_dir, callbacks=[PoisonLoss(at_step=5)])
    assert result.step == 8 and result.skipped_updates == 1
    records = {r["step"]: r for r in read_records(run_dir, "train")}
    assert records[4]["skipped_updates"] == 0 and records[5]["skipped_updates"] == 1
    assert math.isnan(float(records[5]["loss"]))  # the skipped update has no finite loss
    assert all(math.isfinite(records[s]["loss"]) for s in (6, 7))  # training went on
    assert "update 5 skipped" in (run_dir / "train.log").read_text()
    best = load_checkpoint(run_dir / "checkpoints" / "best.pt")
    for weights in (best["model"], best["ema"]):
        assert all(torch.isfinite(t).all() for t in weights.values() if t.is_floating_point())


class GradNormAtStep(Callback):
    """Measures the gradient norm the optimizer actually sees (a step pre-hook)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_train_start(self, run: TrainState) -> None:
        def measure(optimizer, args, kwargs):
            grads = [p.grad for g in optimizer.param_groups for p in g["params"]]
            self.norms.append(
                float(
                    torch.linalg.vector_norm(
                        torch.stack([torch.linalg.vector_norm(g) for g in grads if g is not None])
                    )
                )
            )

        run.parts.optimizer.register_step_pre_hook(measure)


def test_gradients_are_clipped_before_the_step(make_config, tmp_path):
    clipped, free = GradNormAtStep(), GradNormAtStep()
    train(make_config("optim.grad_clip_norm=0.05"), tmp_path / "a", callbacks=[clipped])
    train(make_config("optim.grad_clip_norm=0"), tmp_path / "b", callbacks=[free])
    assert len(clipped.norms) == len(free.norms) == 8
    assert max(clipped.norms) <= 0.05 * (1 + 1e-5)
    assert max(free.norms) > 0.05  # so the bound above is the clipping, not the data
    logged = [r["grad_norm"] for r in read_records(tmp_path / "a", "train")]
    assert max(logged) > 0.05  # the record keeps the norm before clipping


def test_refuses_to_overwrite_a_run_with_checkpoints(make_config, tmp_path):
    import pytest

    from unified_prior.errors import InputError

    train(make_config("train.max_steps=4"), tmp_path / "run")
    with pytest.raises(InputError, match="already holds checkpoints"):
        train(make_config("train.max_steps=4"), tmp_path / "run")
