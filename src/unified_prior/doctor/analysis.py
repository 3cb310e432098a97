"""Shared analyses the checks read: the loss trajectory and the applied LR.

The loss is smoothed robustly (medians, so one spike cannot move the best point): the
series is cut into at most ``MAX_BINS`` bins of equal point count, each bin becomes its
median, and a centred running median over ``WINDOW_BINS`` bins smooths what is left. This
keeps a million-point run as cheap as a hundred-point one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import CheckpointInfo, Evidence, Series
from unified_prior.schedules import Plan

MAX_BINS = 400
WINDOW_BINS = 5
#: Divergence: the loss at the end is at least this many times its best (TheDeepChecker's
#: "≥ 2× the minimum") — or, for losses that can be ≤ 0, has given back this share of the
#: improvement.
DIVERGENCE_FACTOR = 2.0
DIVERGENCE_REGAINED = 0.5
#: … and "the improvement" must be at least this share of the starting loss to count.
MIN_IMPROVEMENT = 0.10
#: A loss that ends less than this share above its best has not diverged, whatever else.
MIN_RISE = 0.05
#: An eval loss that ends this share above its best (and stays there) has diverged.
EVAL_RISE = 0.2
#: … and the rise is at least this many times the log's printed resolution (a rise of
#: 0.0001 in a 4-decimal log is rounding, however large relative to a tiny best).
EVAL_MIN_DIGITS = 10
#: Above this factor over the best, a divergence is an error; below, a warning.
ERROR_RISE_FACTOR = 2.0
#: Relative tolerance within which an applied LR "is" the plan's.
LR_RTOL = 0.02


def rolling_median(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median; the window shrinks at the ends instead of padding."""
    if window <= 1 or values.size <= 2:
        return values.copy()
    half = window // 2
    padded = np.concatenate([np.full(half, np.nan), values, np.full(half, np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    return np.nanmedian(windows, axis=1)


def binned_medians(series: Series, max_bins: int = MAX_BINS) -> tuple[np.ndarray, np.ndarray]:
    """(step, median value) of up to ``max_bins`` consecutive, equally populated bins."""
    n = len(series)
    if n <= max_bins:
        return series.steps.astype(np.float64), series.values.copy()
    edges = np.linspace(0, n, max_bins + 1).astype(np.int64)
    steps = np.empty(max_bins)
    values = np.empty(max_bins)
    for i in range(max_bins):
        lo, hi = edges[i], edges[i + 1]
        steps[i] = np.median(series.steps[lo:hi])
        values[i] = np.median(series.values[lo:hi])
    return steps, values


@dataclass(frozen=True)
class Trajectory:
    """The smoothed loss and the facts read off it."""

    metric: str
    raw: Series
    steps: np.ndarray
    smooth: np.ndarray

    @property
    def first_loss(self) -> float:
        return float(self.smooth[0])

    @cached_property
    def best_index(self) -> int:
        return int(np.argmin(self.smooth))

    @property
    def best_step(self) -> int:
        return round(float(self.steps[self.best_index]))

    @property
    def best_loss(self) -> float:
        return float(self.smooth[self.best_index])

    @property
    def final_step(self) -> int:
        return int(self.raw.steps[-1])

    @property
    def final_loss(self) -> float:
        """The smoothed loss over the last few bins (a single last point could be a spike);
        a sparse eval loss is its last evaluation (three would reach far back)."""
        if self.metric == "val_loss" and self.smooth.size < 50:
            return float(self.smooth[-1])
        return float(np.median(self.smooth[-min(3, self.smooth.size) :]))

    @cached_property
    def peak_after_best(self) -> tuple[int, float]:
        tail = self.smooth[self.best_index :]
        index = self.best_index + int(np.argmax(tail))
        return round(float(self.steps[index])), float(self.smooth[index])

    def value_at(self, step: float) -> float:
        """Smoothed loss at ``step`` (interpolated)."""
        return float(np.interp(step, self.steps, self.smooth))

    @cached_property
    def diverged(self) -> bool:
        """Did the loss rise after its best point and stay up until the end?"""
        if self.best_index >= self.smooth.size - 2:
            return False
        best, final, first = self.best_loss, self.final_loss, self.first_loss
        if best > 0 and final < best * (1.0 + MIN_RISE):
            return False  # a few per cent above the best is noise, not a divergence
        if (
            self.metric == "val_loss"
            and best > 0
            and final >= best * (1.0 + EVAL_RISE)
            and final - best >= EVAL_MIN_DIGITS * self.resolution
        ):
            # Generalisation got worse by a fifth and stayed so (the last evaluations, not
            # one bad one): worth saying even when it is a small share of the fall.
            tail = self.smooth[-min(3, self.smooth.size) :]
            if float(np.median(tail)) >= best * (1.0 + EVAL_RISE / 2):
                return True
        improvement = first - best
        regained = (final - best) / improvement if improvement > 0 else 0.0
        # Giving back half of a negligible improvement is noise on a flat loss (RUN004's
        # business), not a divergence.
        learned = improvement > MIN_IMPROVEMENT * abs(first) if first else improvement > 0
        if best > 0:
            # Doubling counts unless it is a sliver of a huge fall (100 → 1e-3 → 2e-3); a
            # loss that never fell (best at the start) and doubled did diverge.
            doubled = final >= DIVERGENCE_FACTOR * best
            return (doubled and (improvement <= 0 or regained >= 0.05)) or (
                learned and regained >= DIVERGENCE_REGAINED
            )
        return learned and regained >= DIVERGENCE_REGAINED

    @cached_property
    def resolution(self) -> float:
        """The smallest step between two logged values: what the log's rounding allows."""
        diffs = np.abs(np.diff(self.raw.values))
        diffs = diffs[diffs > 0]
        return float(diffs.min()) if diffs.size else 0.0

    @property
    def regained(self) -> float:
        """Share of the improvement (first → best) that the end gave back."""
        improvement = self.first_loss - self.best_loss
        return (self.final_loss - self.best_loss) / improvement if improvement > 0 else 0.0

    @cached_property
    def onset_level(self) -> tuple[float, str]:
        """The loss level that marks the divergence onset, and its name: 2× the best, or
        half the rise from the best to the end where that is lower (or the loss can be ≤ 0)."""
        best = self.best_loss
        half_rise = best + 0.5 * (self.final_loss - best)
        if best > 0 and DIVERGENCE_FACTOR * best <= half_rise:
            return DIVERGENCE_FACTOR * best, "2× best"
        return half_rise, "half the rise"

    @cached_property
    def onset_step(self) -> int | None:
        """First step after the best at which the smoothed loss reached ``onset_level``."""
        if not self.diverged:
            return None
        level, _ = self.onset_level
        tail = self.smooth[self.best_index :]
        above = np.nonzero(tail >= level)[0]
        index = self.best_index + int(above[0]) if above.size else self.smooth.size - 1
        return round(float(self.steps[index]))


#: An eval loss with at least this many finite points is the metric the run is judged on.
MIN_EVAL_POINTS = 4


def loss_trajectory(evidence: Evidence, *, prefer_eval: bool = True) -> Trajectory | None:
    """The loss the run is judged on, smoothed: the eval/val loss where it has at least
    ``MIN_EVAL_POINTS`` points (the best point and a divergence are about generalisation),
    else the training loss, else checkpoint losses. ``prefer_eval=False`` gives the
    training loss first (spikes and progress are training-loss facts)."""
    candidates: list[Series] = []
    names = ("val_loss", "loss") if prefer_eval else ("loss", "val_loss")
    for name in names:
        series = evidence.get(name)
        if series is None:
            continue
        if name == "val_loss" and prefer_eval and len(series.finite()) < MIN_EVAL_POINTS:
            continue
        candidates.append(series)
    if prefer_eval and not candidates and evidence.get("val_loss") is not None:
        candidates.append(evidence.series["val_loss"])
    stored = [
        (c.step, c.train_loss) for c in evidence.usable_checkpoints if c.train_loss is not None
    ]
    if stored:
        steps = np.array([s for s, _ in stored], dtype=np.int64)
        values = np.array([v for _, v in stored], dtype=np.float64)
        _, keep = np.unique(steps, return_index=True)
        candidates.append(Series("checkpoint train_loss", steps[keep], values[keep]))
    for series in candidates:
        finite = series.finite()
        if len(finite) >= 3:
            steps, values = binned_medians(finite)
            window = WINDOW_BINS if steps.size >= 3 * WINDOW_BINS else 1
            if series.name == "val_loss":
                # An eval loss is a mean over a fixed set, logged sparsely: a 5-point median
                # over 18 evaluations would move its best point by a quarter of the run.
                window = 3 if steps.size >= 50 else 1
            return Trajectory(series.name, finite, steps, rolling_median(values, window))
    return None


@dataclass(frozen=True)
class LrObservations:
    """The LR the run actually applied, at the steps where something recorded it."""

    steps: np.ndarray
    values: np.ndarray
    source: str

    def __len__(self) -> int:
        return int(self.steps.size)

    def at(self, step: float) -> float:
        return float(np.interp(step, self.steps, self.values))

    @property
    def constant(self) -> bool:
        lo, hi = float(self.values.min()), float(self.values.max())
        return lo > 0 and hi / lo <= 1.0 + LR_RTOL / 4


def applied_lr(evidence: Evidence) -> LrObservations | None:
    """Logged LR points, plus checkpoint param-group LRs at steps the log does not cover."""
    logged = evidence.get("lr")
    points: dict[int, float] = {}
    sources: list[str] = []
    if logged is not None:
        finite = logged.finite()
        points.update(zip(finite.steps.tolist(), finite.values.tolist(), strict=True))
        if len(finite):
            sources.append("logged LR")
    from_ckpt = [c for c in evidence.usable_checkpoints if c.lr is not None]
    added = 0
    for ckpt in from_ckpt:
        assert ckpt.lr_step is not None and ckpt.lr is not None
        if ckpt.lr_step not in points and math.isfinite(ckpt.lr):
            points[ckpt.lr_step] = ckpt.lr
            added += 1
    if added:
        sources.append(f"optimizer param groups of {added} checkpoint(s)")
    if not points:
        return None
    steps = np.array(sorted(points), dtype=np.int64)
    values = np.array([points[s] for s in steps.tolist()], dtype=np.float64)
    return LrObservations(steps, values, " + ".join(sources))


def plan_lr(
    declared: Declared, steps: np.ndarray, *, scale: float = 1.0, shift: int = 0
) -> np.ndarray:
    """The declared plan's LR at ``scale * steps - shift`` (clamped to >= 0)."""
    assert declared.plan is not None
    plan = declared.plan
    return np.array([plan.lr_at(max(0, round(scale * s) - shift)) for s in steps.tolist()])


def best_ratio(
    declared: Declared,
    obs: LrObservations,
    *,
    scale: float = 1.0,
    shift: int = 0,
    within_plan: bool = False,
) -> np.ndarray:
    """applied / plan at each observation, allowing the logging convention's lag of up to
    ``declared.step_slack`` steps; with ``within_plan``, NaN where ``scale * step`` is past
    the plan's end (what a scheduler does after its end differs by framework)."""
    assert declared.plan is not None
    plan = declared.plan
    slack = max(1, declared.step_slack)
    deltas = [0] + [d for k in range(1, slack + 1) for d in (-k, k)]
    end = plan.max_steps
    ratios = []
    for step, value in zip(obs.steps.tolist(), obs.values.tolist(), strict=True):
        if within_plan and round(scale * step) - shift > end:
            ratios.append(math.nan)
            continue
        best = math.inf
        for delta in deltas:
            target = max(0, round(scale * (step + delta)) - shift)
            planned = plan.lr_at(target)
            ratio = value / planned if planned > 0 else 1.0 if abs(value) <= 1e-12 else math.inf
            if abs(ratio - 1.0) < abs(best - 1.0):
                best = ratio
        ratios.append(best)
    return np.array(ratios)


def on_plan_clock(evidence: Evidence, declared: Declared, obs: LrObservations) -> LrObservations:
    """The applied LR on the clock the declared plan counts, without the points a
    framework's convention makes incomparable (``Declared.compare_from``).

    A plan in epochs against a log in steps is mapped through the logged epoch of each step
    (per-epoch schedulers hold one LR through an epoch); with no epoch logged the result is
    empty and the LR checks stay silent rather than compare different clocks."""
    steps, values = obs.steps, obs.values
    axis = getattr(evidence, "step_unit", "step")
    if axis not in ("step", "epoch") or (declared.unit == "step" and axis == "epoch"):
        # Record order, or epochs against a plan in steps: no common clock to compare on.
        return LrObservations(steps[:0], values[:0], obs.source)
    if declared.unit == "epoch" and axis != "epoch":
        epochs = evidence.get("epoch")
        if epochs is None or len(epochs) < 2:
            return LrObservations(steps[:0], values[:0], obs.source)
        at = np.floor(np.interp(steps, epochs.steps, epochs.values) + 1e-9).astype(np.int64)
        last = np.append(at[1:] != at[:-1], True)  # the last LR logged in each epoch
        steps, values = at[last], values[last]
    start = declared.compare_from
    if declared.skip_observed_warmup and values.size > 1:
        climb = 0
        while climb < values.size - 1 and values[climb + 1] > values[climb] * (1 + 1e-6):
            climb += 1
        if climb:
            start = max(start, int(steps[climb]) + 1)
    keep = steps >= start
    return LrObservations(steps[keep], values[keep], obs.source)


def calibrated(declared: Declared, obs: LrObservations) -> Declared:
    """``declared`` with its peak read off the log when the framework chose it
    (``peak_known`` False): the shape is then what is compared."""
    if declared.peak_known or declared.plan is None or not len(obs):
        return declared
    # The scale at the logging lag (±slack) that fits most points: YOLOv8 numbers epochs from
    # 1, so its epoch e holds the LR of plan epoch e - 1.
    best: tuple[float, float] = (-1.0, 1.0)
    slack = max(1, declared.step_slack)
    for lag in range(-slack, slack + 1):
        planned = plan_lr(declared, np.maximum(obs.steps + lag, 0))
        ok = planned > 0
        if not ok.any():
            continue
        ratios = obs.values[ok] / planned[ok]
        scale = float(np.median(ratios))
        if not (math.isfinite(scale) and scale > 0):
            continue
        fit = float(np.mean(np.abs(ratios / scale - 1.0) <= LR_RTOL))
        if fit > best[0]:
            best = (fit, scale)
    if best[0] < 0:
        return declared
    scale = best[1]
    seg = declared.plan.segments[0]
    plan = Plan.single(seg.spec, peak_lr=seg.peak_lr * scale, max_steps=declared.plan.max_steps)
    return replace(declared, plan=plan, peak_known=True)


def checkpoints_without_scheduler(evidence: Evidence) -> list[CheckpointInfo]:
    """Checkpoints whose optimizer shows no scheduler ever ran: no ``initial_lr``, no state."""
    return [
        c
        for c in evidence.usable_checkpoints
        if c.has_optimizer
        and c.group_lrs
        and not c.has_scheduler_state
        and c.plan is None
        and all(v is None for v in c.group_initial_lrs)
    ]
