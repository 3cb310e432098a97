"""``uprior schedule``: show the LR plan a config would run, before a single update."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from unified_prior.cli.options import ConfigOption, SetOption
from unified_prior.config import load_config
from unified_prior.errors import InputError


def parse_steps(text: str, max_steps: int) -> list[int]:
    """``"0,10000,20000"`` → [0, 10000, 20000]; each must be an integer in [0, max_steps]."""
    steps = []
    for part in text.split(","):
        token = part.strip().lower().replace("_", "")
        scale = {"k": 1_000, "m": 1_000_000}.get(token[-1:], 1)
        try:
            step = round(float(token[:-1] if scale > 1 else token) * scale)
        except ValueError:
            raise InputError(f"--at {text!r}: {part!r} is not a step; use e.g. 0,20000,25k") from None
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

        print(f"wrote {plot_plan(plan, plot)}", flush=True)


def register(app: typer.Typer) -> None:
    app.command("schedule")(schedule)
