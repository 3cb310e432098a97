"""Fuzz ``uprior train`` with hostile tiles and config values (issue 14).

Every case runs the real command line and must end in exit 0, 1 or 2, with no traceback on
stderr, and, when it fails, with ``--out`` untouched. ``UPRIOR_FUZZ_CASES`` raises the number
of seeds for a longer local hunt; a failure names its seed, which replays it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from fuzz_harness import assert_well_behaved, snapshot
from fuzz_inputs import CHANNELS, TINY, hostile_overrides, hostile_tile, write_tiles

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("UPRIOR_FUZZ_CASES", "0"))
TILE_SEEDS = range(CASES or 16)
CONFIG_SEEDS = range(CASES or 20)


@pytest.fixture(scope="module")
def good_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("good") / "tiles"
    write_tiles(root)
    return root


def _train(cli, cwd: Path, root: Path, out: Path, extra: list[str]):
    config = cwd / "run.toml"
    config.write_text("", encoding="utf-8")
    sets = [x for item in [*TINY, f"data.root={root}", *extra] for x in ("--set", item)]
    return cli("train", "--config", config, *sets, "--out", out, cwd=cwd, timeout_s=120)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", TILE_SEEDS)
def test_hostile_tile(cli, tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "tiles"
    write_tiles(root)
    domain = rng.choice(sorted(CHANNELS))
    split = rng.choice(["train", "val"])
    hostile_tile(rng, CHANNELS[domain])(root / domain / split / "hostile.pt")
    workers = rng.choice(["0", "0", "2"])
    out = tmp_path / "out"
    outcome = _train(cli, tmp_path, root, out, [f"data.num_workers={workers}"])
    assert_well_behaved(outcome, out=out, before={})
    assert "FUZZ-PAYLOAD-RAN" not in outcome.stdout + outcome.stderr
    if outcome.code == 2:
        assert "hostile.pt" in outcome.stderr, outcome.describe()


@pytest.mark.parametrize("seed", CONFIG_SEEDS)
def test_hostile_config_value(cli, good_root: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(1000 + seed)
    out = tmp_path / "out"
    outcome = _train(cli, tmp_path, good_root, out, hostile_overrides(rng))
    assert_well_behaved(outcome, out=out, before={})
    if outcome.code == 2:  # blamed on the --set item that set the bad key, or the data
        assert (
            "--set" in outcome.stderr or "data.root" in outcome.stderr or "tile" in outcome.stderr
        ), outcome.describe()
    assert snapshot(good_root)  # the data is never written
