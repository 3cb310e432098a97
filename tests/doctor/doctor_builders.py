"""Builders that write real runs to disk for the doctor's tests.

Every input is written the way the tool that produces it writes it: text logs line by line
in the original run's logging format, checkpoints with ``torch.save`` of a real model and a
real AdamW ``state_dict``, TensorBoard files with tensorboard's own ``SummaryWriter``, our run
directory with the real ``Plan`` in the ``metrics.jsonl`` header.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from unified_prior.schedules import CosineSpec, Plan

#: The original run (DESIGN §1): cosine + 20K warmup declared, 1e-4 applied throughout.
ORIGINAL_CONFIG: dict[str, Any] = {
    "learning_rate": 1e-4,
    "lr_scheduler": "cosine",
    "warmup_steps": 20000,
    "max_steps": 450000,
    "batch_size": 32,
    "weight_decay": 1e-3,
    "resolution": 128,
}
ORIGINAL_LAST_STEP = 90_000
ORIGINAL_LOG_EVERY = 500
ORIGINAL_CKPT_EVERY = 5000


def original_loss(step: int) -> float:
    """6.0 at 0 → 0.06 at 25K (geometric), then → 6.74 at 90K (geometric)."""
    if step <= 25_000:
        return 6.0 * 0.01 ** (step / 25_000)
    return 0.06 * (6.74 / 0.06) ** ((step - 25_000) / 65_000)


def _noisy(step: int, rng: np.random.Generator) -> float:
    # Multiplicative noise; none at the three anchor points so the story's numbers hold.
    noise = 1.0 if step in (0, 25_000, ORIGINAL_LAST_STEP) else float(np.exp(rng.normal(0, 0.04)))
    return original_loss(step) * noise


def write_original_log(path: Path, *, with_validation: bool = True) -> Path:
    """``2025-09-23 06:07:30,000 - __main__ - INFO - Step 24,500: Loss = 0.070587`` lines."""
    rng = np.random.default_rng(0)
    clock = datetime(2025, 9, 22, 12, 0, 0)
    lines = [f"{clock:%Y-%m-%d %H:%M:%S},000 - __main__ - INFO - Starting training"]
    for step in range(0, ORIGINAL_LAST_STEP + 1, ORIGINAL_LOG_EVERY):
        clock += timedelta(seconds=90)
        stamp = f"{clock:%Y-%m-%d %H:%M:%S},{step % 1000:03d}"
        lines.append(f"{stamp} - __main__ - INFO - Step {step:,}: Loss = {_noisy(step, rng):.6f}")
        if with_validation and step and step % ORIGINAL_CKPT_EVERY == 0:
            val = 1.1 * original_loss(step)
            lines.append(f"{stamp} - __main__ - INFO - Validation Loss: {val:.6f}")
            lines.append(f"{stamp} - __main__ - INFO - Saved checkpoint_step_{step:06d}.pth")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_model_and_adamw(lr: float = 1e-4) -> tuple[Any, Any]:
    """A real model and a real AdamW that has taken one step (so it has state)."""
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-3)
    loss = model(torch.randn(4, 8)).pow(2).mean()
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return model, optimizer


def write_original_checkpoints(folder: Path, config: dict[str, Any] | None = None) -> list[Path]:
    """``checkpoint_step_005000.pth`` … every 5K to 90K in the original key layout."""
    import torch

    config = ORIGINAL_CONFIG if config is None else config
    folder.mkdir(parents=True, exist_ok=True)
    model, optimizer = tiny_model_and_adamw(ORIGINAL_CONFIG["learning_rate"])
    paths = []
    for step in range(ORIGINAL_CKPT_EVERY, ORIGINAL_LAST_STEP + 1, ORIGINAL_CKPT_EVERY):
        path = folder / f"checkpoint_step_{step:06d}.pth"
        torch.save(
            {
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "step": step,
                "config": dict(config),
                "train_loss": original_loss(step),
            },
            path,
        )
        paths.append(path)
    return paths


@dataclass(frozen=True)
class OriginalRun:
    root: Path
    log: Path
    checkpoints: Path


def cosine_plan(peak: float, warmup: int, max_steps: int) -> Plan:
    """The project's cosine (warmup from 1 %, floor 1 %): what the doctor assumes by default."""
    spec = CosineSpec(warmup_steps=warmup, warmup_start_factor=0.01, min_lr_ratio=0.01)
    return Plan.single(spec, peak_lr=peak, max_steps=max_steps)


def falling_loss(step: int, rng: np.random.Generator | None = None) -> float:
    base = 0.1 + 2.0 * math.exp(-step / 800)
    return base * (float(np.exp(rng.normal(0, 0.02))) if rng is not None else 1.0)


def write_run_dir(
    root: Path,
    plan: Plan,
    *,
    last_step: int,
    every: int = 10,
    lr_at: Callable[[int], float] | None = None,
    loss_at: Callable[[int], float] | None = None,
    checkpoint_steps: tuple[int, ...] = (),
    config: dict[str, Any] | None = None,
) -> Path:
    """Our run directory (DESIGN §5): metrics.jsonl with the header, config.toml, checkpoints."""
    import torch

    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    lr_at = lr_at or plan.lr_at
    loss_at = loss_at or (lambda s: falling_loss(s, rng))
    config = config or {
        "optim": {"learning_rate": plan.base_lr, "grad_clip_norm": 1.0},
        "schedule": plan.segments[0].spec.model_dump(),
        "train": {"max_steps": plan.max_steps, "batch_size": 8, "grad_accum_steps": 1},
    }
    header = {
        "kind": "header",
        "plan": plan.to_list(),
        "config": config,
        "version": "0.1.0",
        "resume": None,
    }
    lines = [json.dumps(header)]
    losses: dict[int, float] = {}
    for step in range(every, last_step + 1, every):
        # The trainer logs after update ``step`` completes: the LR of update ``step - 1``.
        losses[step] = loss_at(step)
        record = {
            "kind": "train",
            "step": step,
            "loss": losses[step],
            "lr": lr_at(step - 1),
            "grad_norm": 0.5,
            "skipped_updates": 0,
        }
        lines.append(json.dumps(record))
    (root / "metrics.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "config.toml").write_text(
        f"[optim]\nlearning_rate = {plan.base_lr}\n\n[train]\nmax_steps = {plan.max_steps}\n",
        encoding="utf-8",
    )
    if checkpoint_steps:
        model, optimizer = tiny_model_and_adamw(plan.base_lr)
        (root / "checkpoints").mkdir(exist_ok=True)
        for step in checkpoint_steps:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step - 1)
            state = {
                "format_version": 1,
                "step": step,
                "model": model.state_dict(),
                "ema": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "plan": plan.to_list(),
                "config": config,
                "metrics": {"train_loss": losses.get(step), "val_loss": None},
            }
            torch.save(state, root / "checkpoints" / f"checkpoint_step_{step:07d}.pt")
    return root


def write_tb_session(logdir: Path, points: dict[str, list[tuple[int, float]]]) -> Path:
    """One SummaryWriter session (one event file) holding ``tag → [(step, value)]``."""
    from torch.utils.tensorboard import SummaryWriter

    logdir.mkdir(parents=True, exist_ok=True)
    before = set(logdir.glob("*tfevents*"))
    writer = SummaryWriter(str(logdir), max_queue=10_000, flush_secs=3600)
    for tag, series in points.items():
        for step, value in series:
            writer.add_scalar(tag, value, step)
    writer.close()
    (created,) = set(logdir.glob("*tfevents*")) - before
    return created
