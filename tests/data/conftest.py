"""Fixtures for data tests: the bundled sample dataset built once by the real CLI, and a
writer of tiles in a user's ``<root>/<domain>/<split>/*.pt`` layout."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from unified_prior.config import DataConfig, load_config
from unified_prior.data import DomainRegistry

UPRIOR = [sys.executable, "-m", "unified_prior"]


@dataclass(frozen=True)
class SampleRun:
    root: Path
    stdout: str


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory) -> SampleRun:
    """``uprior data sample --out D --tile 32`` run once per test session as a subprocess."""
    root = tmp_path_factory.mktemp("sample") / "tiles"
    proc = subprocess.run(
        [*UPRIOR, "data", "sample", "--out", str(root), "--tile", "32"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return SampleRun(root=root, stdout=proc.stdout)


@pytest.fixture
def registry() -> DomainRegistry:
    """The default domains: photography 4 ch, microscopy 1 ch, astronomy 1 ch."""
    return DomainRegistry.from_config(DataConfig())


@pytest.fixture
def distinct_registry() -> DomainRegistry:
    """Default domains with distinct backgrounds, so every sensor scalar varies."""
    overrides = [
        "data.domains.photography={channels=4, scale=10000, read_noise=3, background=0}",
        "data.domains.microscopy={channels=1, scale=5000, read_noise=2, background=10}",
        "data.domains.astronomy={channels=1, scale=50000, read_noise=1, background=100}",
    ]
    return DomainRegistry.from_config(load_config(None, overrides).data)


WriteTiles = Callable[..., Path]


@pytest.fixture
def write_tiles(tmp_path: Path) -> WriteTiles:
    """``write_tiles({"photography": 3, ...}, size=(40, 48))`` writes random tiles as a user
    would (domain channel counts of the default config); returns the root."""
    channels = {"photography": 4, "microscopy": 1, "astronomy": 1}

    def write(
        counts: dict[str, int],
        *,
        split: str = "train",
        size: tuple[int, int] = (40, 48),
        metadata: bool = True,
        root: Path | None = None,
        seed: int = 0,
    ) -> Path:
        root = root if root is not None else tmp_path / "tiles"
        g = torch.Generator().manual_seed(seed)
        for domain, n in counts.items():
            folder = root / domain / split
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                payload: dict[str, object] = {
                    "clean_norm": torch.rand(channels[domain], *size, generator=g)
                }
                if metadata:
                    payload["metadata"] = {"source": f"{domain}-{i}", "exposure": 0.1 * i}
                torch.save(payload, folder / f"tile_{i:04d}.pt")
        return root

    return write
