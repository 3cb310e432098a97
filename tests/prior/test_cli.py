"""``uprior sample``, ``uprior restore`` and ``uprior data noisy`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow


def uprior(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unified_prior", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_sample_writes_tiles_and_grids_reproducibly(tiny_checkpoint: Path, tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["--domain", "photography", "--domain", "astronomy", "--num", "3", "--steps", "3"]
        result = uprior("sample", str(tiny_checkpoint), *args, "--seed", "4", "--out", str(out))
        assert result.returncode == 0, result.stderr
        runs.append(out)
    for domain, channels in (("photography", 4), ("astronomy", 1)):
        files = sorted((runs[0] / domain / "samples").glob("*.pt"))
        assert [f.name for f in files] == [f"sample_{i:04d}.pt" for i in range(3)]
        for f in files:
            tile = torch.load(f, weights_only=True)
            again = torch.load(runs[1] / domain / "samples" / f.name, weights_only=True)
            x = tile["clean_norm"]
            assert x.dtype == torch.float32 and x.shape == (channels, 16, 16)
            assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
            assert torch.equal(x, again["clean_norm"])
            assert tile["metadata"]["domain"] == domain
        assert (runs[0] / f"{domain}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_noisy_then_restore_with_both_methods(
    tiny_checkpoint: Path, sample_root: Path, tmp_path: Path
) -> None:
    noisy = tmp_path / "noisy"
    args = ["--photons-at-white", "10", "--read-noise", "0.01"]
    made = uprior("data", "noisy", str(sample_root), *args, "--seed", "3", "--out", str(noisy))
    assert made.returncode == 0, made.stderr
    files = sorted((noisy / "microscopy" / "val").glob("*.pt"))
    assert len(files) == len(list((sample_root / "microscopy" / "val").glob("*.pt")))
    first = torch.load(files[0], weights_only=True)
    assert first["metadata"] == {
        "photons_at_white": 10.0,
        "read_noise": 0.01,
        "seed": 3,
        "source": f"microscopy/val/{files[0].name}",
    }
    for method in ("vst", "posterior"):
        out = tmp_path / method
        result = uprior(
            "restore", str(tiny_checkpoint), *map(str, files[:2]), "--domain", "microscopy",
            *args, "--method", method, "--steps", "2", "--out", str(out),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        restored = torch.load(out / files[0].name, weights_only=True)
        assert restored["restored"].shape == first["noisy"].shape
        assert restored["metadata"]["method"] == method


def foreign_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, path)
    return path


def rgb_tile(tmp_path: Path) -> Path:
    path = tmp_path / "rgb.pt"
    torch.save({"noisy": torch.rand(3, 16, 16)}, path)
    return path


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("foreign checkpoint", "foreign.pt"),
        ("unknown domain", "--domain 'radiology'"),
        ("channels", "rgb.pt"),
        ("zero photons", "--photons-at-white 0.0"),
        ("negative photons", "--photons-at-white -5.0"),
        ("sample unknown domain", "--domain 'radiology'"),
        ("sample foreign checkpoint", "foreign.pt"),
        ("noisy zero photons", "--photons-at-white 0.0"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    case: str, needle: str, tiny_checkpoint: Path, sample_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    ckpt, domain, photons = str(tiny_checkpoint), "microscopy", "10"
    tile = str(next((sample_root / "microscopy" / "val").glob("*.pt")))
    noisy_tile = tmp_path / "obs.pt"
    torch.save({"noisy": torch.rand(1, 16, 16)}, noisy_tile)
    tile = str(noisy_tile)
    if case.endswith("foreign checkpoint"):
        ckpt = str(foreign_checkpoint(tmp_path))
    if case.endswith("unknown domain"):
        domain = "radiology"
    if case == "channels":
        tile = str(rgb_tile(tmp_path))
    if case.endswith("zero photons"):
        photons = "0"
    if case == "negative photons":
        photons = "-5"
    if case.startswith("sample"):
        args = ["sample", ckpt, "--domain", domain, "--num", "1", "--steps", "1"]
    elif case.startswith("noisy"):
        args = ["data", "noisy", str(sample_root), "--photons-at-white", photons,
                "--read-noise", "0.01"]  # fmt: skip
    else:
        args = ["restore", ckpt, tile, "--domain", domain, "--photons-at-white", photons,
                "--read-noise", "0.01"]  # fmt: skip
    result = uprior(*args, "--out", str(out))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("uprior: error:"), result.stderr
    assert needle in lines[0]
    assert not out.exists()
