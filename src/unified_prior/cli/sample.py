"""``uprior sample``: draw samples from a trained prior, per domain, as tiles and a PNG grid."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def sample(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint_step_*.pt or best.pt")],
    domain: Annotated[
        list[str], typer.Option("--domain", "-d", help="Domain to sample (repeatable).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write samples into.")],
    num: Annotated[int, typer.Option("--num", "-n", help="Samples per domain.")] = 16,
    steps: Annotated[int, typer.Option("--steps", help="Heun steps (2 evaluations each).")] = 32,
    churn: Annotated[float, typer.Option("--churn", help="EDM S_churn; 0 is the ODE.")] = 0.0,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same samples.")] = 0,
    raw: Annotated[bool, typer.Option("--raw", help="Raw weights instead of EMA.")] = False,
) -> None:
    """EDM sampler (Heun, ρ=7 levels) conditioned on each domain; writes
    OUT/<domain>/samples/sample_NNNN.pt and OUT/<domain>.png."""
    from unified_prior.prior.commands import write_samples

    for line in write_samples(
        checkpoint, domain, out, num=num, steps=steps, churn=churn, seed=seed, ema=not raw
    ):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("sample")(sample)
