"""``uprior data sample``: the bundled sample dataset, written by the real CLI in a subprocess."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from hypothesis import given
from hypothesis import strategies as st

from unified_prior.data.sample import SOURCES, _srgb_to_linear

DOMAINS = {"photography": 4, "microscopy": 1, "astronomy": 1}

UPRIOR = [sys.executable, "-m", "unified_prior"]


def _files(root: Path, domain: str, split: str) -> list[Path]:
    return sorted((root / domain / split).glob("*.pt"))


def test_layout_channels_and_weights_only_loading(sample_run) -> None:
    root = sample_run.root
    assert sorted(p.name for p in root.iterdir()) == sorted(DOMAINS)
    for domain, channels in DOMAINS.items():
        assert sorted(p.name for p in (root / domain).iterdir()) == ["train", "val"]
        for split in ("train", "val"):
            files = _files(root, domain, split)
            assert files, f"no tiles in {domain}/{split}"
            for path in files:
                payload = torch.load(path, weights_only=True)
                tile = payload["clean_norm"]
                assert tile.dtype == torch.float32
                assert tuple(tile.shape) == (channels, 32, 32), path
                assert float(tile.min()) >= 0.0 and float(tile.max()) <= 1.0, path
                meta = payload["metadata"]
                assert meta["domain"] == domain and meta["split"] == split


def test_no_val_source_image_in_train(sample_run) -> None:
    for domain in DOMAINS:
        sources = {}
        for split in ("train", "val"):
            sources[split] = {
                torch.load(p, weights_only=True)["metadata"]["source"]
                for p in _files(sample_run.root, domain, split)
            }
        assert sources["train"] and sources["val"]
        assert not sources["train"] & sources["val"], domain
        assert sources["val"] == {f"skimage.data.{n}" for n in SOURCES[domain]["val"]}


def test_prints_counts_that_match_the_files(sample_run) -> None:
    out = sample_run.stdout
    total = 0
    for domain in DOMAINS:
        line = next(line for line in out.splitlines() if line.strip().startswith(domain))
        for split in ("train", "val"):
            match = re.search(rf"{split} (\d+)", line)
            assert match, line
            n = len(_files(sample_run.root, domain, split))
            assert int(match.group(1)) == n
            total += n
    assert f"total        {total} tiles" in out


def _tile_of(path: Path) -> tuple[np.ndarray, dict]:
    payload = torch.load(path, weights_only=True)
    return payload["clean_norm"].numpy(), payload["metadata"]


def test_photography_is_linear_rggb_packed_at_half_resolution(sample_run) -> None:
    # The documented normalisation, recomputed independently from the source image.
    path = _files(sample_run.root, "photography", "train")[5]
    tile, meta = _tile_of(path)
    rgb = getattr(skimage.data, meta["source"].removeprefix("skimage.data."))()[..., :3] / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    r0, c0 = meta["row"] * 32 * 2, meta["col"] * 32 * 2  # packed pixel = 2x2 sensor pixels
    window = linear[r0 : r0 + 64, c0 : c0 + 64]
    expected = np.stack(
        [window[0::2, 0::2, 0], window[0::2, 1::2, 1], window[1::2, 0::2, 1], window[1::2, 1::2, 2]]
    )
    np.testing.assert_allclose(tile, expected, atol=1e-6)


@pytest.mark.parametrize(("domain", "split"), [("microscopy", "train"), ("astronomy", "val")])
def test_one_channel_domains_are_intensity_over_255(sample_run, domain: str, split: str) -> None:
    path = _files(sample_run.root, domain, split)[3]
    tile, meta = _tile_of(path)
    image = getattr(skimage.data, meta["source"].removeprefix("skimage.data."))()
    assert image.ndim == 2 and image.dtype == np.uint8  # cell and moon are 8-bit grey
    r0, c0 = meta["row"] * 32, meta["col"] * 32
    np.testing.assert_allclose(tile[0], image[r0 : r0 + 32, c0 : c0 + 32] / 255.0, atol=1e-6)


def test_rgb_one_channel_sources_use_rgb2gray_luminance(sample_run) -> None:
    path = _files(sample_run.root, "microscopy", "val")[0]  # immunohistochemistry (RGB)
    tile, meta = _tile_of(path)
    rgb = skimage.data.immunohistochemistry() / 255.0
    luma = rgb @ np.array([0.2125, 0.7154, 0.0721])  # skimage.color.rgb2gray's weights
    r0, c0 = meta["row"] * 32, meta["col"] * 32
    np.testing.assert_allclose(tile[0], luma[r0 : r0 + 32, c0 : c0 + 32], atol=1e-5)


@given(st.floats(min_value=0.0, max_value=1.0))
def test_srgb_decoding_inverts_the_srgb_encoding(value: float) -> None:
    linear = float(_srgb_to_linear(np.array(value)))
    encoded = 12.92 * linear if linear <= 0.0031308 else 1.055 * linear ** (1 / 2.4) - 0.055
    # IEC 61966-2-1's two thresholds (0.04045 encoded, 0.0031308 linear) disagree by ~3e-8
    # at the knee, so the round trip is exact only to that.
    assert encoded == pytest.approx(value, abs=1e-7)
    assert 0.0 <= linear <= 1.0


def test_rerun_with_another_tile_replaces_old_tiles(tmp_path: Path) -> None:
    from unified_prior.data.sample import write_sample_dataset

    write_sample_dataset(tmp_path, tile=64)
    summary = write_sample_dataset(tmp_path, tile=96)
    for domain, splits in summary.counts.items():
        for split, n in splits.items():
            files = _files(tmp_path, domain, split)
            assert len(files) == n
            assert {torch.load(f, weights_only=True)["clean_norm"].shape[-1] for f in files} == {96}


@pytest.mark.parametrize("tile", ["4", "1000"])
def test_bad_tile_size_is_one_line_exit_2(tmp_path: Path, tile: str) -> None:
    proc = subprocess.run(
        [*UPRIOR, "data", "sample", "--out", str(tmp_path), "--tile", tile],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--tile {tile}" in lines[0], proc.stderr
    assert not list(tmp_path.rglob("*.pt"))
