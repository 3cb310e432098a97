"""The report's plots as PNG bytes: the loss on a log axis with the best point, the divergence
and the checkpoints marked; the applied LR against the declared plan.

Figures are built with ``matplotlib.figure.Figure`` and the Agg canvas directly, not pyplot:
no global figure registry to leak or close, no backend switch as a side effect of importing
us, and it is safe to render from several threads. Each marked artist carries a ``gid``
(``best-point``, ``divergence``, ``checkpoints``, ``applied-lr``, ``declared-plan`` …) so
tests can find what was drawn instead of guessing from pixels.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

from unified_prior.doctor.diagnose import Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import Formatter

#: Raw points drawn at most (the smoothed curve carries the shape; this keeps PNGs small).
MAX_RAW_POINTS = 4000
#: Points at which the declared plan is evaluated for its curve.
PLAN_POINTS = 800
#: Pixels per inch: 9.6 in wide → 1056 px, the HTML report's content width, so the browser
#: shows the PNG at its native size and text stays sharp.
DPI = 110

#: The palette (colour-blind safe, Okabe–Ito); tests look for these in a screenshot.
LOSS_COLOR = "#0072b2"
APPLIED_COLOR = "#d55e00"
PLAN_COLOR = "#222222"
BEST_COLOR = "#009e73"
DIVERGENCE_COLOR = "#cc3311"
CHECKPOINT_COLOR = "#8c8c8c"
RESUME_COLOR = "#8e44ad"
NONFINITE_COLOR = "#cc3311"


def _thin(steps: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if steps.size <= MAX_RAW_POINTS:
        return steps, values
    index = np.linspace(0, steps.size - 1, MAX_RAW_POINTS).astype(np.int64)
    return steps[index], values[index]


def _step_label(value: float, _pos: object = None) -> str:
    """Axis ticks in updates: 25000 → 25K, 1500000 → 1.5M."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:g}M"
    if magnitude >= 1e3:
        return f"{value / 1e3:g}K"
    return f"{value:g}"


def _lr_label(value: float, _pos: object = None) -> str:
    """LR ticks without matplotlib's detached ×1e-4 offset: 1e-4, 5e-5, 2.5e-5, 0."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.2e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def _plain_label(value: float, _pos: object = None) -> str:
    """Log-axis ticks as plain numbers (0.1, 1, 10) rather than powers of ten."""
    return f"{value:g}"


def _plain_log_formatter() -> Formatter:
    """Matplotlib's choice of which minor log ticks get a label (only on short ranges),
    printed as 0.3 and 4 rather than 3×10⁻¹ and 4×10⁰."""
    from matplotlib.ticker import LogFormatter

    class PlainLogFormatter(LogFormatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return _plain_label(x) if super().__call__(x, pos) else ""

    return PlainLogFormatter()


def _figure(height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(9.6, height), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, which="major", color="#e5e7eb", lw=0.8)
    ax.set_axisbelow(True)
    ax.xaxis.set_major_formatter(FuncFormatter(_step_label))
    ax.set_xlabel("step (optimizer updates)")
    return fig, ax


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    # A fixed software tag keeps the bytes reproducible from one run to the next.
    fig.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _legend(ax: Axes) -> None:
    """One entry per label, in a row above the axes where it cannot hide the data."""
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    if unique:
        ax.legend(
            unique.values(),
            unique.keys(),
            loc="lower left",
            bbox_to_anchor=(0.0, 1.01),
            ncols=min(len(unique), 4),
            fontsize=8,
            frameon=False,
            handlelength=1.8,
            borderaxespad=0.0,
        )


def _mark_checkpoints(ax: Axes, report: Report) -> None:
    """A tick on the x axis for each checkpoint; a full-height line for the chosen one."""
    chosen = report.best.get("checkpoint")
    steps = [c.step for c in report.evidence.usable_checkpoints if c.step is not None]
    if steps:
        # x in data units, y in axes units: the ticks sit on the axis whatever the y scale.
        ax.plot(
            steps,
            [0.0] * len(steps),
            ls="none",
            marker="^",
            ms=6,
            color=CHECKPOINT_COLOR,
            transform=ax.get_xaxis_transform(),
            clip_on=False,
            zorder=3,
            label="checkpoint",
            gid="checkpoints",
        )
    for ckpt in report.evidence.usable_checkpoints:
        if ckpt.step is not None and str(ckpt.path) == chosen:
            ax.axvline(
                ckpt.step,
                color=BEST_COLOR,
                lw=1.4,
                zorder=1,
                label="best checkpoint",
                gid="best-checkpoint",
            )


def _mark_divergence(ax: Axes, report: Report, *, label: bool) -> None:
    traj = report.trajectory
    if traj is None or not traj.diverged or traj.onset_step is None:
        return
    ax.axvspan(
        traj.onset_step,
        traj.final_step,
        color=DIVERGENCE_COLOR,
        alpha=0.08,
        lw=0,
        zorder=0,
        label=f"diverged from {traj.onset_step:,}" if label else None,
        gid="divergence",
    )
    ax.axvline(
        traj.onset_step, color=DIVERGENCE_COLOR, lw=1.0, ls="--", zorder=1, gid="divergence-onset"
    )


def _mark_resumes(ax: Axes, report: Report) -> None:
    for resume in report.evidence.resumes:
        ax.axvline(
            resume.step, color=RESUME_COLOR, lw=1.0, ls="-.", zorder=1, label="resume", gid="resume"
        )


def loss_plot(report: Report) -> bytes | None:
    """PNG of the loss, or None when there is no loss series."""
    fig = loss_figure(report)
    return _png(fig) if fig is not None else None


def lr_plot(report: Report) -> bytes | None:
    """PNG of the applied vs the declared LR, or None when neither is known."""
    fig = lr_figure(report)
    return _png(fig) if fig is not None else None


def loss_figure(report: Report) -> Figure | None:
    """The loss on a log axis (linear when it can be <= 0) with the best point, the
    divergence, non-finite points, resumes and checkpoints marked; None without a loss."""
    traj = report.trajectory
    if traj is None:
        return None
    fig, ax = _figure(4.2)
    steps, values = _thin(traj.raw.steps, traj.raw.values)
    ax.plot(
        steps,
        values,
        color=LOSS_COLOR,
        alpha=0.25,
        lw=0.7,
        label=f"{traj.metric} (raw)",
        gid="loss-raw",
    )
    ax.plot(
        traj.steps,
        traj.smooth,
        color=LOSS_COLOR,
        lw=2.0,
        label=f"{traj.metric} (smoothed)",
        gid="loss-smooth",
    )
    _mark_divergence(ax, report, label=True)
    ax.plot(
        [traj.best_step],
        [traj.best_loss],
        "o",
        color=BEST_COLOR,
        mec="white",
        mew=1.5,
        ms=9,
        zorder=4,
        label=f"best {traj.best_loss:.3g} at {traj.best_step:,}",
        gid="best-point",
    )
    # Non-finite losses cannot sit on the curve: mark where they happened, on the top edge.
    series = report.evidence.get(traj.raw.name)
    if series is not None:
        bad = series.steps[~np.isfinite(series.values)]
        if bad.size:
            ax.plot(
                bad[:MAX_RAW_POINTS],
                [1.0] * min(bad.size, MAX_RAW_POINTS),
                ls="none",
                marker="x",
                ms=7,
                mew=1.8,
                color=NONFINITE_COLOR,
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                zorder=4,
                label=f"non-finite ({bad.size:,})",
                gid="non-finite",
            )
    _mark_resumes(ax, report)
    _mark_checkpoints(ax, report)
    if (traj.raw.values > 0).all():
        from matplotlib.ticker import FuncFormatter

        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(_plain_label))
        ax.yaxis.set_minor_formatter(_plain_log_formatter())
        ax.grid(True, which="minor", color="#f1f3f5", lw=0.6)
        ax.set_ylabel(f"{traj.metric} (log scale)")
    else:
        ax.set_ylabel(traj.metric)
    ax.set_xlim(left=min(0.0, float(traj.raw.steps[0])))
    _legend(ax)
    return fig


def lr_figure(report: Report) -> Figure | None:
    """The applied LR against the declared plan, with the best step, the divergence,
    resumes and checkpoints marked; None when neither an LR nor a plan is known."""
    from unified_prior.doctor.analysis import applied_lr

    obs = applied_lr(report.evidence)
    plan = report.declared.plan if report.declared is not None else None
    if obs is None and plan is None:
        return None
    fig, ax = _figure(3.6)
    end = 0
    if obs is not None:
        end = int(obs.steps[-1])
    if report.trajectory is not None:
        end = max(end, report.trajectory.final_step)
    if plan is not None:
        # Up to where the run got; the whole plan only when nothing says where that was.
        stop = end if end > 0 else plan.max_steps
        grid = np.unique(np.linspace(0, stop, PLAN_POINTS).astype(np.int64))
        ax.plot(
            grid,
            [plan.lr_at(int(s)) for s in grid],
            color=PLAN_COLOR,
            lw=1.4,
            ls="--",
            label="declared plan",
            gid="declared-plan",
        )
    if obs is not None:
        steps, values = _thin(obs.steps, obs.values)
        sparse = steps.size <= 60
        ax.plot(
            steps,
            values,
            "o-" if sparse else "-",
            color=APPLIED_COLOR,
            lw=1.8,
            ms=4.5,
            label=f"applied ({obs.source})",
            gid="applied-lr",
        )
    _mark_divergence(ax, report, label=False)
    if report.trajectory is not None:
        ax.axvline(
            report.trajectory.best_step, color=BEST_COLOR, lw=1.0, ls=":", zorder=1, gid="best-step"
        )
    _mark_resumes(ax, report)
    _mark_checkpoints(ax, report)
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0.0)
    ax.set_xlim(left=0.0)
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(_lr_label))
    _legend(ax)
    return fig
