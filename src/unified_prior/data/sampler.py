"""Balanced, resumable, shardable sampling: the batch is a pure function of the step.

The global batch of (step, micro) is drawn from a generator seeded by
``(seed, step, micro)``, so there is no sampler state to save: a run resumed at step ``k``
draws exactly the batches the uninterrupted run drew (EDM2's ``InfiniteSampler(start_idx)``
idea without an epoch permutation). Every rank computes the same global batch and takes
its own contiguous slice, so ranks never overlap and the union does not depend on how the
work is split.

With ``balance=True`` each domain is drawn equally often however many tiles it has: the
domains of a global batch are stratified (positions cycle through the domains from a random
offset, then are shuffled), so a batch of ``k * n_domains`` samples holds exactly ``k`` of
each, and the tile within a domain is uniform. The original used inverse-frequency
weights, which only balance in expectation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from unified_prior.data.seeds import STREAM_SAMPLER, derive_seed

SAMPLER_KIND = "stratified-domains-v1"


class BalancedSampler:
    """Indices into a ``TileDataset`` for every (step, micro) of a run."""

    def __init__(
        self,
        domain_index: list[int],
        *,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        balance: bool = True,
    ) -> None:
        if not domain_index:
            raise ValueError("BalancedSampler needs at least one tile")
        if batch_size < 1 or world_size < 1 or not 0 <= rank < world_size:
            raise ValueError(f"bad sampler shape batch_size={batch_size} rank={rank}/{world_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.balance = balance
        self.global_batch_size = batch_size * world_size
        self._n_tiles = len(domain_index)
        index = np.asarray(domain_index, dtype=np.int64)
        #: domains that have tiles, and the tile indices of each
        self._domains = np.unique(index)
        self._tiles = [np.flatnonzero(index == d) for d in self._domains]
        self._counts = np.array([len(t) for t in self._tiles], dtype=np.int64)

    def global_indices(self, step: int, micro: int) -> list[int]:
        """Tile indices of the whole global micro-batch ``(step, micro)``."""
        rng = np.random.default_rng(derive_seed(self.seed, STREAM_SAMPLER, step, micro))
        g = self.global_batch_size
        if not self.balance:
            return [int(i) for i in rng.integers(0, self._n_tiles, size=g)]
        n = len(self._domains)
        slots = rng.permutation((np.arange(g) + int(rng.integers(0, n))) % n)
        within = rng.integers(0, self._counts[slots])
        return [int(self._tiles[s][w]) for s, w in zip(slots, within, strict=True)]

    def local_indices(self, step: int, micro: int) -> list[tuple[int, int]]:
        """This rank's slice of the global batch as ``(global_position, tile_index)``."""
        lo = self.rank * self.batch_size
        tiles = self.global_indices(step, micro)[lo : lo + self.batch_size]
        return list(enumerate(tiles, start=lo))

    def state_dict(self) -> dict[str, Any]:
        """What determines the stream (JSON-safe); its position is the step itself."""
        return {
            "kind": SAMPLER_KIND,
            "seed": int(self.seed),
            "batch_size": int(self.batch_size),
            "world_size": int(self.world_size),
            "balance": bool(self.balance),
            "n_tiles": int(self._n_tiles),
        }
