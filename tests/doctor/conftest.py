"""Fixtures for the doctor's tests; the builders that write runs live in doctor_builders.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import the builders by name (pytest runs with --import-mode=importlib).
sys.path.insert(0, str(Path(__file__).parent))

from doctor_builders import (
    OriginalRun,
    write_original_checkpoints,
    write_original_log,
)


@pytest.fixture(scope="session")
def original_run(tmp_path_factory: pytest.TempPathFactory) -> OriginalRun:
    """The original run: train.log and checkpoints/ every 5K to 90K."""
    root = tmp_path_factory.mktemp("original_run")
    log = write_original_log(root / "train.log")
    write_original_checkpoints(root / "checkpoints")
    return OriginalRun(root, log, root / "checkpoints")
