"""Plots of a run from its own metrics.jsonl: loss (train and fixed-noise val) and LR."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unified_prior.schedules import Plan


def read_metrics(path: Path) -> tuple[list[Plan], list[dict[str, Any]], list[dict[str, Any]]]:
    """(plans from the headers, train records, val records) of a metrics.jsonl."""
    plans, train, val = [], [], []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            kind = record.get("kind")
            if kind == "header":
                plans.append(Plan.from_list(record["plan"]))
            elif kind == "train":
                train.append(record)
            elif kind == "val":
                val.append(record)
    return plans, train, val


def plot_run(run_dir: Path) -> list[Path]:
    """Write ``plots/loss.png`` and ``plots/lr.png`` for a run directory; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plans, train, val = read_metrics(run_dir / "metrics.jsonl")
    out = run_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)

    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    finite = [r for r in train if isinstance(r["loss"], float)]
    ax.plot([r["step"] for r in finite], [r["loss"] for r in finite], lw=1, label="train loss")
    ax.plot(
        [r["step"] for r in val],
        [r["val_loss"] for r in val],
        "o-",
        ms=3,
        label="fixed-noise val loss (EMA)",
    )
    ax.plot(
        [r["step"] for r in val],
        [r["val_loss_raw"] for r in val],
        "s--",
        ms=3,
        lw=1,
        label="fixed-noise val loss (raw)",
    )
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("EDM loss")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "loss.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    plan = plans[-1]
    steps = list(range(0, plan.max_steps + 1, max(1, plan.max_steps // 1000)))
    ax.plot(steps, [plan.lr_at(s) for s in steps], color="black", lw=1.5, label="plan")
    ax.plot(
        [r["step"] for r in train],
        [r["lr"] for r in train],
        "o",
        ms=3,
        color="tab:orange",
        label="applied (metrics.jsonl)",
    )
    for plan_segment in plan.segments[1:]:
        ax.axvline(plan_segment.start_step, color="tab:red", ls="--", lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "lr.png")
    plt.close(fig)
    return [out / "loss.png", out / "lr.png"]
