"""Tiling: windows cover the image, blending is exact for pointwise maps, seams vanish."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from unified_prior.prior.tiling import tiled_apply, window_starts


@pytest.mark.parametrize(("size", "tile", "overlap"), [(64, 16, 4), (50, 16, 8), (16, 16, 4)])
def test_windows_cover_the_image_with_the_overlap(size: int, tile: int, overlap: int) -> None:
    starts = window_starts(size, tile, overlap)
    assert starts[0] == 0 and starts[-1] + tile == size
    assert all(b - a <= tile - overlap for a, b in itertools.pairwise(starts))


@pytest.mark.parametrize("shape", [(2, 1, 50, 37), (1, 4, 16, 16), (1, 1, 9, 30)])
def test_pointwise_maps_are_reproduced_exactly(shape: tuple[int, ...]) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = tiled_apply(lambda w: 2 * w + 1, x, tile=16, overlap=4, batch_size=3)
    torch.testing.assert_close(out, 2 * x + 1, rtol=0, atol=1e-12)


def test_a_local_filter_is_close_to_the_whole_image_result_in_the_interior() -> None:
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    kernel = torch.full((1, 1, 3, 3), 1 / 9, dtype=torch.float64)

    def blur(w: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(w, (1, 1, 1, 1), mode="replicate"), kernel)

    whole, tiled = blur(x), tiled_apply(blur, x, tile=16, overlap=6)
    # Window borders differ from the whole-image result; the ramps weight them down.
    assert (tiled - whole)[..., 2:-2, 2:-2].abs().max().item() < 0.05
    assert (tiled - whole).abs().mean().item() < 0.005
