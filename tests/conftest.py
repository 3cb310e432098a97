"""Fixtures every test folder shares: one torch thread, the sample tiles, hypothesis limits."""

from __future__ import annotations

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
