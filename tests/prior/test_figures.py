"""The demo's prior figures, on a real (tiny) checkpoint."""

from __future__ import annotations

from pathlib import Path

from unified_prior.prior.figures import write_demo_figures

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_figures_write_grids_per_domain_and_a_restoration_figure(
    tiny_checkpoint: Path, sample_root: Path, tmp_path: Path
) -> None:
    figures = write_demo_figures(tiny_checkpoint, sample_root, tmp_path, num=2, steps=2)
    assert [p.name for p in figures.sample_grids] == [
        "photography.png", "microscopy.png", "astronomy.png",
    ]  # fmt: skip
    for path in [*figures.sample_grids, figures.restoration]:
        assert path.read_bytes()[:8] == PNG
    assert len(list((tmp_path / "samples" / "astronomy" / "samples").glob("*.pt"))) == 2
