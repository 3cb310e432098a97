"""Fixtures for the doctor's tests; the builders that write runs live in doctor_builders.py."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules import the builders by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from doctor_builders import (
    OriginalRun,
    write_original_checkpoints,
    write_original_log,
)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def original_run(tmp_path_factory: pytest.TempPathFactory) -> OriginalRun:
    """The original run: train.log and checkpoints/ every 5K to 90K."""
    root = tmp_path_factory.mktemp("original_run")
    log = write_original_log(root / "train.log")
    write_original_checkpoints(root / "checkpoints")
    return OriginalRun(root, log, root / "checkpoints")
