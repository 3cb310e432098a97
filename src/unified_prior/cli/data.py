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


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
