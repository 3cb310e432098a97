"""A picture of a plan: LR against step, with warmup, rewarm and decay regions shaded."""

from __future__ import annotations

from pathlib import Path

from unified_prior.schedules.plan import Plan


def plot_plan(plan: Plan, path: Path, *, points: int = 2000, title: str | None = None) -> Path:
    """Write a PNG of ``plan`` to ``path`` (matplotlib, Agg backend) and return the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    total = plan.max_steps
    steps = sorted(
        {round(i * total / points) for i in range(points + 1)} | {s for _, s in plan.boundaries()}
    )
    lrs = [plan.lr_at(s) for s in steps]
    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    for index, seg in enumerate(plan.segments):
        end = plan.segments[index + 1].start_step if index + 1 < len(plan.segments) else total
        ramp_end = seg.start_step + max(seg.spec.warmup_steps, seg.rewarm_steps)
        if ramp_end > seg.start_step:
            label = "warmup" if seg.spec.warmup_steps >= seg.rewarm_steps else "rewarm"
            ax.axvspan(
                seg.start_step,
                ramp_end,
                color="tab:orange",
                alpha=0.15,
                label=label if index == 0 or label == "rewarm" else None,
            )
        if end > ramp_end:
            ax.axvspan(
                ramp_end, end, color="tab:blue", alpha=0.07, label="decay" if index == 0 else None
            )
        if index:
            ax.axvline(
                seg.start_step, color="tab:red", ls="--", lw=1, label=f"replan at {seg.start_step}"
            )
    ax.plot(steps, lrs, color="black", lw=1.5, label="planned LR")
    ax.set_xlabel("step (completed optimizer updates)")
    ax.set_ylabel("learning rate")
    ax.set_title(title or plan.describe(), fontsize=8)
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
