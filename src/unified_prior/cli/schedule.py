"""``uprior schedule``: show the LR plan a config would run, before a single update."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer

from unified_prior.cli.options import ConfigOption, SetOption
from unified_prior.config import load_config
from unified_prior.errors import InputError


def parse_steps(text: str, max_steps: int) -> list[int]:
    """``"0,10000,25k"`` → [0, 10000, 25000]; each must be a whole step in [0, max_steps]."""
    steps = []
    for part in text.split(","):
        token = part.strip().lower().replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(token[-1:], 1)
        try:
            value = float(token[:-1] if scale > 1 else token) * scale
        except ValueError:
            value = math.nan
        # A step is a count of updates: 2.5 or inf would silently become some other step.
        if not (math.isfinite(value) and value == int(value)):
            raise InputError(f"--at {text!r}: {part!r} is not a whole step; use e.g. 0,20000,25k")
        step = int(value)
        if not 0 <= step <= max_steps:
            raise InputError(f"--at: step {step} is outside [0, train.max_steps={max_steps}]")
        steps.append(step)
    return steps


def schedule(
    config: ConfigOption = None,
    set_: SetOption = None,
    at: Annotated[
        str | None, typer.Option("--at", help="Comma-separated steps, e.g. 0,20000,25k.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print [{step, lr}, ...].")] = False,
    plot: Annotated[Path | None, typer.Option("--plot", help="Write a PNG of the plan.")] = None,
) -> None:
    """Print the learning rate the config's plan gives at chosen (or key) steps."""
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError(f"--plot {plot}: the plot is a PNG; give a path ending in .png")
    cfg = load_config(config, set_)
    plan = cfg.plan()
    if at is not None:
        rows = [("", s) for s in parse_steps(at, plan.max_steps)]
    else:
        rows = plan.boundaries()
    if as_json:
        print(json.dumps([{"step": s, "lr": plan.lr_at(s)} for _, s in rows]))
    else:
        from rich.console import Console
        from rich.table import Table

        console = Console()
        console.print(f"plan: {plan.describe()}", highlight=False, soft_wrap=True)
        table = Table()
        table.add_column("step", justify="right")
        table.add_column("lr", justify="right")
        table.add_column("× peak", justify="right")
        if at is None:
            table.add_column("where")
        for name, step in rows:
            lr = plan.lr_at(step)
            cells = [f"{step:,}", f"{lr:.6e}", f"{lr / plan.base_lr:.4f}"]
            table.add_row(*cells, *([name] if at is None else []))
        console.print(table)
    if plot is not None:
        from unified_prior.schedules.plot import plot_plan

        try:
            written = plot_plan(plan, plot)
        except OSError as err:
            raise InputError(f"--plot {plot}: cannot write it ({err.strerror})") from None
        print(f"wrote {written}", flush=True)


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule)
