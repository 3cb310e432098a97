"""What the readers found: metric series on one step axis, checkpoints, configs, resumes.

Readers stream records into a ``Sink``; ``Sink.finish()`` turns them into ``Evidence``, the
only thing the checks look at. Series are kept as numpy arrays sorted by step with one value
per step (the newest record wins, so a resumed run that re-logs steps shows what it did
last), which keeps a million-point run to a few tens of megabytes.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: The normalised metric names every reader maps its keys onto.
METRICS = ("loss", "val_loss", "lr", "grad_norm")


@dataclass(frozen=True)
class Series:
    """One metric: ``values[i]`` was recorded at update ``steps[i]``; steps strictly increase."""

    name: str
    steps: np.ndarray
    values: np.ndarray

    def __len__(self) -> int:
        return int(self.steps.size)

    def finite(self) -> Series:
        """The points whose value is a finite number."""
        keep = np.isfinite(self.values)
        return Series(self.name, self.steps[keep], self.values[keep])

    def value_at(self, step: int) -> float:
        """Linear interpolation at ``step``, clamped to the first and last point."""
        return float(np.interp(step, self.steps, self.values))


@dataclass
class CheckpointInfo:
    """What a checkpoint file says about the run, read without unpickling code."""

    path: Path
    step: int | None
    train_loss: float | None = None
    val_loss: float | None = None
    group_lrs: list[float] = field(default_factory=list)
    group_initial_lrs: list[float | None] = field(default_factory=list)
    has_optimizer: bool = False
    has_scheduler_state: bool = False
    plan: list[dict[str, Any]] | None = None
    config: dict[str, Any] | None = None
    layout: str = "unknown"
    error: str | None = None

    @property
    def lr(self) -> float | None:
        """The LR of the first param group (the one the plan drives at scale 1)."""
        return self.group_lrs[0] if self.group_lrs else None

    @property
    def lr_step(self) -> int | None:
        """The update that used ``lr``. Our trainer writes the LR before each update and
        saves after it, so its checkpoints hold the LR of update ``step - 1``; torch
        schedulers step after the optimizer, so other checkpoints hold the next update's."""
        if self.step is None:
            return None
        return self.step - 1 if self.layout == "unified-prior" and self.step > 0 else self.step


@dataclass(frozen=True)
class Header:
    """A run header from our ``metrics.jsonl``: the plan as declared when (re)started."""

    source: str
    plan: list[dict[str, Any]] | None
    config: dict[str, Any] | None
    resume: dict[str, Any] | None


@dataclass(frozen=True)
class Resume:
    """A point where the run was restarted: a new header, a new event file, steps going back."""

    step: int
    source: str
    policy: str | None = None


@dataclass(frozen=True)
class InputSummary:
    """One file read: by which reader, how many records it gave and how many lines it skipped."""

    path: str
    reader: str
    records: int
    skipped: int
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reader": self.reader,
            "records": self.records,
            "skipped": self.skipped,
            **({"note": self.note} if self.note else {}),
        }


@dataclass
class Evidence:
    """Everything read from the inputs, normalised for the checks."""

    inputs: list[InputSummary]
    series: dict[str, Series]
    checkpoints: list[CheckpointInfo]
    configs: list[tuple[str, dict[str, Any]]]
    headers: list[Header]
    resumes: list[Resume]
    run_dirs: list[Path]

    def get(self, name: str) -> Series | None:
        """The series ``name`` if it has at least one point."""
        series = self.series.get(name)
        return series if series is not None and len(series) else None

    @property
    def usable_checkpoints(self) -> list[CheckpointInfo]:
        """Checkpoints that loaded and carry a step, sorted by step."""
        found = [c for c in self.checkpoints if c.error is None and c.step is not None]
        return sorted(found, key=lambda c: (c.step, c.path.name))


class Sink:
    """Collects records from every reader in arrival order (later records win on a tie)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[array[int], array[float]]] = {}
        self._last_step: dict[tuple[str, str], int] = {}
        self.checkpoints: list[CheckpointInfo] = []
        self.configs: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[Header] = []
        self.resumes: list[Resume] = []
        self.inputs: list[InputSummary] = []
        self.run_dirs: list[Path] = []

    def point(self, metric: str, step: int, value: float, stream: str = "") -> None:
        """Record ``metric`` = ``value`` at ``step``; a step going back marks a resume."""
        entry = self._data.get(metric)
        if entry is None:  # not setdefault: that would build two arrays on every call
            entry = self._data[metric] = (array("q"), array("d"))
        steps, values = entry
        steps.append(step)
        values.append(value)
        if metric in ("loss", "lr"):
            key = (stream, metric)
            last = self._last_step.get(key)
            if last is not None and step < last and not self._resume_known(step, stream):
                self.resumes.append(Resume(step, stream))
            self._last_step[key] = step

    def new_session(self, stream: str) -> None:
        """Forget the last step of ``stream`` (a new header or file starts a new session)."""
        for key in [k for k in self._last_step if k[0] == stream]:
            del self._last_step[key]

    def _resume_known(self, step: int, stream: str) -> bool:
        return any(r.step == step and r.source == stream for r in self.resumes)

    def count(self) -> int:
        return sum(len(s) for s, _ in self._data.values())

    def finish(self) -> Evidence:
        """Sort every series by step, keep the newest value per step, drop empty series."""
        series: dict[str, Series] = {}
        for name, (steps_buf, values_buf) in self._data.items():
            steps = np.frombuffer(steps_buf, dtype=np.int64) if steps_buf else np.empty(0, "i8")
            values = (
                np.frombuffer(values_buf, dtype=np.float64) if values_buf else np.empty(0, "f8")
            )
            if steps.size == 0:
                continue
            # Stable sort keeps arrival order within a step; the last of each run is newest.
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
            last_of_run = np.append(steps[1:] != steps[:-1], True)
            series[name] = Series(name, steps[last_of_run].copy(), values[last_of_run].copy())
        resumes = sorted(
            {(r.step, r.source): r for r in self.resumes}.values(), key=lambda r: r.step
        )
        return Evidence(
            inputs=self.inputs,
            series=series,
            checkpoints=self.checkpoints,
            configs=self.configs,
            headers=self.headers,
            resumes=resumes,
            run_dirs=self.run_dirs,
        )


def as_float(value: Any) -> float | None:
    """A number (or numeric string, ``nan``/``inf`` included) as float; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace(",", ""))
        except ValueError:
            return None
    try:  # 0-d tensors and numpy scalars
        item = value.item()
    except (AttributeError, ValueError, RuntimeError):
        return None
    return float(item) if isinstance(item, int | float) and not isinstance(item, bool) else None


def as_step(value: Any) -> int | None:
    """A non-negative whole number as a step; anything else None."""
    number = as_float(value)
    if number is None or not math.isfinite(number) or number < 0 or number > 2**53:
        return None
    if number != int(number):
        return None
    return int(number)
