"""One path from a table of columns to the sink, shared by every columnar reader (CSV, TSV,
JSON Lines, W&B exports, detectron2/DETR JSON logs, HF ``log_history``, YOLO ``results.csv``).

A table is its column names and, per column, float values with a mask of the cells that were
present. The names go through ``keys.layout`` once, so every format makes the same choice of
columns; then whole columns go to the sink with numpy, never a Python loop per row.

The clock: the step column if there is one (rows without a step take the last one seen),
else the epoch column (YOLO, timm, DETR log per epoch), else the row order. A step that goes
back splits the table: back to where the table began is another run appended to the file,
anywhere else a resume.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from unified_prior.doctor.evidence import Resume, Sink
from unified_prior.doctor.readers.keys import layout

#: Steps must be whole numbers a float64 holds exactly.
MAX_STEP = 2**53
_CLOCKED = ("loss", "lr", "val_loss")


@dataclass
class Column:
    """Float values and which cells were present (an empty CSV cell, a JSON key not given)."""

    values: np.ndarray
    present: np.ndarray


@dataclass(frozen=True)
class TableResult:
    records: int
    skipped: int
    clock: str
    note: str = ""


def _valid_steps(col: Column) -> np.ndarray:
    v = col.values
    with np.errstate(invalid="ignore"):
        ok = col.present & np.isfinite(v) & (v >= 0) & (v <= MAX_STEP)
        ok &= np.floor(np.where(ok, v, 0)) == np.where(ok, v, 0)
    return ok


def _forward_fill(steps: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows without a step take the last step seen; rows before any step stay invalid."""
    index = np.where(ok, np.arange(ok.size), -1)
    np.maximum.accumulate(index, out=index)
    filled = index >= 0
    return np.where(filled, steps[np.maximum(index, 0)], 0), filled


def _per_epoch_steps(steps: np.ndarray, ok: np.ndarray, epochs: Column) -> np.ndarray | None:
    """mmdet's ``*.log.json`` counts ``iter`` within each epoch: when every step that goes
    back does so where the epoch goes up, the global step is (epoch - first) × iterations
    per epoch + iter, the iterations per epoch read as the largest iter plus one interval."""
    rows = np.flatnonzero(ok & epochs.present & np.isfinite(epochs.values))
    if rows.size < 2:
        return None
    s, e = steps[rows], epochs.values[rows]
    back = s[1:] < s[:-1]
    if not back.any() or not np.all(e[1:][back] > e[:-1][back]):
        return None
    gaps = np.diff(s)[~back]
    interval = int(np.median(gaps[gaps > 0])) if (gaps > 0).any() else 1
    per_epoch = int(s.max()) + interval
    epoch_index = np.where(np.isfinite(epochs.values), epochs.values, e[0]) - e.min()
    return (np.maximum(epoch_index, 0).astype(np.int64) * per_epoch + steps).astype(np.int64)


def emit_table(
    sink: Sink,
    stream: str,
    names: list[str],
    columns: list[Column],
    *,
    rows_offset: int = 0,
    eval_rows: np.ndarray | None = None,
) -> TableResult:
    """Send a table to ``sink`` under ``stream``; see the module docstring. ``eval_rows``
    marks rows of an evaluation (mmdet's ``"mode": "val"``): their loss is an eval loss at
    the last training step before them."""
    n = columns[0].values.size if columns else 0
    plan = layout(tuple(names))
    by_name = dict(zip(names, columns, strict=True))
    if n == 0 or not plan.metrics:
        return TableResult(0, n, "step")
    clock = "step"
    per_epoch = False
    if plan.step is not None:
        col = by_name[plan.step]
        ok = _valid_steps(col)
        if eval_rows is not None:
            ok &= ~eval_rows
        if plan.epoch is not None:
            glob = _per_epoch_steps(
                np.where(ok, col.values, 0).astype(np.int64), ok, by_name[plan.epoch]
            )
            if glob is not None:
                col, per_epoch = Column(glob.astype(np.float64), col.present), True
        steps_f, ok = _forward_fill(col.values, ok)
    elif plan.epoch is not None and _valid_steps(by_name[plan.epoch]).any():
        clock = "epoch"
        col = by_name[plan.epoch]
        ok = _valid_steps(col)
        steps_f, ok = _forward_fill(col.values, ok)
    else:
        clock = "record"
        steps_f, ok = np.arange(rows_offset, rows_offset + n, dtype=np.float64), np.ones(n, bool)
    steps = steps_f.astype(np.int64)
    sink.set_clock(stream, clock)

    # Which rows carry a value of each normalised metric.
    values: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for metric, keys in plan.alternatives.items():
        c = by_name[keys[0]]
        vals, present = c.values, c.present
        for key in keys[1:]:  # rows without the best key take the next one
            alt = by_name[key]
            fill = ~present & alt.present
            if fill.any():
                vals, present = np.where(fill, alt.values, vals), present | fill
        values[metric] = (vals, present & ok)
    if eval_rows is not None:
        if "loss" in values and "val_loss" not in values:
            vals, present = values["loss"]
            values["val_loss"] = (vals, present & eval_rows)
            values["loss"] = (vals, present & ~eval_rows)
        for metric in ("loss", "lr", "grad_norm"):
            if metric in values:
                values[metric] = (values[metric][0], values[metric][1] & ~eval_rows)
    if not plan.summary:
        for metric, keys in plan.parts.items():
            cols = [by_name[k] for k in keys]
            present = np.logical_and.reduce([c.present for c in cols]) & ok
            values[metric] = (np.sum([c.values for c in cols], axis=0), present)
            for key, c in zip(keys, cols, strict=True):
                values[f"{metric}/{key}"] = (c.values, c.present & ok)
    else:
        values = {}
    if clock == "step" and plan.epoch is not None:
        c = by_name[plan.epoch]
        values["epoch"] = (c.values, c.present & ok & np.isfinite(c.values))
    any_metric = np.zeros(n, bool)
    for metric, (_, present) in values.items():
        if metric in ("loss", "val_loss", "lr", "grad_norm") or "/" in metric:
            any_metric |= present
    records = int(any_metric.sum())

    # Split where the clock goes back, judged on rows that carry a clocked metric.
    clocked = np.zeros(n, bool)
    for metric in _CLOCKED:
        if metric in values:
            clocked |= values[metric][1]
    rows = np.flatnonzero(clocked)
    cuts: list[int] = []
    if rows.size > 1:
        back = np.flatnonzero(steps[rows[1:]] < steps[rows[:-1]]) + 1
        cuts = rows[back].tolist()[:50]
    first = sink.first_step(stream)
    bounds = [0, *cuts, n]
    for start, stop in itertools.pairwise(bounds):
        if start > 0:
            step = int(steps[start])
            if first is not None and step <= first:
                sink.start_run(stream, step)
            else:
                sink.resumes.append(Resume(step, stream))
                sink.new_session(stream)
        for metric, (vals, present) in values.items():
            mask = present[start:stop]
            if mask.any():
                sink.extend(metric, steps[start:stop][mask], vals[start:stop][mask], stream)
        if first is None and rows.size:
            first = sink.first_step(stream)
    if not plan.summary:
        for key in plan.other:
            c = by_name[key]
            mask = c.present & ok & np.isfinite(c.values)
            if mask.any():
                sink.other_many(key, steps[mask], c.values[mask], stream)
    note = (
        f"iter counts within each epoch: step = epoch × {int(steps.max()) + 1:,}-ish + iter"
        if per_epoch
        else ""
    )
    return TableResult(records, n - records, clock, note)
