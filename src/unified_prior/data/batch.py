"""Micro-batches of a run as an infinite, resumable stream of ``(step, micro, Batch)``.

Everything random about a sample is derived from ``(seed, step, micro, global position)``:
the crop (here) and the loss's sigma and noise (``Batch.seeds``, used by ``EDMLoss``). So a
sample is the same whichever rank or worker builds it, and a resumed run is bit-identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from unified_prior.data.sampler import BalancedSampler
from unified_prior.data.seeds import STREAM_CROP, STREAM_NOISE, derive_seed, seeded_generator
from unified_prior.data.tiles import TileDataset


@dataclass
class Batch:
    """One micro-batch for this process."""

    images: torch.Tensor  # [B, Cmax, R, R] float32, padded channels zero
    masks: torch.Tensor  # [B, Cmax, 1, 1] float32, 1 valid / 0 padded
    labels: torch.Tensor  # [B, label_dim] float32
    domains: torch.Tensor  # [B] int64
    seeds: torch.Tensor  # [B] int64, per-sample seed of the loss's sigma and noise

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device`` (seeds too; the loss reads them back on the CPU)."""
        return Batch(
            images=self.images.to(device, non_blocking=True),
            masks=self.masks.to(device, non_blocking=True),
            labels=self.labels.to(device, non_blocking=True),
            domains=self.domains.to(device, non_blocking=True),
            seeds=self.seeds.to(device, non_blocking=True),
        )

    @classmethod
    def collate(cls, items: list[dict[str, Any]], seeds: list[int]) -> Batch:
        """Stack dataset items (``TileDataset`` dicts) with their loss seeds."""
        return cls(
            images=torch.stack([it["image"] for it in items]),
            masks=torch.stack([it["mask"] for it in items]),
            labels=torch.stack([it["label"] for it in items]),
            domains=torch.tensor([int(it["domain"]) for it in items], dtype=torch.int64),
            seeds=torch.tensor(seeds, dtype=torch.int64),
        )


def build_batch(
    dataset: TileDataset, sampler: BalancedSampler, seed: int, step: int, micro: int
) -> Batch:
    """This rank's micro-batch ``(step, micro)``: a pure function of its arguments."""
    items, seeds = [], []
    for position, tile in sampler.local_indices(step, micro):
        crop = seeded_generator(derive_seed(seed, STREAM_CROP, step, micro, position))
        items.append(dataset.sample(tile, crop))
        seeds.append(derive_seed(seed, STREAM_NOISE, step, micro, position))
    return Batch.collate(items, seeds)


class _BatchSource(IterableDataset[tuple[int, int, Batch]]):
    """Item ``n`` is micro-batch ``n`` counted from ``(start_step, 0)``; worker ``k`` of
    ``W`` builds items ``k, k+W, ...``, and DataLoader hands them out round-robin, so the
    order equals the single-process order."""

    def __init__(
        self,
        dataset: TileDataset,
        sampler: BalancedSampler,
        start_step: int,
        grad_accum_steps: int,
        seed: int,
    ) -> None:
        self.dataset = dataset
        self.sampler = sampler
        self.start_step = start_step
        self.grad_accum_steps = grad_accum_steps
        self.seed = seed

    def __iter__(self) -> Iterator[tuple[int, int, Batch]]:
        info = get_worker_info()
        n, stride = (info.id, info.num_workers) if info is not None else (0, 1)
        while True:
            offset, micro = divmod(n, self.grad_accum_steps)
            step = self.start_step + offset
            yield step, micro, build_batch(self.dataset, self.sampler, self.seed, step, micro)
            n += stride


def _as_is(item: Any) -> Any:
    return item


class BatchStream:
    """Infinite iterator of ``(step, micro, Batch)`` from ``(start_step, 0)``, with
    ``micro`` in ``range(grad_accum_steps)``; identical for any ``num_workers``."""

    def __init__(
        self,
        dataset: TileDataset,
        sampler: BalancedSampler,
        *,
        start_step: int,
        grad_accum_steps: int,
        seed: int,
        num_workers: int = 0,
    ) -> None:
        if grad_accum_steps < 1 or start_step < 0 or num_workers < 0:
            raise ValueError(
                f"bad BatchStream start_step={start_step} grad_accum_steps={grad_accum_steps} "
                f"num_workers={num_workers}"
            )
        self.num_workers = num_workers
        self._source = _BatchSource(dataset, sampler, start_step, grad_accum_steps, seed)

    def __iter__(self) -> Iterator[tuple[int, int, Batch]]:
        if self.num_workers == 0:
            return iter(self._source)
        loader = DataLoader(
            self._source,
            batch_size=None,  # items are whole micro-batches already
            num_workers=self.num_workers,
            collate_fn=_as_is,
            prefetch_factor=2,
        )
        return iter(loader)
