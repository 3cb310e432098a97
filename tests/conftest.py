"""Fixtures every test folder shares: one torch thread, the sample tiles, hypothesis limits,
a private tile-scan cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hypothesis import settings

from unified_prior.data.sample import write_sample_dataset

# Two xdist workers share two loaded cores: a wall-clock deadline per example only measures
# the neighbours. Example counts stay as each test sets them.
settings.register_profile("shared-cpu", deadline=None)
settings.load_profile("shared-cpu")


@pytest.fixture(scope="session", autouse=True)
def _scan_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tile scans cache their results (data/scan.py): keep the tests' cache out of the home
    folder (the variable reaches the CLI subprocesses too)."""
    before = os.environ.get("UPRIOR_CACHE_DIR")
    os.environ["UPRIOR_CACHE_DIR"] = str(tmp_path_factory.mktemp("uprior-cache"))
    yield
    if before is None:
        del os.environ["UPRIOR_CACHE_DIR"]
    else:
        os.environ["UPRIOR_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny torch work is dominated by thread hand-off on a shared CPU: use one thread."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def sample_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample dataset at 32 px, built once per test process."""
    root = tmp_path_factory.mktemp("sample")
    write_sample_dataset(root, tile=32)
    return root
