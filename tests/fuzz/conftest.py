"""Fixtures of the fuzz suite; the harness and the input generators are plain modules here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fuzz_harness import CliWorker


@pytest.fixture(scope="session")
def cli() -> Iterator[CliWorker]:
    worker = CliWorker()
    yield worker
    worker.close()
