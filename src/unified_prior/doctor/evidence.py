"""What the readers found: metric series on one step axis, checkpoints, configs, resumes.

Readers stream records into a ``Sink``; ``Sink.finish()`` turns them into ``Evidence``, the
only thing the checks look at. Series are kept as numpy arrays sorted by step with one value
per step (the newest record wins, so a resumed run that re-logs steps shows what it did
last), which keeps a million-point run to a few tens of megabytes.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field, replace
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
    """A point where the run was restarted: a new header, a new event file, steps going back.

    ``kind`` is ``"resume"`` (the log continues from an earlier step: a resumed run) or
    ``"restart"`` (the step went back to where the log began: another run appended to the
    same file, told apart in ``Evidence.runs``).
    """

    step: int
    source: str
    policy: str | None = None
    kind: str = "resume"


@dataclass(frozen=True)
class InputSummary:
    """One file read: by which reader, how many records it gave and how many lines it skipped.

    ``clock`` is what its steps count: ``step`` (optimizer updates), ``epoch`` (no step was
    logged), ``record`` (neither: the order of the records).
    """

    path: str
    reader: str
    records: int
    skipped: int
    note: str = ""
    clock: str = "step"

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "reader": self.reader,
            "records": self.records,
            "skipped": self.skipped,
            **({"note": self.note} if self.note else {}),
            **({"clock": self.clock} if self.clock != "step" else {}),
        }


@dataclass
class RunInfo:
    """One run found in the inputs: the sources it was read from and its own series.

    ``Evidence.runs[0]`` is the run whose series are ``Evidence.series``; any other entry is
    a run that was *not* merged into it (another run appended in the same file, an unrelated
    run given alongside, a log whose clock cannot be aligned), with ``reason`` saying why.
    """

    sources: list[str]
    series: dict[str, Series]
    clock: str = "step"
    reason: str = ""

    @property
    def points(self) -> int:
        """Points of its loss (eval loss if no train loss is logged)."""
        for name in ("loss", "val_loss", "lr"):
            if name in self.series:
                return len(self.series[name])
        return 0

    def to_dict(self) -> dict[str, Any]:
        first = min((int(s.steps[0]) for s in self.series.values() if len(s)), default=None)
        last = max((int(s.steps[-1]) for s in self.series.values() if len(s)), default=None)
        return {
            "sources": self.sources,
            "clock": self.clock,
            "first_step": first,
            "last_step": last,
            "series": {name: len(s) for name, s in self.series.items()},
            **({"reason": self.reason} if self.reason else {}),
        }


#: Fewer loss points than this is "not enough data" (the checks decide what to say).
MIN_POINTS = 5


@dataclass
class Evidence:
    """Everything read from the inputs, normalised for the checks.

    ``series`` holds ``loss``, ``val_loss``, ``lr``, ``grad_norm``, and where logged
    ``epoch`` (the epoch at each step) and the summed parts (``loss/<key>``,
    ``val_loss/<key>``); ``other`` every other numeric key by its own name (eval metrics).
    ``step_unit`` is ``"epoch"`` when the steps are epochs (no step was logged), ``"record"``
    when they are the order of the records.
    """

    inputs: list[InputSummary]
    series: dict[str, Series]
    checkpoints: list[CheckpointInfo]
    configs: list[tuple[str, dict[str, Any]]]
    headers: list[Header]
    resumes: list[Resume]
    run_dirs: list[Path]
    other: dict[str, Series] = field(default_factory=dict)
    runs: list[RunInfo] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step_unit: str = "step"

    def get(self, name: str) -> Series | None:
        """The series ``name`` if it has at least one point."""
        series = self.series.get(name)
        return series if series is not None and len(series) else None

    @property
    def loss_points(self) -> int:
        """Points of the loss the checks judge (eval loss where no train loss is logged)."""
        found = self.get("loss") or self.get("val_loss")
        return len(found) if found is not None else 0

    @property
    def enough_data(self) -> bool:
        """Whether there are at least ``MIN_POINTS`` loss points to judge a trajectory on."""
        return self.loss_points >= MIN_POINTS

    @property
    def usable_checkpoints(self) -> list[CheckpointInfo]:
        """Checkpoints that loaded and carry a step, sorted by step."""
        found = [c for c in self.checkpoints if c.error is None and c.step is not None]
        return sorted(found, key=lambda c: (c.step, c.path.name))


#: Metrics whose step going back marks a resume or a restart.
_CLOCKED = ("loss", "lr", "val_loss")
#: At most this many step-goes-back events are recorded per stream: a shuffled log is not
#: a thousand resumes.
MAX_BREAKS = 50


class Sink:
    """Collects records from every reader in arrival order (later records win on a tie).

    Points are kept per *stream* (one file, or one folder of event files) and per run within
    it: a step that goes back to where the stream began starts a new run (another run
    appended to the same file); ``finish`` decides which streams and runs are one run.
    """

    def __init__(self) -> None:
        # (stream, run index) -> metric -> (steps, values)
        self._data: dict[tuple[str, int], dict[str, tuple[array[int], array[float]]]] = {}
        self._run: dict[str, int] = {}
        self._first: dict[str, int] = {}
        self._last_step: dict[tuple[str, str], int] = {}
        self._pending: dict[str, tuple[int, list[str]]] = {}
        self._breaks: dict[str, int] = {}
        self._clock: dict[str, str] = {}
        self._other: dict[tuple[str, int], dict[str, tuple[array[int], array[float]]]] = {}
        self.checkpoints: list[CheckpointInfo] = []
        self.configs: list[tuple[str, dict[str, Any]]] = []
        self.headers: list[Header] = []
        self.resumes: list[Resume] = []
        self.inputs: list[InputSummary] = []
        self.run_dirs: list[Path] = []
        self.notes: list[str] = []

    def set_clock(self, stream: str, clock: str) -> None:
        """Say what the steps of ``stream`` count: ``step``, ``epoch`` or ``record``."""
        self._clock[stream] = clock

    def first_step(self, stream: str) -> int | None:
        """The first step logged in ``stream`` so far."""
        return self._first.get(stream)

    def _buffers(self, stream: str, metric: str) -> tuple[array[int], array[float]]:
        key = (stream, self._run.get(stream, 0))
        per_metric = self._data.get(key)
        if per_metric is None:
            per_metric = self._data[key] = {}
        entry = per_metric.get(metric)
        if entry is None:  # not setdefault: that would build two arrays on every call
            entry = per_metric[metric] = (array("q"), array("d"))
        return entry

    def point(self, metric: str, step: int, value: float, stream: str = "") -> None:
        """Record ``metric`` = ``value`` at ``step``; a step going back marks a resume, or a
        restart when it goes back to where the stream began."""
        if stream not in self._first:
            self._first[stream] = step
        pending = self._pending.get(stream)
        if pending is None or pending[0] != step:
            pending = self._pending[stream] = (step, [])
        if metric in _CLOCKED:
            key = (stream, metric)
            last = self._last_step.get(key)
            if last is not None and step < last:
                self._went_back(stream, step, pending[1])
            self._last_step[key] = step
        pending[1].append(metric)
        steps, values = self._buffers(stream, metric)
        steps.append(step)
        values.append(value)

    def _went_back(self, stream: str, step: int, same_record: list[str]) -> None:
        if self._breaks.get(stream, 0) >= MAX_BREAKS:
            return
        self._breaks[stream] = self._breaks.get(stream, 0) + 1
        if step <= self._first[stream]:
            # Back to the start: another run. The metrics of this record already stored
            # belong to it too.
            old = self._data.get((stream, self._run.get(stream, 0)), {})
            self._run[stream] = self._run.get(stream, 0) + 1
            for metric in same_record:
                steps, values = old[metric]
                moved_step, moved_value = steps.pop(), values.pop()
                new_steps, new_values = self._buffers(stream, metric)
                new_steps.append(moved_step)
                new_values.append(moved_value)
            for key in [k for k in self._last_step if k[0] == stream]:
                del self._last_step[key]
            self.resumes.append(Resume(step, stream, kind="restart"))
        elif not self._resume_known(step, stream):
            self.resumes.append(Resume(step, stream))

    def extend(self, metric: str, steps: Any, values: Any, stream: str = "") -> None:
        """Record many points at once (numpy arrays, arrival order); used by the columnar
        readers. Steps going back are handled as in ``point``, record by record."""
        steps_i = np.asarray(steps, dtype=np.int64)
        values_f = np.asarray(values, dtype=np.float64)
        if steps_i.size == 0:
            return
        if metric in _CLOCKED or stream not in self._first:
            back = np.flatnonzero(steps_i[1:] < steps_i[:-1]) + 1
            last = self._last_step.get((stream, metric))
            if last is not None and steps_i[0] < last:
                back = np.concatenate([[0], back])
            if back.size:
                # Rare: fall back to one point at a time, which splits runs exactly.
                for step, value in zip(steps_i.tolist(), values_f.tolist(), strict=True):
                    self.point(metric, step, value, stream)
                return
        if stream not in self._first:
            self._first[stream] = int(steps_i[0])
        if metric in _CLOCKED:
            self._last_step[(stream, metric)] = int(steps_i[-1])
        buf_steps, buf_values = self._buffers(stream, metric)
        buf_steps.frombytes(steps_i.tobytes())
        buf_values.frombytes(values_f.tobytes())

    def start_run(self, stream: str, step: int) -> None:
        """Another run begins in ``stream`` (its step went back to where the stream began)."""
        self._run[stream] = self._run.get(stream, 0) + 1
        self.new_session(stream)
        self.resumes.append(Resume(step, stream, kind="restart"))

    def _other_buffers(self, key: str, stream: str) -> tuple[array[int], array[float]] | None:
        per = self._other.setdefault((stream, self._run.get(stream, 0)), {})
        entry = per.get(key)
        if entry is None:
            if len(per) >= MAX_OTHER_KEYS:
                return None
            entry = per[key] = (array("q"), array("d"))
        return entry

    def other(self, key: str, step: int, value: float, stream: str = "") -> None:
        """Record a numeric key that is none of the normalised metrics (an eval metric)."""
        entry = self._other_buffers(key, stream)
        if entry is not None:
            entry[0].append(step)
            entry[1].append(value)

    def other_many(self, key: str, steps: Any, values: Any, stream: str = "") -> None:
        """``other`` for whole arrays."""
        entry = self._other_buffers(key, stream)
        if entry is not None:
            entry[0].frombytes(np.asarray(steps, dtype=np.int64).tobytes())
            entry[1].frombytes(np.asarray(values, dtype=np.float64).tobytes())

    def new_session(self, stream: str) -> None:
        """Forget the last step of ``stream`` (a new header or file starts a new session)."""
        for key in [k for k in self._last_step if k[0] == stream]:
            del self._last_step[key]

    def _resume_known(self, step: int, stream: str) -> bool:
        return any(r.step == step and r.source == stream for r in self.resumes)

    def count(self) -> int:
        return sum(len(s) for per in self._data.values() for s, _ in per.values())

    def finish(self) -> Evidence:
        """Sort every series by step (newest value per step), decide which streams are one
        run, and keep the main run's series; the others go to ``Evidence.runs``."""
        from unified_prior.doctor.runs import group_runs, label

        streams = {key: _to_series(per) for key, per in self._data.items()}
        others = {key: _to_series(per) for key, per in self._other.items()}
        clocks = {key: self._clock.get(key[0], "step") for key in streams}
        runs, notes, continued = group_runs(streams, clocks)
        main = runs[0] if runs else RunInfo([], {}, "step")
        main_keys = {k for k in streams if label(k) in main.sources}
        other: dict[str, Series] = {}
        for key in [k for k in others if k in main_keys]:
            for name, found in others[key].items():
                other[name] = _merge([other[name], found]) if name in other else found
        resumes = sorted(
            {(r.step, r.source, r.kind): r for r in [*self.resumes, *continued]}.values(),
            key=lambda r: r.step,
        )
        return Evidence(
            inputs=_with_run_notes(self.inputs, runs),
            series=main.series,
            checkpoints=self.checkpoints,
            configs=self.configs,
            headers=self.headers,
            resumes=resumes,
            run_dirs=self.run_dirs,
            other=other,
            runs=runs,
            notes=self.notes + notes,
            step_unit=main.clock,
        )


def _with_run_notes(inputs: list[InputSummary], runs: list[RunInfo]) -> list[InputSummary]:
    """Say on each input (the report prints these notes) which of its runs is analysed and
    which are not, and why: another run appended in the file, an unrelated log."""
    if len(runs) < 2:
        return inputs
    said: dict[str, list[str]] = {}
    appended = {s.partition(" (run ")[0] for r in runs for s in r.sources if " (run " in s}
    for index, run in enumerate(runs):
        for source in run.sources:
            path, _, part = source.partition(" (run ")
            number = part.rstrip(")") if part else "1"
            which = f"run {number} of this log" if path in appended else "this log"
            if index == 0:
                text = f"{which} is the run analysed ({run.points} points)"
            else:
                text = f"{which} is not analysed ({run.points} points): {run.reason}"
            said.setdefault(path, []).append(text)
    out = []
    for summary in inputs:
        extra = said.get(summary.path) or said.get(str(Path(summary.path).parent)) or []
        if extra and "tfevents" in summary.path and summary.path not in said:
            extra = [t.replace("this log", "this folder's event files") for t in extra]
        note = "; ".join([n for n in (summary.note, *extra) if n])
        out.append(replace(summary, note=note) if extra else summary)
    return out


#: At most this many pass-through keys per stream (a log with thousands of keys is noise).
MAX_OTHER_KEYS = 64


def _to_series(per: dict[str, tuple[array[int], array[float]]]) -> dict[str, Series]:
    found: dict[str, Series] = {}
    for name, (steps_buf, values_buf) in per.items():
        if not steps_buf:
            continue
        steps = np.frombuffer(steps_buf, dtype=np.int64)
        values = np.frombuffer(values_buf, dtype=np.float64)
        found[name] = _newest_per_step(name, steps, values)
    return found


def _newest_per_step(name: str, steps: np.ndarray, values: np.ndarray) -> Series:
    """Sorted by step, one value per step: the last to arrive (a resumed run re-logs)."""
    if steps.size > 1 and not np.all(steps[1:] > steps[:-1]):
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
        last_of_run = np.append(steps[1:] != steps[:-1], True)
        steps, values = steps[last_of_run], values[last_of_run]
    return Series(name, steps.copy(), values.copy())


def _merge(parts: list[Series]) -> Series:
    """Series of one run from several sources, in arrival order (later wins on a step)."""
    steps = np.concatenate([p.steps for p in parts])
    values = np.concatenate([p.values for p in parts])
    return _newest_per_step(parts[0].name, steps, values)


def as_float(value: Any) -> float | None:
    """A number (or numeric string, ``nan``/``inf`` included) as float; anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:  # an integer past 1e308: JSON allows it, float() does not
            return math.copysign(math.inf, value)
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
