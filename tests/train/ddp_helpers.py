"""Test-side launcher: ``train()`` with counting callbacks, run by ``torchrun`` (or alone).

    python -m torch.distributed.run --standalone --nproc_per_node 2 ddp_helpers.py \\
        --config FILE --out RUN --counts DIR [--set k=v ...]

Each rank writes ``DIR/rank{r}.json``: per update slot, the LR writes of every param group,
the optimizer steps, the training forwards, and after which forward each DDP gradient
all-reduce ran (a real all-reduce, through DDP's comm-hook API); plus every write this
process made under ``RUN`` (seen by a Python audit hook). The counting lives here, in the
tests, so the trainer carries no instrumentation.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.distributed.algorithms.ddp_comm_hooks import default_hooks
from torch.nn.parallel import DistributedDataParallel

from unified_prior.config import load_config
from unified_prior.train.loop import Callback, TrainResult, TrainState, train

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class LRWriteCounter(dict):  # type: ignore[type-arg]
    """A param group that counts writes of its ``lr`` (torch keeps groups as plain dicts)."""

    def __init__(self, group: dict[str, Any]) -> None:
        super().__init__(group)
        self.writes = 0

    def __setitem__(self, key: str, value: object) -> None:
        if key == "lr":
            self.writes += 1
        super().__setitem__(key, value)


class CountUpdates(Callback):
    """Per update slot: LR writes per group, optimizer steps, forwards, all-reduce points."""

    def __init__(self) -> None:
        self.steps = 0
        self.forwards = 0
        self.allreduce_after: list[int] = []  # the forward count when each bucket synced
        self.per_update: list[dict[str, Any]] = []
        self.groups: list[LRWriteCounter] = []

    def on_train_start(self, run: TrainState) -> None:
        opt = run.parts.optimizer
        self.groups = [LRWriteCounter(g) for g in opt.param_groups]
        opt.param_groups[:] = self.groups
        opt.register_step_post_hook(lambda *_: setattr(self, "steps", self.steps + 1))
        run.parts.net.register_forward_hook(self._count_forward)
        if isinstance(run.parts.model, DistributedDataParallel):
            # Unannotated on purpose: DDP rejects the string annotations that
            # ``from __future__ import annotations`` makes.
            def allreduce(state, bucket):  # type: ignore[no-untyped-def]
                self.allreduce_after.append(self.forwards)
                return default_hooks.allreduce_hook(None, bucket)  # type: ignore[arg-type]

            run.parts.model.register_comm_hook(None, allreduce)

    def _count_forward(self, module: torch.nn.Module, args: object, output: object) -> None:
        self.forwards += module.training  # evaluation forwards run in eval mode

    def on_update_end(self, run: TrainState, updated: bool) -> None:
        self.per_update.append(
            {
                "step": run.step,
                "updated": updated,
                "lr_writes": [g.writes for g in self.groups],
                "lr": [g["lr"] for g in self.groups],
                "optimizer_steps": self.steps,
                "forwards": self.forwards,
                "allreduce_after": self.allreduce_after,
            }
        )
        for group in self.groups:
            group.writes = 0
        self.steps, self.forwards, self.allreduce_after = 0, 0, []


def watch_writes(run_dir: Path, seen: list[str]) -> Callable[[str, tuple[Any, ...]], None]:
    """An audit hook that records every open-for-writing, mkdir, rename or remove under
    ``run_dir`` (torch's own C++ writers are not seen; the trainer hands them open files)."""
    root = os.path.abspath(run_dir)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(flags, int) and bool(flags & _WRITE_FLAGS)) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")
            )
            paths = [path] if writing else []
        elif event in ("os.mkdir", "os.remove", "os.rmdir", "os.truncate"):
            paths = [args[0]]
        elif event == "os.rename":  # os.replace raises this event too
            paths = [args[0], args[1]]
        else:
            return
        for path in paths:
            if isinstance(path, str | os.PathLike) and os.path.abspath(path).startswith(root):
                seen.append(f"{event} {os.path.relpath(path, root)}")

    return hook


def run(config_path: Path, overrides: list[str], out: Path) -> tuple[TrainResult, CountUpdates]:
    counter = CountUpdates()
    result = train(load_config(config_path, overrides), out, callbacks=[counter])
    return result, counter


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--counts", type=Path, required=True)
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", "0"))
    writes: list[str] = []
    sys.addaudithook(watch_writes(args.out, writes))
    result, counter = run(args.config, args.overrides, args.out)
    args.counts.mkdir(parents=True, exist_ok=True)
    report = {
        "rank": rank,
        "world_size": int(os.environ.get("WORLD_SIZE", "1")),
        "step": result.step,
        "updates": counter.per_update,
        "writes": writes,
    }
    (args.counts / f"rank{rank}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
