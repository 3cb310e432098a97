"""What the LR did, read off the applied LR series alone (no declared schedule needed).

``infer_schedule`` finds the warmup, the peak, how the LR came down (smoothly — linear or
cosine-like — or in step drops), where it reached its floor, and every discontinuity: an
upward jump or a warmup that starts again after the peak (what a resume without the
scheduler's state does), and drops. It then says whether the shape looks intended:

- warmup → decay to a floor at the end of the run, step drops, a constant LR: intended
  shapes (a constant LR is worth a note only when a schedule was declared: LR001's job);
- a rise after the peak that is not part of a regular cycle (SGDR restarts, cyclic LR): a
  resume that did not restore the scheduler, or changed its length (LR003);
- a smooth decay that reaches its floor at 1/k of the run and stays there (or turns back
  up, as HF's and torch's cosines do past their end): a scheduler stepped k× per update,
  e.g. per micro-batch under accumulation k, or a length counted in the wrong unit (LR002).

Thresholds are relative (ratios of consecutive LRs), so they hold at any LR scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: A rise of at least this factor between two logged LRs after the peak is a discontinuity.
JUMP_FACTOR = 1.05
#: At or above this factor a rise is an error; between JUMP_FACTOR and this, a warning.
BIG_JUMP_FACTOR = 1.25
#: A fall to at most this share in one interval is a drop (a step schedule or a restart).
DROP_FACTOR = 0.7
#: Constant: max/min within this.
CONSTANT_RTOL = 0.005
#: The LR is "at its floor" within this share of the peak above the lowest value.
FLOOR_BAND = 0.02
#: A smooth decay whose floor comes before this share of the run "finished early".
EARLY_SHARE = 0.8
#: Longer LR series are thinned evenly to this many points (the walk is per point).
MAX_POINTS = 20_000
#: Rises with intervals this regular (coefficient of variation) are a cycle, not resumes.
CYCLE_CV = 0.15


@dataclass
class LrEvent:
    """A discontinuity of the LR at ``step`` (the first observation after it)."""

    step: int
    kind: str  # "jump" (up), "restart" (warmup again), "drop" (down)
    before: float
    after: float

    @property
    def factor(self) -> float:
        return self.after / self.before if self.before > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "before": self.before,
            "after": self.after,
            "factor": self.factor if math.isfinite(self.factor) else None,
        }


@dataclass
class Inferred:
    """The schedule the LR series shows."""

    kind: str  # constant | warmup+constant | linear | cosine | step | decay | cyclic | unknown
    points: int
    first_step: int
    last_step: int
    peak_lr: float
    peak_step: int
    start_lr: float
    final_lr: float
    warmup_end_step: int | None = None
    floor_step: int | None = None
    floor_lr: float | None = None
    events: list[LrEvent] = field(default_factory=list)
    cyclic: bool = False
    looks_intended: bool = True
    why: str = ""

    @property
    def rises(self) -> list[LrEvent]:
        return [e for e in self.events if e.kind in ("jump", "restart", "rise")]

    @property
    def drops(self) -> list[LrEvent]:
        return [e for e in self.events if e.kind == "drop"]

    def finished_early(self, run_end: int | None = None) -> float | None:
        """k when a smooth decay reached its floor at 1/k of the run (k ≥ 1.25), else None."""
        if self.kind not in ("linear", "cosine", "decay") or self.floor_step is None:
            return None
        end = max(run_end or 0, self.last_step)
        if self.floor_step <= 0 or self.floor_step >= EARLY_SHARE * end:
            return None
        # The log must show the LR at its floor (or turning back up) for a while after it got
        # there: a log that ends while the LR is still falling is an unfinished run.
        wrapped = any(e.kind == "wrap" for e in self.events)
        held = self.last_step - self.floor_step
        if not wrapped and held < max(0.1 * end, 0.25 * self.floor_step):
            return None
        if self.floor_lr is not None and self.floor_lr > 0.2 * self.peak_lr:
            return None  # a floor at a fifth of the peak is a chosen floor, not an end
        return end / self.floor_step

    def summary(self) -> str:
        """One sentence: what the LR did."""
        lr = _fmt
        if self.kind == "constant":
            text = f"constant at {lr(self.peak_lr)} over {self.points} logged points"
        elif self.kind == "rising":
            text = (
                f"rose from {lr(self.start_lr)} to {lr(self.final_lr)} over the whole log "
                f"(steps {self.first_step:,}–{self.last_step:,}) without coming down"
            )
        else:
            parts = []
            if self.warmup_end_step is not None:
                parts.append(
                    f"warmed up from {lr(self.start_lr)} to {lr(self.peak_lr)} by step "
                    f"{self.warmup_end_step:,}"
                )
            else:
                parts.append(f"started at {lr(self.start_lr)} (peak {lr(self.peak_lr)})")
            shape = {
                "warmup+constant": "then stayed constant",
                "linear": "then decayed linearly",
                "cosine": "then decayed along a cosine",
                "step": f"then dropped in {len(self.drops)} step(s)",
                "decay": "then decayed",
                "cyclic": "then cycled",
                "rising": "and was still rising at the end",
            }.get(self.kind, "then moved irregularly")
            parts.append(shape)
            if self.floor_step is not None and self.kind in ("linear", "cosine", "decay"):
                parts.append(
                    f"reaching {lr(self.floor_lr or 0.0)} at step {self.floor_step:,}"
                    + (
                        f" and ending at {lr(self.final_lr)}"
                        if self.floor_lr is not None
                        and abs(self.final_lr - self.floor_lr) > 0.01 * self.peak_lr
                        else ""
                    )
                )
            else:
                parts.append(f"ending at {lr(self.final_lr)}")
            text = ", ".join(parts)
        rises = self.rises
        if rises and not self.cyclic:
            text += "; " + "; ".join(
                f"{'warmup restarted' if e.kind == 'restart' else 'rose'} at step {e.step:,} "
                f"({lr(e.before)} → {lr(e.after)}, ×{e.factor:.3g})"
                for e in rises
            )
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "summary": self.summary(),
            "looks_intended": self.looks_intended,
            "why": self.why,
            "points": self.points,
            "first_step": self.first_step,
            "last_step": self.last_step,
            "start_lr": self.start_lr,
            "peak_lr": self.peak_lr,
            "peak_step": self.peak_step,
            "warmup_end_step": self.warmup_end_step,
            "final_lr": self.final_lr,
            "floor_step": self.floor_step,
            "floor_lr": self.floor_lr,
            "cyclic": self.cyclic,
            "events": [e.to_dict() for e in self.events],
        }


def _fmt(value: float) -> str:
    text = f"{value:.4e}"
    mantissa, exponent = text.split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{exponent}"


def _events(steps: np.ndarray, values: np.ndarray, peak_index: int) -> list[LrEvent]:
    """Rises after the warmup's peak, warmup restarts, turns back up from the floor, drops.

    A rise is a run of consecutive increases: one interval is a ``jump``; after a sharp
    drop it is a ``restart`` (the warmup again); from the floor it is a ``wrap`` (the
    schedule ran past its end: HF's and torch's cosines turn back up there); otherwise a
    gradual ``rise``.
    """
    events: list[LrEvent] = []
    n = values.size
    lo, peak = float(values.min()), float(values[peak_index])
    floor_band = lo + 0.05 * (peak - lo)
    i = peak_index
    while i < n - 1:
        a, b = float(values[i]), float(values[i + 1])
        if b > a * (1 + 1e-9):
            j = i + 1
            while j < n - 1 and values[j + 1] > values[j] * (1 + 1e-9):
                j += 1
            top = float(values[j])
            # Rises of under 1% of the peak are rounding in the logged LR near its floor.
            if (a <= 0 or top >= JUMP_FACTOR * a) and top - a >= 0.01 * peak:
                prev = float(values[i - 1]) if i - 1 >= peak_index else a
                if a <= DROP_FACTOR * prev and prev - a >= 0.1 * peak and top >= 0.5 * prev:
                    # The drop was the start of a new warmup: report it where it dropped.
                    if events and events[-1].kind == "drop" and events[-1].step == int(steps[i]):
                        events.pop()
                    events.append(LrEvent(int(steps[i]), "restart", prev, a))
                elif a <= floor_band and j - i >= 2:
                    events.append(LrEvent(int(steps[i + 1]), "wrap", a, top))
                elif b >= JUMP_FACTOR * a:
                    events.append(LrEvent(int(steps[i + 1]), "jump", a, b))
                else:
                    events.append(LrEvent(int(steps[i + 1]), "rise", a, top))
            i = j
            continue
        if b <= DROP_FACTOR * a and a - b >= 0.1 * peak:
            events.append(LrEvent(int(steps[i + 1]), "drop", a, b))
        i += 1
    return events


def _regular(events: list[LrEvent], peak: float) -> bool:
    """A cyclic schedule, not resumes: ≥ 3 rises at regular (or geometrically growing,
    SGDR's ``T_mult``) intervals, or ≥ 2 abrupt jumps each back to the peak (warm
    restarts)."""
    to_peak = [e for e in events if e.kind == "jump" and e.after >= 0.9 * peak]
    if len(events) >= 2 and len(to_peak) == len(events):
        return True
    if len(events) < 3:
        return False
    gaps = np.diff([e.step for e in events]).astype(np.float64)
    if gaps.mean() > 0 and gaps.std() / gaps.mean() <= CYCLE_CV:
        return True
    growth = gaps[1:] / np.maximum(gaps[:-1], 1e-12)
    return bool(growth.size and growth.min() > 1.2 and growth.std() / growth.mean() <= CYCLE_CV)


def _shape(steps: np.ndarray, values: np.ndarray, peak: float, floor: float) -> str:
    """linear or cosine (or plain decay) for a smooth fall from ``peak`` to ``floor``."""
    if steps.size < 4 or peak <= floor:
        return "decay"
    x = (steps - steps[0]) / max(float(steps[-1] - steps[0]), 1.0)
    y = (values - floor) / (peak - floor)
    linear = float(np.mean(np.abs(y - (1.0 - x))))
    cosine = float(np.mean(np.abs(y - 0.5 * (1.0 + np.cos(np.pi * x)))))
    best = min(linear, cosine)
    if best > 0.05:
        return "decay"
    return "linear" if linear <= cosine else "cosine"


def infer_schedule(steps: np.ndarray, values: np.ndarray) -> Inferred | None:
    """The schedule ``values`` (LR at ``steps``, increasing) shows; None under 3 points."""
    keep = np.isfinite(values) & (values >= 0)
    steps, values = steps[keep].astype(np.int64), values[keep].astype(np.float64)
    if steps.size > MAX_POINTS:
        # Evenly thinned: a jump or a restart is a change of level, still there after.
        index = np.unique(np.linspace(0, steps.size - 1, MAX_POINTS).astype(np.int64))
        steps, values = steps[index], values[index]
    if steps.size < 3 or float(values.max()) <= 0:
        return None
    n = int(values.size)
    hi, lo = float(values.max()), float(values.min())
    base = Inferred(
        "unknown",
        n,
        int(steps[0]),
        int(steps[-1]),
        peak_lr=hi,
        peak_step=int(steps[int(np.argmax(values))]),
        start_lr=float(values[0]),
        final_lr=float(values[-1]),
    )
    if lo > 0 and hi / lo <= 1.0 + CONSTANT_RTOL:
        base.kind, base.why = "constant", "one LR throughout"
        return base
    # The warmup: the first climb to (nearly) the first peak.
    i = 0
    while i < n - 1 and values[i + 1] >= values[i] * (1 - 1e-9):
        i += 1
    peak_index = i
    if peak_index > 0 and values[0] < 0.9 * values[peak_index]:
        base.warmup_end_step = int(steps[peak_index])
    base.peak_lr = float(values[peak_index])
    base.peak_step = int(steps[peak_index])
    events = _events(steps, values, peak_index)
    base.events = events
    rises = base.rises
    base.cyclic = _regular(rises, base.peak_lr) or len(rises) > 6
    # The decay up to the first rise or turn (what happens after is judged as an event).
    turns = [e for e in events if e.kind in ("jump", "restart", "rise", "wrap")]
    stop = n if not turns else int(np.searchsorted(steps, turns[0].step))
    seg_steps, seg_values = steps[peak_index:stop], values[peak_index:stop]
    drops = [e for e in events if e.kind == "drop" and e.step < (turns[0].step if turns else 1e30)]
    tail_lo = float(seg_values.min()) if seg_values.size else base.peak_lr
    if seg_values.size >= 2 and tail_lo >= base.peak_lr * (1 - CONSTANT_RTOL):
        base.kind = "warmup+constant" if base.warmup_end_step is not None else "constant"
    elif drops and len(drops) <= 8 and _flat_between(seg_values):
        base.kind = "step"
    else:
        band = tail_lo + FLOOR_BAND * (base.peak_lr - tail_lo)
        at_floor = np.nonzero(seg_values <= band)[0]
        floor_index = int(at_floor[0]) if at_floor.size else seg_values.size - 1
        base.floor_step = int(seg_steps[floor_index])
        base.floor_lr = float(seg_values[floor_index])
        base.kind = _shape(
            seg_steps[: floor_index + 1], seg_values[: floor_index + 1], base.peak_lr, tail_lo
        )
        end = _fitted_end(base.kind, seg_steps, seg_values, base.peak_lr, tail_lo)
        if end is not None and abs(end - base.floor_step) <= 0.2 * max(base.floor_step, 1):
            base.floor_step, base.floor_lr = end, tail_lo
        base.final_lr = float(values[-1])
        if rises:
            base.floor_step = None  # the decay was cut short by the rise: no floor reached
    if peak_index == n - 1 and base.warmup_end_step is not None and n >= 5:
        # Still climbing at the last point: the warmup never ended within the log.
        base.kind, base.warmup_end_step = "rising", None
    if base.cyclic:
        base.kind = "cyclic"
    wraps = [e for e in events if e.kind == "wrap"]
    if len(wraps) >= 2 and not rises:
        # Back up from the floor again and again: a triangular/cyclic schedule — or one run
        # past its end k× (LR002 decides that against the accumulation a config gives).
        base.cyclic = True
    _judge(base)
    return base


def _fitted_end(
    kind: str, steps: np.ndarray, values: np.ndarray, peak: float, floor: float
) -> int | None:
    """Where a linear or cosine decay reaches its floor, from a fit of its middle part
    (the first point inside a band around the floor comes early on a cosine's flat end)."""
    if kind not in ("linear", "cosine") or peak <= floor:
        return None
    y = (values - floor) / (peak - floor)
    mid = (y >= 0.05) & (y <= 0.95)
    if mid.sum() < 3:
        return None
    progress = 1.0 - y[mid] if kind == "linear" else np.arccos(2.0 * y[mid] - 1.0) / np.pi
    slope, intercept = np.polyfit(steps[mid].astype(np.float64), progress, 1)
    if slope <= 0:
        return None
    end = (1.0 - intercept) / slope
    return round(end) if math.isfinite(end) and end > 0 else None


def _flat_between(values: np.ndarray) -> bool:
    """Whether the LR holds still between its drops (a step schedule)."""
    if values.size < 3:
        return True
    ratios = values[1:] / np.maximum(values[:-1], 1e-300)
    small = np.abs(ratios - 1.0) <= 0.01
    return float(np.mean(small)) >= 0.6


def _judge(inferred: Inferred) -> None:
    rises = inferred.rises
    if rises and not inferred.cyclic:
        inferred.looks_intended = False
        first = rises[0]
        inferred.why = (
            f"the LR rose after its peak at step {first.step:,} (×{first.factor:.3g}); "
            "schedules of these families only come down after the warmup"
            if first.kind == "jump"
            else f"the warmup started again at step {first.step:,}"
        )
        return
    if inferred.cyclic:
        inferred.why = "regular restarts: a cyclic schedule (e.g. cosine with restarts)"
        if inferred.kind != "cyclic":
            inferred.why = (
                "it returns from its floor again and again: a cyclic schedule (or one run "
                "past its end several times over)"
            )
        return
    if inferred.kind == "rising":
        inferred.looks_intended = False
        inferred.why = (
            "the LR rose over the whole log and never came down: a warmup longer than the "
            "run, consistent with a warmup counted in steps but stepped once per epoch "
            "(or a log cut short)"
        )
        return
    k = inferred.finished_early()
    if k is not None:
        inferred.looks_intended = False
        wrapped = any(e.kind == "wrap" for e in inferred.events)
        inferred.why = (
            f"the decay reached its floor at step {inferred.floor_step:,}, "
            f"1/{k:.2g} of the run, and the LR "
            + ("then turned back up (the schedule ran past its end)" if wrapped else "stayed there")
        )
        return
    inferred.why = {
        "constant": "one LR throughout",
        "warmup+constant": "warmup, then a constant LR",
        "step": "step drops, as step/multistep schedules make",
        "linear": "warmup and a linear decay to the end of the run",
        "cosine": "warmup and a cosine decay to the end of the run",
        "decay": "a monotone decay",
    }.get(inferred.kind, "")
