"""Every tile is checked when the dataset is opened (issue 14): a bad tile anywhere is a
one-line error naming it before a run writes anything; the facts are cached by (path, size,
mtime) so a second open reads nothing; the scan runs in worker processes on many files."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from unified_prior.config import load_config
from unified_prior.data import DomainRegistry, TileDataset
from unified_prior.data import scan as scan_module
from unified_prior.errors import InputError
from unified_prior.train.loop import train

#: A run that would train in about a second, if its tiles were good.
RUN = [
    "data.resolution=16",
    "model.channels=8",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
    "schedule.warmup_steps=1",
    "train.max_steps=4",
    "train.batch_size=6",
    "train.device=cpu",
    "train.precision=fp32",
    "checkpoint.every_steps=1",
    "eval.every_steps=1",
    "eval.tiles_per_domain=1",
    "log.progress=off",
]


class Evil:
    """Unpickling this would run ``os.system``: ``weights_only=True`` must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo this must never run",))


def nan_tile(p: Path) -> None:
    torch.save({"clean_norm": torch.full((1, 16, 16), float("nan"))}, p)


BAD_TILES = {
    "wrong-channels": (
        lambda p: torch.save({"clean_norm": torch.rand(3, 16, 16)}, p),
        "expects [1, H, W]",
    ),
    "nan": (nan_tile, "NaN or infinite"),
    "inf": (
        lambda p: torch.save({"clean_norm": torch.full((1, 16, 16), float("inf"))}, p),
        "NaN or infinite",
    ),
    "uint8": (
        lambda p: torch.save({"clean_norm": torch.ones(1, 16, 16, dtype=torch.uint8)}, p),
        "torch.uint8; expected a float tensor",
    ),
    "bare-tensor": (lambda p: torch.save(torch.rand(1, 16, 16), p), "found Tensor"),
    "list": (lambda p: torch.save([torch.rand(1, 16, 16)], p), "found list"),
    "no-clean-norm": (
        lambda p: torch.save({"image": torch.rand(1, 16, 16)}, p),
        "found a dict with keys ['image']",
    ),
    "too-small": (
        lambda p: torch.save({"clean_norm": torch.rand(1, 8, 8)}, p),
        "smaller than data.resolution=16",
    ),
    "2d": (lambda p: torch.save({"clean_norm": torch.rand(16, 16)}, p), "expects [1, H, W]"),
    "random-bytes": (
        lambda p: p.write_bytes(os.urandom(256)),
        "cannot load it with weights_only=True",
    ),
    "zero-bytes": (lambda p: p.write_bytes(b""), "cannot load it with weights_only=True"),
    "far-outside-0-1": (
        lambda p: torch.save({"clean_norm": torch.full((1, 16, 16), 1000.0)}, p),
        "values span [1000, 1000]",
    ),
    "unsafe-pickle": (
        lambda p: torch.save({"clean_norm": Evil()}, p),
        f"refers to {os.system.__module__}.system",
    ),
    "unsafe-bare-pickle": (
        lambda p: p.write_bytes(pickle.dumps(Evil())),
        f"refers to {os.system.__module__}.system",
    ),
}


def write_good(root: Path, split: str, n: int = 2) -> None:
    channels = {"photography": 4, "microscopy": 1, "astronomy": 1}
    g = torch.Generator().manual_seed(0)
    for domain, c in channels.items():
        folder = root / domain / split
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            torch.save({"clean_norm": torch.rand(c, 20, 20, generator=g)}, folder / f"t{i}.pt")


@pytest.mark.parametrize(
    ("kind", "split", "workers"),
    [*((k, "train", 0) for k in BAD_TILES), ("nan", "val", 0), ("nan", "train", 2)],
    ids=[*BAD_TILES, "nan-in-val", "nan-with-2-workers"],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_a_bad_tile_stops_the_run_before_anything_is_written(
    tmp_path: Path, kind: str, split: str, workers: int, capfd
) -> None:
    root = tmp_path / "tiles"
    write_good(root, "train")
    write_good(root, "val")
    bad = root / "microscopy" / split / "t1.pt"
    writer, expected = BAD_TILES[kind]
    writer(bad)
    config = load_config(None, [*RUN, f"data.root={root}", f"data.num_workers={workers}"])
    out = tmp_path / "run"
    with pytest.raises(InputError) as err:
        train(config, out)
    message = str(err.value)
    assert "\n" not in message and str(bad) in message
    assert expected in message
    assert not out.exists()  # nothing written: no config, metrics, TensorBoard or checkpoint
    assert "this must never run" not in capfd.readouterr().out


def test_values_just_past_0_and_1_are_accepted(tmp_path: Path, registry) -> None:
    root = tmp_path / "tiles"
    write_good(root, "train")
    edge = torch.rand(1, 20, 20) * 1.04 - 0.02  # rounding and black-level noise
    torch.save({"clean_norm": edge}, root / "astronomy" / "train" / "t0.pt")
    assert len(TileDataset(root, "train", registry, 16)) == 6


def test_a_second_open_reads_nothing_and_a_changed_file_is_read_again(
    tmp_path: Path, registry: DomainRegistry, monkeypatch
) -> None:
    monkeypatch.setenv("UPRIOR_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "tiles"
    write_good(root, "train", n=3)
    assert TileDataset(root, "train", registry, 16).scan["read"] == 9
    assert TileDataset(root, "train", registry, 16).scan["read"] == 0
    assert list((tmp_path / "cache" / "tile-scan").glob("*.json"))

    # Rewritten with NaN (another size and mtime): read again, and refused.
    bad = root / "astronomy" / "train" / "t2.pt"
    nan_tile(bad)
    with pytest.raises(InputError, match="NaN"):
        TileDataset(root, "train", registry, 16)
    # A bad file is not cached as good: still refused, from a fresh read.
    with pytest.raises(InputError, match="NaN"):
        TileDataset(root, "train", registry, 16)


def test_cached_facts_are_judged_again_under_a_new_config(
    tmp_path: Path, registry: DomainRegistry, monkeypatch
) -> None:
    monkeypatch.setenv("UPRIOR_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "tiles"
    write_good(root, "train")
    TileDataset(root, "train", registry, 16)
    with pytest.raises(InputError, match=r"smaller than data\.resolution=32"):
        TileDataset(root, "train", registry, 32)  # 20 px tiles: too small, from the cache


def test_an_empty_cache_variable_turns_the_cache_off(
    tmp_path: Path, registry: DomainRegistry, monkeypatch
) -> None:
    monkeypatch.setenv("UPRIOR_CACHE_DIR", "")
    root = tmp_path / "tiles"
    write_good(root, "train")
    assert TileDataset(root, "train", registry, 16).scan["read"] == 6
    assert TileDataset(root, "train", registry, 16).scan["read"] == 6


def test_the_cache_defaults_to_the_xdg_cache_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("UPRIOR_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert scan_module.cache_dir() == tmp_path / "xdg" / "uprior"


def test_an_unwritable_cache_only_costs_speed(
    tmp_path: Path, registry: DomainRegistry, monkeypatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("UPRIOR_CACHE_DIR", str(blocker / "cache"))
    root = tmp_path / "tiles"
    write_good(root, "train")
    assert TileDataset(root, "train", registry, 16).scan["read"] == 6


def test_many_files_are_read_by_worker_processes_and_the_first_bad_one_named(
    tmp_path: Path, registry: DomainRegistry, monkeypatch
) -> None:
    monkeypatch.setenv("UPRIOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(scan_module, "PARALLEL_MIN_FILES", 64)
    monkeypatch.setattr(scan_module, "CHUNK_FILES", 16)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # two workers even on a one-core runner
    root = tmp_path / "tiles"
    write_good(root, "train", n=40)
    nan_tile(root / "microscopy" / "train" / "t33.pt")
    nan_tile(root / "astronomy" / "train" / "t5.pt")
    with pytest.raises(InputError) as err:
        TileDataset(root, "train", registry, 16)
    assert "microscopy/train/t33.pt" in str(err.value)  # the first in dataset order
    # The good files' facts were cached by the workers: only the two bad ones are read again.
    torch.save({"clean_norm": torch.rand(1, 20, 20)}, root / "microscopy" / "train" / "t33.pt")
    torch.save({"clean_norm": torch.rand(1, 20, 20)}, root / "astronomy" / "train" / "t5.pt")
    assert TileDataset(root, "train", registry, 16).scan == {
        "files": 120,
        "read": 2,
        "processes": 1,
    }
    # A cold scan of the same files: read by two worker processes.
    monkeypatch.setenv("UPRIOR_CACHE_DIR", "")
    assert TileDataset(root, "train", registry, 16).scan == {
        "files": 120,
        "read": 120,
        "processes": 2,
    }


def test_a_tile_changed_after_the_scan_is_still_refused_when_loaded(
    tmp_path: Path, registry: DomainRegistry
) -> None:
    root = tmp_path / "tiles"
    write_good(root, "train")
    ds = TileDataset(root, "train", registry, 16)
    nan_tile(root / "astronomy" / "train" / "t1.pt")
    with pytest.raises(InputError, match=r"t1\.pt: clean_norm contains NaN"):
        ds.load(5)
