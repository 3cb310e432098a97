"""``uprior evaluate``: fixed-noise tables of checkpoints side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def evaluate(
    checkpoints: Annotated[list[Path], typer.Argument(help="checkpoint_step_*.pt or best.pt")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    data_root: Annotated[
        Path | None,
        typer.Option(
            "--data-root", help="Val tiles root, if not the run's data.root.", show_default=False
        ),
    ] = None,
) -> None:
    """Answer "is this checkpoint better than that one?" with the run's own val protocol."""
    from unified_prior.train.checkpoint_eval import evaluate_checkpoint

    results = [evaluate_checkpoint(path, data_root=data_root) for path in checkpoints]
    best = min(results, key=lambda r: r.ema.mean_loss)
    if as_json:
        print(
            json.dumps(
                {"checkpoints": [r.to_dict() for r in results], "best": str(best.path)}, indent=2
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    domains = list(results[0].ema.loss)
    sigmas = list(results[0].ema.loss[domains[0]])
    table = Table(title="fixed-noise validation: loss (PSNR gain over identity, dB), EMA | raw")
    table.add_column("domain")
    table.add_column("sigma", justify="right")
    for r in results:
        mark = " ★" if r is best else ""
        table.add_column(f"step {r.step}{mark}", justify="right")
    for domain in domains:
        for sigma in sigmas:
            cells = [
                f"{r.ema.loss[domain][sigma]:.4f} ({r.ema.psnr_gain_db[domain][sigma]:+.1f}) | "
                f"{r.raw.loss[domain][sigma]:.4f}"
                for r in results
            ]
            table.add_row(domain, f"{sigma:g}", *cells)
    table.add_row(
        "mean",
        "",
        *[f"{r.ema.mean_loss:.4f} | {r.raw.mean_loss:.4f}" for r in results],
        style="bold",
    )
    console.print(table)
    # soft_wrap: a path split over two lines cannot be pasted into the next command.
    console.print(
        f"better: {best.path} (EMA val loss {best.ema.mean_loss:.6f})",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
