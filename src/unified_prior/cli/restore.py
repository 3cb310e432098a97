"""``uprior restore``: restore Poisson–Gaussian observations with a trained prior."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def restore(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint_step_*.pt or best.pt")],
    noisy: Annotated[list[Path], typer.Argument(help="Observation files (uprior data noisy).")],
    domain: Annotated[str, typer.Option("--domain", "-d", help="Domain of the observations.")],
    photons_at_white: Annotated[
        float, typer.Option("--photons-at-white", help="Expected photons at x = 1.")
    ],
    read_noise: Annotated[
        float, typer.Option("--read-noise", help="Read noise std, normalised units.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the restored files.")],
    method: Annotated[
        str, typer.Option("--method", help="posterior (sampling) or vst (Anscombe + prior).")
    ] = "posterior",
    steps: Annotated[int, typer.Option("--steps", help="Heun steps of posterior sampling.")] = 32,
    seed: Annotated[int, typer.Option("--seed", help="Seed of posterior sampling.")] = 0,
) -> None:
    """Restore noisy observations y = Poisson(A·x)/A + N(0, R²) with the prior.

    NOISY are tiles in normalised units (black level subtracted) or whole images, which are
    tiled with overlap and stitched; each result is OUT/<name> with 'restored' and 'metadata'.
    """
    from unified_prior.prior.commands import restore_files

    for line in restore_files(
        checkpoint,
        noisy,
        domain=domain,
        photons_at_white=photons_at_white,
        read_noise=read_noise,
        out=out,
        method=method,
        steps=steps,
        seed=seed,
    ):
        typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("restore")(restore)
