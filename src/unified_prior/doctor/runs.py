"""Which of the logs read are one run: the rules ``Sink.finish`` uses before anything is
judged, so that two different runs are never spliced into one series.

Each *stream* (one file, one folder of event files, or one of several runs appended to a
file) has its own series. Two streams are one run when

- they count the same clock (steps, epochs or record order: a log without steps cannot be
  aligned with one that has them), and
- one **continues** the other (it starts well after the other's start: a resumed session, a
  later ``version_N`` folder, a second event file), or both start together and **agree**
  where they overlap (the same run logged twice: ``metrics.csv`` and its event file, the
  ``trainer_state.json`` of a checkpoint and of the final folder).

Two streams that start together and disagree are different runs (two runs appended to one
file, two runs given side by side). The run with the most loss points is analysed;
the others are listed in ``Evidence.runs`` with the reason, and a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

import numpy as np

from unified_prior.doctor.evidence import Resume, RunInfo, Series

#: Streams whose values differ by more than this (median relative difference where they
#: overlap) are different runs.
AGREE_RTOL = 0.05
#: Copies of one log (a checkpoint's trainer_state.json, a CSV and its event file) agree to
#: rounding; two runs side by side that agree better than AGREE_RTOL are still two runs.
IDENTICAL_RTOL = 1e-3
#: A later stream whose loss differs by more than this where it overlaps the other is not
#: its resumed session (re-logged steps after a resume are close, not equal: other batches).
CONTINUE_RTOL = 0.25
#: A stream starting within this share of the other's span from its start "starts together".
START_TOGETHER = 0.10
_CLOCKED = ("loss", "val_loss", "lr")
_CLOCK_RANK = {"step": 2, "epoch": 1, "record": 0}


@dataclass
class _Group:
    keys: list[tuple[str, int]]
    series: dict[str, Series]
    clock: str
    reason: str = ""
    resumes: list[Resume] = field(default_factory=list)


def label(key: tuple[str, int]) -> str:
    """How a stream (and run within it) is named in reports."""
    stream, run = key
    return stream if run == 0 else f"{stream} (run {run + 1})"


def _merged(parts: list[Series]) -> Series:
    steps = np.concatenate([p.steps for p in parts])
    values = np.concatenate([p.values for p in parts])
    order = np.argsort(steps, kind="stable")
    steps, values = steps[order], values[order]
    keep = np.append(steps[1:] != steps[:-1], True)
    return Series(parts[0].name, steps[keep], values[keep])


def _disagreement(a: Series, b: Series) -> float | None:
    """Median relative difference of ``b`` against ``a`` where they overlap; None without
    an overlap."""
    a, b = a.finite(), b.finite()
    if not len(a) or not len(b):
        return None
    lo, hi = max(a.steps[0], b.steps[0]), min(a.steps[-1], b.steps[-1])
    if lo > hi:
        return None
    inside = b.steps[(b.steps >= lo) & (b.steps <= hi)]
    if inside.size > 64:
        inside = inside[np.linspace(0, inside.size - 1, 64).astype(int)]
    if inside.size == 0:
        return None
    mine = np.interp(inside, a.steps, a.values)
    theirs = np.interp(inside, b.steps, b.values)
    scale = np.maximum(np.maximum(np.abs(mine), np.abs(theirs)), 1e-12)
    return float(np.median(np.abs(mine - theirs) / scale))


def _folder(key: tuple[str, int]) -> PurePath:
    """The folder of a stream (an event-file stream is its folder already)."""
    path = PurePath(key[0])
    return path if not path.suffix or "tfevents" in path.name else path.parent


def _side_by_side(group: _Group, key: tuple[str, int] | None) -> bool:
    """Whether ``key`` lives in a folder beside (not inside, not above) the group's: two
    runs of one project (``run_a/``, ``run_b/``; ``version_0/``, ``version_1/``), not one run's
    checkpoint copy (``checkpoint-500/trainer_state.json`` inside the output folder)."""
    if key is None:
        return False
    mine = _folder(key)
    for other in (_folder(k) for k in group.keys):
        if mine == other or mine in other.parents or other in mine.parents:
            return False
    return True


def relation(
    group: _Group, series: dict[str, Series], clock: str, key: tuple[str, int] | None = None
) -> tuple[str, str]:
    """("same" | "continues" | "apart", why) for a stream against a group."""
    if clock != group.clock:
        return "apart", f"its steps count {clock}s, the other log's count {group.clock}s"
    common = [m for m in _CLOCKED if m in series and m in group.series]
    if not common:
        return "same", ""  # e.g. train and eval logged to separate files
    a, b = group.series[common[0]], series[common[0]]
    span = max(int(a.steps[-1] - a.steps[0]), int(b.steps[-1] - b.steps[0]), 1)
    if abs(int(b.steps[0]) - int(a.steps[0])) > START_TOGETHER * span:
        # One starts later: a resumed session, unless it overlaps the other and its loss
        # there is another run's (a resume re-logs close to what was logged before).
        for metric in ("loss", "val_loss"):
            if metric in series and metric in group.series:
                off = _disagreement(group.series[metric], series[metric])
                if off is not None and off > CONTINUE_RTOL:
                    return "apart", (
                        f"it overlaps steps {int(b.steps[0]):,}-{int(a.steps[-1]):,} of the "
                        f"other log and its {metric} differs there by {off:.0%} (median): a "
                        "different run"
                    )
                break
        return "continues", ""
    # Both start together: the same run logged twice agrees; judge on a loss, not the LR
    # (a resume without scheduler state changes the LR, never an unrelated run's loss).
    for metric in ("loss", "val_loss", "lr"):
        if metric in series and metric in group.series:
            off = _disagreement(group.series[metric], series[metric])
            if off is None:
                continue
            if off > AGREE_RTOL:
                return "apart", (
                    f"both start at step {int(b.steps[0]):,} and their {metric} differs by "
                    f"{off:.0%} (median) where they overlap: a different run"
                )
            if off > IDENTICAL_RTOL and _side_by_side(group, key):
                return "apart", (
                    f"both start at step {int(b.steps[0]):,} in folders side by side: another "
                    f"run of the same setup ({metric} within {off:.1%}), not one run"
                )
            return "same", ""
    return "same", ""


def group_runs(
    streams: dict[tuple[str, int], dict[str, Series]], clocks: dict[tuple[str, int], str]
) -> tuple[list[RunInfo], list[str], list[Resume]]:
    """Group streams into runs; the first returned run is the one to analyse."""
    groups: list[_Group] = []
    loose: list[tuple[tuple[str, int], dict[str, Series]]] = []
    for key, series in streams.items():
        if not any(m in series for m in (*_CLOCKED, "grad_norm")):
            loose.append((key, series))
            continue
        clock = clocks.get(key, "step")
        reasons: list[str] = []
        for group in groups:
            verdict, why = relation(group, series, clock, key)
            if verdict == "apart":
                reasons.append(why)
                continue
            if verdict == "continues":
                first = min(int(s.steps[0]) for s in series.values() if len(s))
                group.resumes.append(Resume(first, label(key)))
            group.keys.append(key)
            for name, found in series.items():
                old = group.series.get(name)
                group.series[name] = found if old is None else _merged([old, found])
            break
        else:
            groups.append(_Group([key], dict(series), clock, reasons[0] if reasons else ""))
    for key, series in loose:
        target = next((g for g in groups if g.keys[0][0] == key[0]), None)
        if target is None and groups:
            target = groups[0]
        if target is None:
            groups.append(_Group([key], dict(series), clocks.get(key, "step")))
            continue
        target.keys.append(key)
        for name, found in series.items():
            old = target.series.get(name)
            target.series[name] = found if old is None else _merged([old, found])
    if not groups:
        return [], [], []

    def size(item: tuple[int, _Group]) -> tuple[int, int, int]:
        index, group = item
        points = next((len(group.series[m]) for m in _CLOCKED if m in group.series), 0)
        # Real steps over epochs over record order; then most points; then the newest.
        return _CLOCK_RANK.get(group.clock, 0), points, index

    order = sorted(enumerate(groups), key=size, reverse=True)
    head = order[0][1]
    runs = [RunInfo([label(k) for k in head.keys], head.series, head.clock)]
    for _, group in order[1:]:
        why = relation(head, group.series, group.clock, group.keys[0])[1] or group.reason
        runs.append(RunInfo([label(k) for k in group.keys], group.series, group.clock, why))
    notes: list[str] = []
    main = runs[0]
    for run in runs[1:]:
        notes.append(
            f"{', '.join(run.sources)} is not the run analysed ({', '.join(main.sources)}): "
            f"{run.reason or 'a different run'}; it is listed separately ({run.points} points)"
        )
    resumes = [r for _, g in order[:1] for r in g.resumes]
    return runs, notes, resumes
