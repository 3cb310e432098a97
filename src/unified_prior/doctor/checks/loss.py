"""The loss family: divergence after the best point (RUN001), spikes (RUN002), non-finite
values (RUN003), no progress (RUN004).

Anchors: Lightning's ``EarlyStopping(divergence_threshold, check_finite)``, llm-foundry's
``KillLossSpike`` and TheDeepChecker's loss checks (non-decreasing, ≥ 2× the minimum,
fluctuating); unlike them this reads a finished run and says where and how much.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from unified_prior.doctor.analysis import ERROR_RISE_FACTOR
from unified_prior.doctor.checks.base import Context, register
from unified_prior.doctor.evidence import Series
from unified_prior.doctor.findings import Finding, Severity, fmt_step

#: A spike: a point at least this many times the local median loss …
SPIKE_FACTOR = 3.0
#: … that the loss comes back from within this many points (else it is a divergence).
SPIKE_RECOVERY_POINTS = 20
#: No progress: the smoothed loss never got this far below where it started (the same share
#: below which a later rise is not called a divergence).
PROGRESS_MIN_GAIN = 0.03
#: … and a "best" within this share of the start is noise unless the end is below the start.
MAX_NOISE_GAIN = 0.10
#: A loss "stuck": at least this many trailing points (and this share of the run) all at
#: exactly one value — a collapse or a dead network, not a plateau (a plateau still moves).
STUCK_MIN_POINTS = 10
STUCK_MIN_SHARE = 0.3
MAX_LISTED_STEPS = 20


def _train_kept_falling(ctx: Context) -> tuple[bool, dict[str, float] | None]:
    """Whether the training loss kept falling (or held) after the eval loss's best point."""
    traj, train = ctx.trajectory, ctx.train_trajectory
    if traj is None or train is None or train.metric == traj.metric:
        return False, None
    at_best = train.value_at(traj.best_step)
    end = train.final_loss
    facts = {"train_at_best": at_best, "train_final": end}
    return (end <= at_best * 1.05 if at_best > 0 else end <= at_best), facts


@register("RUN001")
def divergence(ctx: Context) -> list[Finding]:
    traj = ctx.trajectory
    if traj is None or not traj.diverged:
        return []
    onset = traj.onset_step
    assert onset is not None
    peak_step, peak_loss = traj.peak_after_best
    best, final = traj.best_loss, traj.final_loss
    factor = final / best if best > 0 else float("nan")
    lasted = traj.final_step - onset
    rise = (
        (f"{factor:.1f}× its best" if best > 0 and factor >= 1.95 else f"{factor - 1:+.0%}")
        if best > 0
        else f"{final - best:+.4g} above its best"
    )
    overfit, train_facts = _train_kept_falling(ctx)
    severity: Severity = (
        "error"
        if (best > 0 and factor >= ERROR_RISE_FACTOR) or (best <= 0 and traj.regained >= 1.0)
        else "warning"
    )
    if traj.first_loss > best:
        fell = (
            f"The smoothed {traj.metric} fell from {traj.first_loss:.4g} to its best {best:.4g} "
            f"at step {fmt_step(traj.best_step)}"
        )
        gave_back = f"; it gave back {traj.regained:.0%} of the improvement"
    else:
        fell = (
            f"The smoothed {traj.metric} never fell below {best:.4g}, its value at step "
            f"{fmt_step(traj.best_step)}"
        )
        gave_back = ""
    level = {"2× best": "2× the best"}.get(traj.onset_level[1], traj.onset_level[1])
    message = (
        f"{fell}, then rose to {final:.4g} by step {fmt_step(traj.final_step)} "
        f"({rise}{gave_back}). It passed {level} at step {fmt_step(onset)} and stayed up for "
        f"the remaining {fmt_step(lasted)} steps; the highest smoothed value after the best "
        f"was {peak_loss:.4g} at step {fmt_step(peak_step)}."
    )
    if overfit and train_facts is not None:
        message += (
            f" Meanwhile the training loss kept falling ({train_facts['train_at_best']:.4g} "
            f"at step {fmt_step(traj.best_step)} → {train_facts['train_final']:.4g} at the "
            "end): consistent with overfitting — the model fits the training data better "
            "and generalises worse."
        )
        title = f"overfitting: {traj.metric} rose {rise} after step {fmt_step(traj.best_step)}"
    else:
        if train_facts is not None:
            message += (
                f" The training loss rose too ({train_facts['train_at_best']:.4g} → "
                f"{train_facts['train_final']:.4g}): the optimisation itself diverged."
            )
        title = f"{traj.metric} diverged after step {fmt_step(traj.best_step)}"
    message += (
        f" Severity {severity}: the end is {factor:.3g}× the best"
        f" (error from {ERROR_RISE_FACTOR:g}×)."
        if best > 0
        else ""
    )
    return [
        Finding(
            "RUN001",
            severity,
            title,
            message,
            evidence={
                "kind": "overfitting" if overfit else "divergence",
                "metric": traj.metric,
                "first_loss": traj.first_loss,
                "best_step": traj.best_step,
                "best_loss": best,
                "onset_step": onset,
                "onset_level": traj.onset_level[0],
                "onset_rule": traj.onset_level[1],
                "final_step": traj.final_step,
                "final_loss": final,
                "peak_step": peak_step,
                "peak_loss": peak_loss,
                "rise_factor": factor if best > 0 else None,
                "regained_fraction": traj.regained,
                "lasted_steps": lasted,
                **(train_facts or {}),
                "smoothing": "bin medians (≤400 bins) + running median of 5 bins",
            },
            steps=[traj.best_step, onset, traj.final_step],
        )
    ]


@register("RUN002")
def spikes(ctx: Context) -> list[Finding]:
    traj = ctx.train_trajectory
    if traj is None or len(traj.raw) < 3 * SPIKE_RECOVERY_POINTS:
        return []
    steps, values = traj.raw.steps, traj.raw.values
    baseline = np.interp(steps, traj.steps, traj.smooth)
    positive = baseline > 0
    candidates = np.nonzero(positive & (values >= SPIKE_FACTOR * baseline))[0]
    spikes_found: list[int] = []
    for index in candidates.tolist():
        # A spike rises above what came before it too: the first points of a steeply
        # falling loss are above the (later, lower) local median without being spikes.
        before = values[max(0, index - 5) : index]
        if before.size < 2 or values[index] < SPIKE_FACTOR * float(np.median(before)):
            continue
        after = values[index + 1 : index + 1 + SPIKE_RECOVERY_POINTS]
        # A spike comes back down; a loss that stays up is RUN001's business.
        if after.size and float(np.median(after)) < 1.5 * baseline[index]:
            spikes_found.append(index)
    if not spikes_found:
        return []
    worst = max(spikes_found, key=lambda i: values[i] / baseline[i])
    listed = [int(steps[i]) for i in spikes_found[:MAX_LISTED_STEPS]]
    return [
        Finding(
            "RUN002",
            "warning",
            f"{len(spikes_found)} loss spike(s)",
            f"{len(spikes_found)} point(s) of the {traj.metric} rose ≥{SPIKE_FACTOR:g}× above the "
            f"local median and came back; the largest was {values[worst]:.4g} at step "
            f"{fmt_step(steps[worst])} ({values[worst] / baseline[worst]:.1f}× the local median "
            f"{baseline[worst]:.4g}). Spikes that recur are what PaLM's rollback-and-skip and "
            f"llm-foundry's KillLossSpike act on: look at the batches and the LR there.",
            evidence={
                "count": len(spikes_found),
                "worst_step": int(steps[worst]),
                "worst_loss": float(values[worst]),
                "worst_factor": float(values[worst] / baseline[worst]),
                "threshold_factor": SPIKE_FACTOR,
            },
            steps=listed,
        )
    ]


@register("RUN003")
def non_finite(ctx: Context) -> list[Finding]:
    findings = []
    for name in ("loss", "val_loss", "grad_norm"):
        series = ctx.evidence.get(name)
        if series is None:
            continue
        bad = np.nonzero(~np.isfinite(series.values))[0]
        if bad.size == 0:
            continue
        first = int(series.steps[bad[0]])
        before = series.values[: bad[0]]
        last_finite = float(before[np.isfinite(before)][-1]) if np.isfinite(before).any() else None
        kinds = sorted({"NaN" if np.isnan(v) else "inf" for v in series.values[bad].tolist()})
        # A non-finite grad norm alone is often a skipped (scaled) update, not a broken run.
        severity: Severity = "error" if name != "grad_norm" else "warning"
        # A few isolated non-finite points in a run that went on finite to the end are
        # skipped updates (AMP overflow, a bad batch), not a broken run.
        recovered = bool(np.isfinite(series.values[-min(5, len(series)) :]).all())
        if recovered and bad.size <= max(1, 0.01 * len(series)):
            severity = "warning"
        findings.append(
            Finding(
                "RUN003",
                severity,
                f"non-finite {name} from step {fmt_step(first)}",
                f"{name} was {'/'.join(kinds)} at {bad.size} of {len(series)} logged steps, "
                f"first at step {fmt_step(first)}"
                + (
                    f" (the last finite value before it was {last_finite:.4g})"
                    if last_finite is not None
                    else ""
                )
                + ". Resume from a checkpoint before that step; check the LR, loss scaling and the "
                "batch at that step.",
                evidence={
                    "metric": name,
                    "first_step": first,
                    "count": int(bad.size),
                    "points": len(series),
                    "kinds": kinds,
                    "last_finite": last_finite,
                },
                steps=[int(s) for s in series.steps[bad[:MAX_LISTED_STEPS]].tolist()],
            )
        )
    return findings


def stuck_from(series: Series) -> tuple[int, float] | None:
    """(first step, value) of a trailing stretch where the loss is exactly one value."""
    finite = series.finite()
    values = finite.values
    n = values.size
    if n < STUCK_MIN_POINTS:
        return None
    last = values[-1]
    # Exactly one value up to the log's last printed digit (1e-4 relative).
    same = np.abs(values - last) <= 1e-4 * max(abs(float(last)), 1e-12)
    if values[0] > 0 and last < 0.25 * values[0]:
        return None  # converged near zero and printed with few digits: not a collapse
    if not same[-1]:
        return None
    differ = np.nonzero(~same)[0]
    start = int(differ[-1]) + 1 if differ.size else 0
    count = n - start
    if count < STUCK_MIN_POINTS or count < STUCK_MIN_SHARE * n:
        return None
    return int(finite.steps[start]), float(last)


def _stuck_finding(series: Series, where: str) -> Finding | None:
    found = stuck_from(series)
    if found is None:
        return None
    step, value = found
    count = int((series.finite().steps >= step).sum())
    return Finding(
        "RUN004",
        "warning",
        f"{series.name} stuck at exactly {value:.6g} from step {fmt_step(step)}{where}",
        f"The {series.name}{where} is exactly {value:.6g} at all {count} logged points from "
        f"step {fmt_step(step)} to {fmt_step(series.steps[-1])}: nothing is learning there. "
        "A loss frozen to the last digit is consistent with a collapsed model (constant "
        "output), parameters that no longer update (LR 0, frozen, NaN-skipped steps) or a "
        "logged value that is not recomputed.",
        evidence={"stuck_from": step, "value": value, "points": count, "run": where.strip()},
        steps=[step, int(series.steps[-1])],
    )


@register("RUN004")
def no_progress(ctx: Context) -> list[Finding]:
    found: list[Finding] = []
    # Runs the readers kept apart (appended in one file, given alongside) are judged too.
    for index, run in enumerate(getattr(ctx.evidence, "runs", [])[1:], start=2):
        series = run.series.get("loss")
        if series is not None:
            sources = ", ".join(Path(s).name for s in run.sources[:2])
            stuck = _stuck_finding(series, f" of run {index} ({sources})")
            if stuck is not None:
                found.append(stuck)
    traj = ctx.train_trajectory
    judged = ctx.trajectory
    if traj is None or len(traj.raw) < 10 or traj.diverged or (judged and judged.diverged):
        return found
    first, best = traj.first_loss, traj.best_loss
    gain = (first - best) / abs(first) if first != 0 else 0.0
    # Start against end, each the median of a tenth of the run: a noisy loss that never
    # moved has one lucky low point (its "best") but no trend.
    raw = traj.raw.values
    tenth = max(3, raw.size // 10)
    start, end = float(np.median(raw[:tenth])), float(np.median(raw[-tenth:]))
    trend = (start - end) / abs(start) if start != 0 else 0.0
    if gain >= PROGRESS_MIN_GAIN and not (trend < PROGRESS_MIN_GAIN and gain < MAX_NOISE_GAIN):
        stuck = _stuck_finding(traj.raw, "")
        return [*found, stuck] if stuck is not None else found
    return [
        *found,
        Finding(
            "RUN004",
            "warning",
            f"no progress in {fmt_step(traj.final_step - traj.raw.steps[0])} steps",
            f"The smoothed {traj.metric} started at {first:.4g} and its best was {best:.4g} "
            f"(a {gain:.1%} improvement over steps {fmt_step(traj.raw.steps[0])}–"
            f"{fmt_step(traj.final_step)}); the median of its last tenth is {trend:+.1%} "
            "against its first tenth. A run that does not learn is consistent with an LR far "
            "too low or too high, frozen parameters, or a loss that does not reach the model.",
            evidence={
                "first_loss": first,
                "best_loss": best,
                "improvement": gain,
                "start_to_end": trend,
                "threshold": PROGRESS_MIN_GAIN,
            },
            steps=[int(traj.raw.steps[0]), traj.final_step],
        ),
    ]
