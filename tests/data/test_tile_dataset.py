"""``TileDataset`` on tiles written the way users have them: shapes, masks, labels, crops,
and one-line errors that name a bad file."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from unified_prior.data import DomainRegistry, TileDataset, seeded_generator
from unified_prior.errors import InputError


def test_items_are_padded_masked_and_labelled(write_tiles, registry: DomainRegistry) -> None:
    root = write_tiles({"photography": 3, "microscopy": 2, "astronomy": 4})
    ds = TileDataset(root, "train", registry, resolution=32)
    assert len(ds) == 9
    assert ds.counts() == {"photography": 3, "microscopy": 2, "astronomy": 4}
    assert ds.domain_index == [0] * 3 + [1] * 2 + [2] * 4
    for i in range(len(ds)):
        item = ds[i]
        d = item["domain"]
        channels = registry.domains[d].channels
        assert item["image"].shape == (4, 32, 32) and item["image"].dtype == torch.float32
        assert item["mask"].shape == (4, 1, 1)
        assert item["mask"].flatten().tolist() == [1.0] * channels + [0.0] * (4 - channels)
        assert torch.all(item["image"][channels:] == 0)
        assert item["image"][:channels].abs().sum() > 0
        assert item["label"].shape == (registry.label_dim,)
        one_hot = [0.0, 0.0, 0.0]
        one_hot[d] = 1.0
        assert item["label"][:3].tolist() == one_hot


def test_centre_crop_is_the_middle_window(write_tiles, registry: DomainRegistry) -> None:
    root = write_tiles({"photography": 1, "microscopy": 1, "astronomy": 1}, size=(40, 48))
    ds = TileDataset(root, "train", registry, resolution=32)
    full = ds.load(1)
    assert torch.equal(ds[1]["image"][:1], full[:, 4:36, 8:40])


def test_random_crop_is_a_window_of_the_tile_chosen_by_the_generator(
    write_tiles, registry: DomainRegistry
) -> None:
    root = write_tiles({"photography": 1, "microscopy": 1, "astronomy": 1}, size=(40, 48))
    ds = TileDataset(root, "train", registry, resolution=32)
    full = ds.load(0)
    windows = {
        (top, left): full[:, top : top + 32, left : left + 32]
        for top in range(9)
        for left in range(17)
    }
    seen = set()
    for seed in range(40):
        crop = ds.sample(0, seeded_generator(seed))["image"]
        matches = [pos for pos, w in windows.items() if torch.equal(w, crop)]
        assert len(matches) == 1
        seen.add(matches[0])
        again = ds.sample(0, seeded_generator(seed))["image"]
        assert torch.equal(crop, again)  # a crop is a pure function of its seed
    assert len(seen) > 20  # positions really vary


def test_tiles_without_metadata_and_of_exact_resolution(
    write_tiles, registry: DomainRegistry
) -> None:
    root = write_tiles({"photography": 2, "microscopy": 2, "astronomy": 2}, size=(16, 16))
    write_tiles(
        {"photography": 1, "microscopy": 1, "astronomy": 1},
        size=(16, 16),
        metadata=False,
        root=root,
        split="val",
    )
    ds = TileDataset(root, "val", registry, resolution=16)
    assert [ds.load(i).shape[-1] for i in range(3)] == [16, 16, 16]
    assert torch.equal(ds.sample(0, seeded_generator(3))["image"], ds[0]["image"])


def test_reads_the_bundled_sample_layout(sample_run, registry: DomainRegistry) -> None:
    train = TileDataset(sample_run.root, "train", registry, resolution=32)
    val = TileDataset(sample_run.root, "val", registry, resolution=16, stats=train.stats)
    assert set(train.counts()) == set(val.counts()) == set(registry.names)
    assert val[len(val) - 1]["image"].shape == (4, 16, 16)
    assert val.stats == train.stats


def _one_line(err: pytest.ExceptionInfo[InputError], path: Path) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message
    return message


def _bad(write_tiles, registry: DomainRegistry, payload_writer) -> Path:
    root = write_tiles({"photography": 1, "microscopy": 2, "astronomy": 1}, size=(32, 32))
    path = root / "microscopy" / "train" / "tile_0001.pt"
    payload_writer(path)
    return path


class Evil:
    """Not a tensor type: ``weights_only=True`` must refuse to unpickle it."""

    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize(
    ("writer", "expected"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:100]), "cannot load it with weights_only=True"),
        (lambda p: p.write_bytes(b"not a torch file"), "cannot load it with weights_only=True"),
        (lambda p: p.write_bytes(pickle.dumps(Evil())), "cannot load it with weights_only=True"),
        (lambda p: torch.save({"clean_norm": Evil()}, p), "cannot load it with weights_only=True"),
        (lambda p: torch.save({"image": torch.rand(1, 32, 32)}, p), "'clean_norm' tensor"),
        (lambda p: torch.save(torch.rand(1, 32, 32), p), "'clean_norm' tensor"),
        (lambda p: torch.save({"clean_norm": torch.rand(4, 32, 32)}, p), "expects [1, H, W]"),
        (lambda p: torch.save({"clean_norm": torch.rand(32, 32)}, p), "expects [1, H, W]"),
        (lambda p: torch.save({"clean_norm": torch.rand(1, 16, 40)}, p), "data.resolution=32"),
        (
            lambda p: torch.save({"clean_norm": torch.ones(1, 32, 32, dtype=torch.uint8)}, p),
            "float",
        ),
        (lambda p: torch.save({"clean_norm": torch.full((1, 32, 32), float("nan"))}, p), "NaN"),
    ],
    ids=[
        "truncated",
        "garbage",
        "pickled-object",
        "object-inside",
        "no-clean-norm",
        "bare-tensor",
        "wrong-channels",
        "2d",
        "too-small",
        "integer",
        "nan",
    ],
)
@pytest.mark.filterwarnings("ignore:Detected pickle protocol:UserWarning")
def test_bad_tile_is_a_one_line_error_naming_it(
    write_tiles, registry: DomainRegistry, writer, expected: str, capsys
) -> None:
    path = _bad(write_tiles, registry, writer)
    with pytest.raises(InputError) as err:  # found when the dataset is opened, not when drawn
        TileDataset(path.parents[2], "train", registry, resolution=32)
    assert expected in _one_line(err, path)
    assert "this must never run" not in capsys.readouterr().out


def test_missing_root_or_empty_domain_names_the_fix(
    tmp_path: Path, write_tiles, registry: DomainRegistry
) -> None:
    with pytest.raises(InputError, match="uprior data sample --out"):
        TileDataset(tmp_path / "nowhere", "train", registry, resolution=32)
    root = write_tiles({"photography": 1, "microscopy": 1})
    with pytest.raises(InputError, match=r"no tiles in astronomy/train/\*\.pt"):
        TileDataset(root, "train", registry, resolution=32)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_train_cli_on_a_corrupt_tile_is_one_line_exit_2(
    write_tiles, tmp_path: Path, workers: int
) -> None:
    # DataLoader workers re-raise errors with a multi-line traceback in the message; the
    # stream must still surface the one-line error naming the file.
    root = write_tiles({"photography": 1, "microscopy": 1, "astronomy": 1}, size=(16, 16))
    write_tiles(
        {"photography": 1, "microscopy": 1, "astronomy": 1}, size=(16, 16), root=root, split="val"
    )
    bad = root / "astronomy" / "train" / "tile_0000.pt"
    bad.write_bytes(bad.read_bytes()[:64])
    settings = [
        f"data.root={root}",
        "data.resolution=16",
        f"data.num_workers={workers}",
        "model.channels=8",
        "model.channel_mult=[1, 2]",
        "model.blocks_per_level=1",
        "model.attention_resolutions=[]",
        "schedule.warmup_steps=1",
        "train.max_steps=4",
        "train.batch_size=6",
        "train.device=cpu",
        "train.precision=fp32",
        "eval.tiles_per_domain=1",
        "log.progress=off",
        "log.tensorboard=false",
    ]
    config = tmp_path / "run.toml"
    config.write_text('[train]\ndevice = "cpu"\n', encoding="utf-8")
    args = ["--config", str(config), *(x for s in settings for x in ("--set", s))]
    proc = subprocess.run(
        [sys.executable, "-m", "unified_prior", "train", *args, "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(bad) in lines[0] and "weights_only=True" in lines[0]
    assert not (tmp_path / "run").exists()  # found by the scan, before anything is written
