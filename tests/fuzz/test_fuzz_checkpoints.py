"""Fuzz the commands that read checkpoints with damaged and mutated ones (issue 14).

A real run's checkpoint is mutated deep inside (an entry deleted, replaced by junk,
reshaped, retyped) or damaged as bytes (truncated, flipped), then resumed (``train --resume
PATH``, ``train --resume auto``, ``resume``) or evaluated. Each case exits 0, 1 or 2 with no
traceback; on an error the run directory is unchanged.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
import torch
from fuzz_harness import assert_well_behaved, snapshot
from fuzz_inputs import TINY, damage_bytes, mutate_state, write_tiles

from unified_prior.config import load_config, write_config

pytestmark = pytest.mark.slow

CASES = int(os.environ.get("UPRIOR_FUZZ_CASES", "0")) or 16
COMMANDS = ("train-path", "train-auto", "resume", "evaluate")


@pytest.fixture(scope="module")
def source(cli, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished two-update run (checkpoints at 1 and 2) and its config file."""
    folder = tmp_path_factory.mktemp("ckpt-fuzz")
    write_tiles(folder / "tiles")
    config = folder / "run.toml"
    overrides = [*TINY, "train.max_steps=2", f"data.root={folder / 'tiles'}"]
    write_config(load_config(None, overrides), config)
    outcome = cli("train", "--config", config, "--out", folder / "run", cwd=folder)
    assert outcome.code == 0, outcome.describe()
    return folder


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("seed", range(CASES))
def test_damaged_checkpoint(cli, source: Path, tmp_path: Path, seed: int) -> None:
    rng = random.Random(2000 + seed)
    run = tmp_path / "run"
    shutil.copytree(source / "run", run)
    target = run / "checkpoints" / rng.choice(["checkpoint_step_0000001.pt",
                                               "checkpoint_step_0000002.pt"])  # fmt: skip
    if rng.random() < 0.7:
        state = torch.load(target, weights_only=True)
        what = mutate_state(rng, state)
        torch.save(state, target)
    else:
        data, what = damage_bytes(rng, target.read_bytes())
        target.write_bytes(data)
    command = rng.choice(COMMANDS)
    args: list[str | Path] = {
        "train-path": ["train", "--config", source / "run.toml", "--out", run, "--resume", target],
        "train-auto": ["train", "--config", source / "run.toml", "--out", run, "--resume", "auto"],
        "resume": ["resume", target],
        "evaluate": ["evaluate", target],
    }[command]
    before = snapshot(run)
    outcome = cli(*args, cwd=tmp_path, timeout_s=120)
    assert_well_behaved(outcome, out=run, before=before)
    if outcome.code == 2 and command != "train-auto":
        assert str(target) in outcome.stderr, f"{what}: {outcome.describe()}"
