"""``train()``: the training loop of the unified prior, on one clock.

``step`` counts update slots: each consumes ``grad_accum_steps`` micro-batches and ends in
one optimizer update, or in a skipped one when the loss or a gradient is not finite. The
plan, the sampler position, the per-step RNG, logging, evaluation and checkpoint names all
derive from it, which is what makes a resumed run bit-identical on CPU.
"""

from __future__ import annotations

import itertools
import logging
import math
import signal
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from unified_prior.config import RunConfig, write_config
from unified_prior.data import BatchStream, derive_seed
from unified_prior.errors import InputError
from unified_prior.evaluate import evaluate_fixed_noise
from unified_prior.schedules import Plan
from unified_prior.train import checkpoint as ckpt
from unified_prior.train import dist
from unified_prior.train.build import SEED_STEP, RunParts, build_run, optimizer_kind
from unified_prior.train.compiled import CompileTimer, compile_loss
from unified_prior.train.finite import FiniteCheck, Outcome, can_defer
from unified_prior.train.guard import ScheduleGuard
from unified_prior.train.metrics import Recorder, versions
from unified_prior.train.resume import ResumePoint, global_batch
from unified_prior.train.signals import StopRequest

log = logging.getLogger("unified_prior.train")

#: Edges of the sigma buckets for the per-noise-level training loss.
SIGMA_BUCKET_EDGES = (0.1, 0.5, 1.0, 2.0, 5.0)
SIGMA_BUCKET_NAMES = (
    f"<{SIGMA_BUCKET_EDGES[0]:g}",
    *(f"{lo:g}-{hi:g}" for lo, hi in itertools.pairwise(SIGMA_BUCKET_EDGES)),
    f">{SIGMA_BUCKET_EDGES[-1]:g}",
)


class Callback:
    """Hooks into the loop for extensions and tests; every method is optional."""

    def on_train_start(self, run: TrainState) -> None: ...
    def on_after_backward(self, run: TrainState) -> None: ...
    def on_update_end(self, run: TrainState, updated: bool) -> None: ...


@dataclass
class TrainState:
    """The live run, as callbacks see it."""

    config: RunConfig
    run_dir: Path
    ctx: dist.DistContext
    parts: RunParts
    plan: Plan
    step: int = 0
    skipped_updates: int = 0
    best_val_loss: float = math.inf
    best_step: int | None = None
    last_train_loss: float | None = None
    last_val_loss: float | None = None


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    step: int
    skipped_updates: int
    best_val_loss: float
    best_step: int | None
    stopped_by: str | None  # the signal's name when SIGINT/SIGTERM ended the run early


def train(
    config: RunConfig,
    run_dir: Path,
    resume: ResumePoint | None = None,
    *,
    callbacks: Sequence[Callback] = (),
) -> TrainResult:
    """Train ``config`` into ``run_dir``, fresh or from ``resume``; see DESIGN §3–§5."""
    run_dir = Path(run_dir)
    ctx = dist.init(config.train.device)
    if resume is None and ckpt.list_checkpoints(run_dir / "checkpoints"):
        raise InputError(
            f"--out {run_dir} already holds checkpoints; pass --resume auto to continue it "
            "or choose a new --out"
        )
    parts = build_run(config, ctx, resume.state["data_stats"] if resume else None)
    run = TrainState(config, run_dir, ctx, parts, resume.plan if resume else config.plan())
    if resume is not None:
        restore(run, resume.state)
    # Inputs are checked: from here on the run writes. A save that a kill interrupted left
    # its temp file behind; nothing else would ever remove it.
    stale = ckpt.remove_stale_temps(run_dir / "checkpoints") if ctx.is_main else []
    accum, device = config.train.grad_accum_steps, ctx.device
    max_norm = config.optim.grad_clip_norm or math.inf  # 0 disables clipping, norm still logged
    use_bf16 = config.train.precision == "bf16" and device.type == "cuda"
    if device.type == "cuda":
        # Every update has the same shapes: let cuDNN time its kernels once (EDM does too).
        torch.backends.cudnn.benchmark = True
    guard = ScheduleGuard(parts.optimizer, run.plan, step_fn=lambda: run.step).attach()
    loss_fn = compile_loss(parts.loss_fn, config.train.compile)
    compile_timer = CompileTimer(config.train.compile)
    finite = FiniteCheck(ctx, parts.optimizer, deferred=can_defer(ctx, parts.optimizer, callbacks))
    stream = BatchStream(
        parts.train_set,
        parts.sampler,
        start_step=run.step,
        grad_accum_steps=accum,
        seed=config.train.seed,
        num_workers=config.data.num_workers,
    )
    batches = iter(stream)
    recorder = Recorder(
        run_dir,
        enabled=ctx.is_main,
        tensorboard=config.log.tensorboard,
        progress=config.log.progress,
        start_step=run.step,
        total_steps=run.plan.max_steps,
        resumed=resume is not None,
    )
    window = LogWindow(device)
    with StopRequest() as stop, recorder:
        if ctx.is_main:
            write_config(config, run_dir / "config.toml")
        resume_info = resume.header() if resume is not None else None
        recorder.header(run.plan, header_config(run, use_bf16, finite.deferred), resume_info)
        if stale:
            note = (
                f"removed {len(stale)} temp file(s) of an interrupted checkpoint save: "
                + ", ".join(p.name for p in stale)
            )
            recorder.message(note, logging.WARNING)
            print(f"warning: {note}", file=sys.stderr)
        for warning in settings_warnings(run, use_bf16):
            recorder.message(warning, logging.WARNING)
        for callback in callbacks:
            callback.on_train_start(run)
        if resume is None:
            evaluate_and_keep_best(run, recorder)

        while run.step < run.plan.max_steps:
            started = time.perf_counter()
            # Set the learning rate from the plan; the guard re-checks it at optimizer.step().
            lr = run.plan.apply(parts.optimizer, run.step)
            torch.manual_seed(derive_seed(config.train.seed, SEED_STEP, run.step, ctx.rank))

            # Accumulate gradients over the update's micro-batches (DDP syncs only the last).
            parts.optimizer.zero_grad(set_to_none=True)
            loss_sum = torch.zeros((), device=device)
            for micro in range(accum):
                _, _, batch = next(batches)
                batch = batch.to(device)
                with (
                    dist.maybe_no_sync(parts.model, micro < accum - 1),
                    torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16),
                ):
                    per_sample, sigma = loss_fn(parts.model, batch)
                loss = per_sample.mean()
                (loss / accum).backward()
                loss_sum += loss.detach()
                window.add_sigma(sigma, per_sample)
            for callback in callbacks:
                callback.on_after_backward(run)

            # Clip and update the weights, unless the loss or a gradient is not finite (judged
            # on the host, or on the GPU with the host told later: see train/finite.py).
            grad_norm = torch.nn.utils.clip_grad_norm_(parts.net.parameters(), max_norm)
            verdict = finite.judge(run.step, dist.mean(ctx, loss_sum / accum), grad_norm)
            if verdict.go:
                parts.optimizer.step()  # a deferred verdict makes the fused kernel skip itself
                # Update the EMA once per optimizer step, never per micro-batch.
                parts.ema.update(parts.net, run.step, gate=verdict.gate)
            # Count skips once the host knows them (deferred: before whatever reads them next).
            force = compile_timer.pending or host_reads_after(config, run.step, run.plan.max_steps)
            account(run, recorder, window, finite.settle(force=force))
            seconds = time.perf_counter() - started
            window.time(seconds, compiling=compile_timer.first_update(seconds, recorder))
            for callback in callbacks:
                callback.on_update_end(run, bool(verdict.updated))  # host-judged with callbacks

            # Log the update just made; then evaluate and checkpoint the weights it produced.
            if run.step % config.log.every_steps == 0:
                window.reduce(ctx)  # per-sigma losses over every rank's samples
                record = window.flush(
                    run.step, lr, run.skipped_updates, global_batch(config, ctx.world_size)
                )
                run.last_train_loss = record["loss"]
                recorder.train(record)
            run.step += 1
            recorder.advance(run.step)
            done = run.step >= run.plan.max_steps
            if run.step % config.eval.every_steps == 0 or done:
                evaluate_and_keep_best(run, recorder)
            stopping = dist.any_true(ctx, stop.requested)
            if run.step % config.checkpoint.every_steps == 0 or done or stopping:
                account(run, recorder, window, finite.settle(force=True))  # skips are saved
                save_checkpoint(run, ckpt.checkpoint_name(run.step))
            if stopping:
                break

    guard.detach()
    del batches  # stops DataLoader workers
    stopped_by = signal.Signals(stop.signum).name if stop.signum is not None else None
    if stopped_by and ctx.is_main:
        log.warning("stopped by %s after step %d; checkpoint saved", stopped_by, run.step)
    dist.shutdown(ctx)
    return TrainResult(
        run_dir, run.step, run.skipped_updates, run.best_val_loss, run.best_step, stopped_by
    )


def header_config(run: TrainState, use_bf16: bool, deferred: bool) -> dict[str, Any]:
    """The resolved config plus the settings in effect, which may differ from the request."""
    config, ctx = run.config, run.ctx
    return {
        **config.to_dict(),
        "effective": {
            "device": str(ctx.device),
            "precision": "bf16" if use_bf16 else "fp32",
            "world_size": ctx.world_size,
            "global_batch_size": global_batch(config, ctx.world_size),
            "grad_clip_norm": config.optim.grad_clip_norm or None,
            "compile": config.train.compile,
            "optimizer": optimizer_kind(run.parts.optimizer),
            "finite_check": "deferred" if deferred else "every update",
            "versions": versions(),
        },
    }


def settings_warnings(run: TrainState, use_bf16: bool) -> list[str]:
    """Settings that will not do what a reader of the config would expect, said up front."""
    warnings = []
    constant = run.parts.train_set.stats.constant_components
    if constant:
        warnings.append(
            f"label component(s) {', '.join(constant)} are the same for every training tile: "
            "standardised to 0, they carry no information (give the domains distinct "
            "data.domains.<name> sensor values to use them)"
        )
    if run.config.train.precision == "bf16" and not use_bf16:
        warnings.append(
            f"train.precision='bf16' runs as fp32 on {run.ctx.device.type}: bf16 autocast is "
            "for CUDA only; the header records the precision in effect"
        )
    return warnings


def host_reads_after(config: RunConfig, step: int, max_steps: int) -> bool:
    """Whether the host reads the run's state after update ``step``: a train record, an
    evaluation or a checkpoint (a signal's checkpoint settles on its own)."""
    after = step + 1
    return (
        step % config.log.every_steps == 0
        or after % config.eval.every_steps == 0
        or after % config.checkpoint.every_steps == 0
        or after >= max_steps
    )


def account(
    run: TrainState, recorder: Recorder, window: LogWindow, outcomes: list[Outcome]
) -> None:
    """Book updates whose verdict the host now knows: the log window, skips and warnings."""
    for outcome in outcomes:
        window.add(outcome.loss, outcome.grad_norm, outcome.updated)
        if not outcome.updated:
            run.skipped_updates += 1
            recorder.message(
                f"update {outcome.step} skipped: loss {outcome.loss:.4g}, grad norm "
                f"{outcome.grad_norm:.4g} not finite; weights and EMA unchanged",
                logging.WARNING,
            )


def evaluate_and_keep_best(run: TrainState, recorder: Recorder) -> None:
    """Fixed-noise validation of raw and EMA weights (rank 0); ``best.pt`` by EMA loss."""
    save_best = False
    if run.ctx.is_main:
        cfg = run.config.eval
        tables = {
            name: evaluate_fixed_noise(
                net,
                run.parts.val_set,
                sigmas=cfg.sigmas,
                tiles_per_domain=cfg.tiles_per_domain,
                seed=cfg.seed,
                batch_size=run.config.train.batch_size,
                device=run.ctx.device,
            )
            for name, net in (("raw", run.parts.net), ("ema", run.parts.ema.module))
        }
        ema_loss = tables["ema"].mean_loss
        run.last_val_loss = ema_loss
        recorder.val(
            {
                "step": run.step,
                "val_loss": ema_loss,
                "val_loss_raw": tables["raw"].mean_loss,
                "psnr": tables["ema"].to_dict()["psnr"],
                "table": {name: table.to_dict() for name, table in tables.items()},
            }
        )
        improved = math.isfinite(ema_loss) and ema_loss < run.best_val_loss
        if improved and all_finite(run.parts.ema.module) and all_finite(run.parts.net):
            run.best_val_loss, run.best_step = ema_loss, run.step
            save_best = run.config.checkpoint.keep_best
    # Every rank joins the save (its barriers are collective), on rank 0's decision; the
    # all-reduce also keeps the other ranks from running ahead of rank 0's evaluation.
    if dist.any_true(run.ctx, save_best):
        save_checkpoint(run, ckpt.BEST_NAME, prune=False)


def all_finite(module: torch.nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in module.parameters())


def capture(run: TrainState) -> dict[str, Any]:
    """The complete state of the run after ``run.step`` updates (DESIGN §5)."""
    parts = run.parts
    return {
        "format_version": ckpt.FORMAT_VERSION,
        "step": run.step,
        "model": parts.net.state_dict(),
        "ema": parts.ema.state_dict(),
        "optimizer": parts.optimizer.state_dict(),
        "plan": run.plan.to_list(),
        "config": run.config.to_dict(),
        "data_stats": parts.train_set.stats.to_dict(),
        # Per-step generators are derived from (seed, step, rank); the global state is kept
        # too so nothing outside that scheme is lost.
        "rng": {"seed": run.config.train.seed, "torch": torch.get_rng_state()},
        "sampler": parts.sampler.state_dict(),
        "world_size": run.ctx.world_size,
        "metrics": {
            "train_loss": run.last_train_loss,
            "val_loss": run.last_val_loss,
            "best_val_loss": run.best_val_loss if math.isfinite(run.best_val_loss) else None,
            "best_step": run.best_step,
            "skipped_updates": run.skipped_updates,
        },
    }


def restore(run: TrainState, state: dict[str, Any]) -> None:
    """Load a checkpoint's state into the freshly built run."""
    parts = run.parts
    parts.net.load_state_dict(state["model"])
    parts.ema.load_state_dict(state["ema"])
    parts.optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"]["torch"])
    metrics = state["metrics"]
    run.step = int(state["step"])
    run.skipped_updates = int(metrics.get("skipped_updates", 0))
    best = metrics.get("best_val_loss")
    run.best_val_loss = math.inf if best is None else float(best)
    run.best_step = metrics.get("best_step")
    run.last_train_loss, run.last_val_loss = metrics.get("train_loss"), metrics.get("val_loss")


def save_checkpoint(run: TrainState, name: str, *, prune: bool = True) -> None:
    """Rank 0 writes atomically; all ranks wait so none runs ahead of a half-saved state."""
    dist.barrier(run.ctx)
    if run.ctx.is_main:
        directory = run.run_dir / "checkpoints"
        path = ckpt.save_atomic(capture(run), directory / name)
        log.info("saved %s", path)
        if prune:
            ckpt.prune(directory, run.config.checkpoint.keep_last)
    dist.barrier(run.ctx)


class LogWindow:
    """Statistics of the updates since the last train record.

    The per-sigma sums stay on the training device until a record is written: reading them
    back every micro-batch would make the host wait for the GPU inside the accumulation loop.
    """

    def __init__(self, device: torch.device) -> None:
        self.edges = torch.tensor(SIGMA_BUCKET_EDGES, device=device)
        self.reset()

    def reset(self) -> None:
        self.losses: list[float] = []
        self.grad_norms: list[float] = []
        self.bucket_sum = torch.zeros(len(SIGMA_BUCKET_EDGES) + 1, device=self.edges.device)
        self.bucket_count = torch.zeros_like(self.bucket_sum)
        self.seconds = 0.0  # in updates only: evaluation and checkpoints are not throughput
        self.updates = 0  # timed ones: a compiled run's first update is compilation
        self.compile_s: float | None = None

    def add_sigma(self, sigma: torch.Tensor, per_sample: torch.Tensor) -> None:
        index = torch.bucketize(sigma.detach().float(), self.edges)
        values = per_sample.detach().float()
        self.bucket_sum.index_add_(0, index, values)
        self.bucket_count.index_add_(0, index, torch.ones_like(values))

    def reduce(self, ctx: dist.DistContext) -> None:
        """Sum the per-sigma statistics over ranks (collective: every rank calls it)."""
        self.bucket_sum = dist.total(ctx, self.bucket_sum)
        self.bucket_count = dist.total(ctx, self.bucket_count)

    def time(self, seconds: float, *, compiling: bool) -> None:
        """Time one update; the one that compiled is kept out of the throughput."""
        if compiling:
            self.compile_s = seconds
            return
        self.updates += 1
        self.seconds += seconds

    def add(self, loss: float, grad_norm: float, updated: bool) -> None:
        if updated:
            self.losses.append(loss)
            self.grad_norms.append(grad_norm)

    def flush(self, step: int, lr: float, skipped: int, batch: int) -> dict[str, Any]:
        seconds = max(self.seconds, 1e-9)
        sums, counts = self.bucket_sum.tolist(), self.bucket_count.tolist()
        buckets = zip(SIGMA_BUCKET_NAMES, sums, counts, strict=True)
        by_sigma = {name: float(total / count) for name, total, count in buckets if count > 0}
        nan = float("nan")
        record = {
            "step": step,
            "loss": sum(self.losses) / len(self.losses) if self.losses else nan,
            "lr": lr,
            "grad_norm": sum(self.grad_norms) / len(self.grad_norms) if self.grad_norms else nan,
            "skipped_updates": skipped,
            "loss_by_sigma": by_sigma,
            "updates_per_s": self.updates / seconds if self.updates else nan,
            "images_per_s": self.updates * batch / seconds if self.updates else nan,
        }
        if self.compile_s is not None:
            record["compile_s"] = self.compile_s
        self.reset()
        return record
