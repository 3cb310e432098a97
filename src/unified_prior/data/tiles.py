"""Clean tiles on disk in the layout users already have: ``<root>/<domain>/<split>/*.pt``.

Each file is a dict with ``clean_norm`` (float tensor ``[C, H, W]``, ``C`` the domain's
channel count) and optional ``metadata``; it is read with ``torch.load(weights_only=True)``
so a tile file can never run code. Every tile is checked when the dataset is opened
(shape, dtype, channels, finite values in [0, 1]), with the results cached (data/scan.py).

Every item is padded to the widest domain with zero channels and carries a channel mask:
padded channels are masked out of the noise, the network output and the loss, and the mask
is fed to the network as input channels (the original zero-padded without a mask, so 3/4 of
the microscopy and astronomy loss was "predict zero from pure noise").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from unified_prior.data.domains import DomainRegistry
from unified_prior.data.labels import LabelStats
from unified_prior.data.scan import scan_tiles
from unified_prior.data.tile_check import TileFacts, judge, read_tile
from unified_prior.errors import InputError


class TileDataset(Dataset[dict[str, Any]]):
    """Tiles of one split for every domain of the registry, in (domain, file name) order.

    ``__getitem__`` gives the deterministic centre crop (validation); ``sample`` a random
    crop drawn from a caller's generator (training), so crops are reproducible from seeds.
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        registry: DomainRegistry,
        resolution: int,
        stats: LabelStats | None = None,
    ) -> None:
        self.root = Path(root)
        self.split = split
        self.registry = registry
        self.resolution = int(resolution)
        if not self.root.is_dir():
            raise InputError(
                f"data.root {self.root}: no such directory; build the sample tiles with "
                f"`uprior data sample --out {self.root}` or point data.root at your tiles"
            )
        self.paths: list[Path] = []
        self.domain_index: list[int] = []
        #: position of each tile among its domain's tiles (stable identity for eval noise)
        self.position_in_domain: list[int] = []
        #: tile indices of each domain, by domain index
        self.tiles_of_domain: list[list[int]] = []
        for domain in registry.domains:
            # Sorted by the path string: the order Path comparison gives within one folder,
            # at a fraction of its cost on large folders.
            files = sorted((self.root / domain.name / split).glob("*.pt"), key=os.fspath)
            if not files:
                raise InputError(
                    f"data.root {self.root}: no tiles in {domain.name}/{split}/*.pt; add "
                    f"tiles there or remove [data.domains.{domain.name}] from the config"
                )
            start = len(self.paths)
            self.paths.extend(files)
            self.domain_index.extend([domain.index] * len(files))
            self.position_in_domain.extend(range(len(files)))
            self.tiles_of_domain.append(list(range(start, len(self.paths))))
        # Every tile is judged now, before a run writes anything (data/scan.py).
        #: files checked and files read for it (the others came from the scan cache)
        self.scan = scan_tiles(
            self.paths, [registry.domains[d] for d in self.domain_index], self.resolution
        )
        self.stats = stats if stats is not None else LabelStats.from_dataset(self)
        self._labels = self.stats.label_table(registry)
        self._masks = torch.zeros(len(registry), registry.max_channels, 1, 1)
        for domain in registry.domains:
            self._masks[domain.index, : domain.channels] = 1.0

    def __len__(self) -> int:
        return len(self.paths)

    def counts(self) -> dict[str, int]:
        """Number of tiles per domain name."""
        return {d.name: len(self.tiles_of_domain[d.index]) for d in self.registry.domains}

    def load(self, i: int) -> torch.Tensor:
        """The full ``clean_norm`` tensor of tile ``i`` as float32, checked again (the file
        may have changed since the scan)."""
        path = self.paths[i]
        domain = self.registry.domains[self.domain_index[i]]
        tile = read_tile(path)
        problem = judge(
            path, tile if isinstance(tile, str) else TileFacts.of(tile), domain, self.resolution
        )
        if problem is not None or isinstance(tile, str):
            raise InputError(problem or f"tile {path}: {tile}")
        return tile.float()

    def _item(self, i: int, top: int, left: int, tile: torch.Tensor) -> dict[str, Any]:
        d = self.domain_index[i]
        r = self.resolution
        image = torch.zeros(self.registry.max_channels, r, r)
        image[: tile.shape[0]] = tile[:, top : top + r, left : left + r]
        return {
            "image": image,
            "mask": self._masks[d].clone(),
            "label": self._labels[d].clone(),
            "domain": d,
        }

    def __getitem__(self, i: int) -> dict[str, Any]:
        """Deterministic centre crop of tile ``i``."""
        tile = self.load(i)
        r = self.resolution
        return self._item(i, (tile.shape[1] - r) // 2, (tile.shape[2] - r) // 2, tile)

    def sample(self, i: int, generator: torch.Generator) -> dict[str, Any]:
        """Random crop of tile ``i``, its position drawn from ``generator``."""
        tile = self.load(i)
        r = self.resolution
        top = int(torch.randint(0, tile.shape[1] - r + 1, (1,), generator=generator))
        left = int(torch.randint(0, tile.shape[2] - r + 1, (1,), generator=generator))
        return self._item(i, top, left, tile)
