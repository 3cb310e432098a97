"""``uprior demo``: build sample tiles, train the tiny prior, evaluate, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from unified_prior.cli.options import SetOption


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Where tiles and the run go.")] = Path(
        "runs/demo"
    ),
    set_: SetOption = None,
) -> None:
    """The main job on the bundled sample data, in a few minutes on 2 CPU cores."""
    from unified_prior.demo import run_demo

    result = run_demo(out, overrides=set_)
    drop = 1 - result.last_val_loss / result.first_val_loss
    typer.echo("")
    typer.echo(f"run directory:   {result.run_dir}")
    typer.echo(f"best checkpoint: {result.best_checkpoint}")
    typer.echo(
        f"fixed-noise EMA val loss: {result.first_val_loss:.4f} at step 0 → "
        f"{result.last_val_loss:.4f} at the end ({drop:.0%} lower)"
    )
    typer.echo(f"plots:           {', '.join(str(p) for p in result.plots)}")
    typer.echo(f"samples:         {', '.join(str(p) for p in result.sample_grids)}")
    typer.echo(f"restoration:     {result.restoration_figure}")
    if result.report_dir is not None:
        typer.echo(f"doctor's report: {result.report_dir / 'report.md'} (and .html, .json)")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
