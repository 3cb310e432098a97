"""What a run records about itself: metrics.jsonl, TensorBoard, train.log, progress.

``metrics.jsonl`` is the machine-readable truth the doctor reads: a header line per (re)start
with the plan and the resolved config, then train and val records keyed by the step clock.
On resume, records after the resume step (written by the interrupted run past its last
checkpoint) are dropped, as TensorBoard's ``purge_step`` does for events, so every step has
exactly one record.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

import unified_prior
from unified_prior.errors import WriteError, os_error_in, write_error
from unified_prior.schedules import Plan

log = logging.getLogger("unified_prior.train")

METRICS_NAME = "metrics.jsonl"


def versions() -> dict[str, str]:
    return {
        "uprior": unified_prior.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _json_safe(value: Any) -> Any:
    """NaN and inf as strings, since JSON has no such numbers and readers choke on them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def truncate_after(path: Path, step: int) -> int:
    """Drop train/val records with ``step > step`` from a metrics file; return how many."""
    if not path.exists():
        return 0
    kept, dropped = [], 0
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                dropped += 1  # a line cut short by a crash
                continue
            if record.get("kind") in ("train", "val") and record.get("step", 0) > step:
                dropped += 1
                continue
            kept.append(line if line.endswith("\n") else line + "\n")
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(kept), encoding="utf-8")
    os.replace(tmp, path)
    return dropped


class Recorder:
    """Writes the run's records; a no-op on ranks other than 0."""

    def __init__(
        self,
        run_dir: Path,
        *,
        enabled: bool,
        tensorboard: bool,
        progress: str,
        start_step: int,
        total_steps: int,
        resumed: bool,
    ) -> None:
        self.enabled = enabled
        self.run_dir = run_dir
        self.total_steps = total_steps
        self._file_handler: logging.Handler | None = None
        self._tb: Any = None
        self._progress: Any = None
        self._task: Any = None
        self._last_plain = time.monotonic()
        if not enabled:
            return
        with writing(run_dir):
            self._open(run_dir, tensorboard, progress, start_step, total_steps, resumed)

    def _open(
        self,
        run_dir: Path,
        tensorboard: bool,
        progress: str,
        start_step: int,
        total_steps: int,
        resumed: bool,
    ) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics_path = run_dir / METRICS_NAME
        if resumed:
            truncate_after(metrics_path, start_step)
        self._metrics = metrics_path.open("a", encoding="utf-8")
        self._file_handler = RunLogHandler(run_dir / "train.log")
        self._file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logging.getLogger("unified_prior").addHandler(self._file_handler)
        logging.getLogger("unified_prior").setLevel(logging.INFO)
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # purge_step drops events the interrupted run wrote after the resume point.
            self._tb = SummaryWriter(
                str(run_dir / "tb"), purge_step=start_step + 1 if resumed else None
            )
        mode = progress
        if mode == "auto":
            mode = "rich" if sys.stdout.isatty() else "plain"
        self.mode = mode
        if mode == "rich":
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}  {task.fields[rate]}"),
                TimeRemainingColumn(),
            )
            self._task = self._progress.add_task(
                "train", total=total_steps, completed=start_step, loss="-", lr="-", rate="-"
            )
            self._progress.start()

    def _write(self, record: dict[str, Any]) -> None:
        with writing(self.run_dir / METRICS_NAME):
            self._metrics.write(json.dumps(_json_safe(record)) + "\n")
            self._metrics.flush()

    def header(self, plan: Plan, config: dict[str, Any], resume: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        self._write(
            {
                "kind": "header",
                "plan": plan.to_list(),
                "config": config,
                "version": unified_prior.__version__,
                "versions": versions(),
                "resume": resume,
            }
        )
        log.info("plan: %s", plan.describe())

    def train(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._write({"kind": "train", **record})
        step = record["step"]
        if self._tb is not None:
            self._scalars_train(record, step)
        line = (
            f"step {step}/{self.total_steps} loss {record['loss']:.6f} lr {record['lr']:.6e} "
            f"grad_norm {record['grad_norm']:.4f} skipped {record['skipped_updates']} "
            f"{record['updates_per_s']:.2f} it/s"
        )
        log.info(line)
        if self._progress is not None:
            self._progress.update(
                self._task,
                completed=step + 1,  # the record is of update ``step``, now complete
                loss=f"{record['loss']:.4f}",
                lr=f"{record['lr']:.2e}",
                rate=f"{record['updates_per_s']:.2f} it/s",
            )
        elif self.mode == "plain":
            print(line, flush=True)

    def _scalars_train(self, record: dict[str, Any], step: int) -> None:
        with writing(self.run_dir / "tb"):
            for key in ("loss", "lr", "grad_norm", "updates_per_s", "images_per_s"):
                if isinstance(record.get(key), float | int):
                    self._tb.add_scalar(f"train/{key}", record[key], step)
            for bucket, value in record.get("loss_by_sigma", {}).items():
                self._tb.add_scalar(f"train/loss_sigma_{bucket}", value, step)

    def advance(self, completed: int) -> None:
        """Move the progress bar to ``completed`` updates; cheap, rich redraws on its own."""
        if self._progress is not None:
            self._progress.update(self._task, completed=completed)

    def val(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        self._write({"kind": "val", **record})
        if self._tb is not None:
            with writing(self.run_dir / "tb"):
                self._scalars_val(record)
        self.message(
            f"val step {record['step']}: EMA loss {record['val_loss']:.6f} "
            f"(raw {record['val_loss_raw']:.6f})"
        )

    def _scalars_val(self, record: dict[str, Any]) -> None:
        self._tb.add_scalar("val/loss", record["val_loss"], record["step"])
        self._tb.add_scalar("val/loss_raw", record["val_loss_raw"], record["step"])
        for domain, gain in record.get("psnr", {}).items():
            self._tb.add_scalar(f"val/psnr_gain_db/{domain}", gain, record["step"])

    def message(self, text: str, level: int = logging.INFO) -> None:
        if not self.enabled:
            return
        log.log(level, text)
        if self._progress is not None:
            self._progress.console.print(text, highlight=False)
        elif self.mode == "plain":
            print(text, flush=True)

    def close(self, *, failing: bool = False) -> None:
        """Close every file; a failure to flush one is a ``WriteError`` naming it, unless the
        run is already failing (then the first error is the one to report, alone)."""
        if not self.enabled:
            return
        errors: list[WriteError] = []

        def attempt(path: Path, close: Any) -> None:
            try:
                with writing(path):
                    close()
            except WriteError as err:
                errors.append(err)

        if self._progress is not None:
            self._progress.stop()
        if self._tb is not None:
            attempt(self.run_dir / "tb", self._tb.close)
        if hasattr(self, "_metrics"):
            attempt(self.run_dir / METRICS_NAME, self._metrics.close)
        if self._file_handler is not None:
            logging.getLogger("unified_prior").removeHandler(self._file_handler)
            attempt(self.run_dir / "train.log", self._file_handler.close)
        if errors and not failing:
            raise errors[0]

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close(failing=exc_type is not None)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """Turn an OS error while writing ``path`` into one ``WriteError`` line naming it."""
    try:
        yield
    except WriteError:
        raise
    except Exception as err:
        cause = os_error_in(err)
        if cause is None:
            raise
        raise write_error(cause, Path(cause.filename) if cause.filename else path) from None


class RunLogHandler(logging.FileHandler):
    """``train.log``. A line that cannot be written (disk full) is dropped quietly: logging's
    default prints a traceback per line, and the metrics file reports the error by name."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")

    def handleError(self, record: logging.LogRecord) -> None:
        pass
