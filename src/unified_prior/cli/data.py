"""``uprior data``: build tile datasets in the ``<root>/<domain>/<split>/*.pt`` layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

data_app = typer.Typer(
    name="data",
    help="Build tile datasets in the <root>/<domain>/<split>/*.pt layout.",
    no_args_is_help=True,
)


@data_app.command("sample")
def sample(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the tiles into.")],
    tile: Annotated[
        int, typer.Option("--tile", help="Tile size in pixels (packed pixels for photography).")
    ] = 64,
) -> None:
    """Cut scikit-image's bundled sample images into train/val tiles (no download)."""
    from unified_prior.data.sample import write_sample_dataset

    print(write_sample_dataset(out, tile=tile).describe())


@data_app.command("noisy")
def noisy(
    root: Annotated[Path, typer.Argument(help="Clean tiles: ROOT/<domain>/<split>/*.pt.")],
    photons_at_white: Annotated[
        float, typer.Option("--photons-at-white", help="Expected photons at x = 1.")
    ],
    read_noise: Annotated[
        float, typer.Option("--read-noise", help="Read noise std, normalised units.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the observations.")],
    seed: Annotated[int, typer.Option("--seed", help="Seed of the noise.")] = 0,
) -> None:
    """Seeded observations y = Poisson(A·x)/A + N(0, R²) of every tile, same layout and names."""
    from unified_prior.prior.noise import NoiseModel
    from unified_prior.prior.observations import write_noisy_dataset

    noise = NoiseModel(photons_at_white, read_noise)
    print(write_noisy_dataset(root, out, noise, seed=seed).describe())


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
