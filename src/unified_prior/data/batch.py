"""Micro-batches of a run as an infinite, resumable stream of ``(step, micro, Batch)``.

Everything random about a sample is derived from ``(seed, step, micro, global position)``:
the crop and the loss's sigma and noise, all drawn here (in DataLoader workers when there
are any, off the training thread). So a sample is the same whichever rank or worker builds
it, and a resumed run is bit-identical.
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
from unified_prior.errors import InputError


@dataclass
class Batch:
    """One micro-batch for this process."""

    images: torch.Tensor  # [B, Cmax, R, R] float32, padded channels zero
    masks: torch.Tensor  # [B, Cmax, 1, 1] float32, 1 valid / 0 padded
    labels: torch.Tensor  # [B, label_dim] float32
    domains: torch.Tensor  # [B] int64
    seeds: torch.Tensor  # [B] int64 on the CPU, per-sample seed of the loss's sigma and noise
    sigma_normal: torch.Tensor  # [B] float32, the N(0, 1) draw that sets each sample's sigma
    noise: torch.Tensor  # [B, Cmax, R, R] float32, unit noise, from the same generator

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> Batch:
        """The batch on ``device`` (``seeds`` stay on the CPU: nothing on the device reads
        them, and a copy back would stall every micro-batch on a sync)."""
        return Batch(
            images=self.images.to(device, non_blocking=True),
            masks=self.masks.to(device, non_blocking=True),
            labels=self.labels.to(device, non_blocking=True),
            domains=self.domains.to(device, non_blocking=True),
            seeds=self.seeds,
            sigma_normal=self.sigma_normal.to(device, non_blocking=True),
            noise=self.noise.to(device, non_blocking=True),
        )

    @classmethod
    def with_draws(
        cls,
        images: torch.Tensor,
        masks: torch.Tensor,
        labels: torch.Tensor,
        domains: torch.Tensor,
        seeds: torch.Tensor,
    ) -> Batch:
        """A batch whose loss draws (sigma and noise) come from each sample's own seed."""
        sigma_normal, noise = draw_normals(seeds, tuple(images.shape[1:]))
        return cls(images, masks, labels, domains, seeds, sigma_normal, noise)

    @classmethod
    def collate(cls, items: list[dict[str, Any]], seeds: list[int]) -> Batch:
        """Stack dataset items (``TileDataset`` dicts) and draw their loss noise."""
        return cls.with_draws(
            images=torch.stack([it["image"] for it in items]),
            masks=torch.stack([it["mask"] for it in items]),
            labels=torch.stack([it["label"] for it in items]),
            domains=torch.tensor([int(it["domain"]) for it in items], dtype=torch.int64),
            seeds=torch.tensor(seeds, dtype=torch.int64),
        )


def draw_normals(seeds: torch.Tensor, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, from a CPU generator seeded with its seed: one N(0, 1) scalar (its sigma,
    once scaled by the loss's P_mean and P_std) then unit noise of ``shape``. CPU generators,
    so a sample gets the same draws on any device, rank, worker or batch."""
    normals, noises = [], []
    for seed in seeds.cpu().tolist():
        g = seeded_generator(seed)
        normals.append(torch.randn((), generator=g))
        noises.append(torch.randn(shape, generator=g))
    return torch.stack(normals), torch.stack(noises)


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


@dataclass(frozen=True)
class _Failure:
    """An input error raised in a DataLoader worker, carried to the main process as data:
    DataLoader would re-raise it with the worker's traceback folded into the message, and
    the command line promises a one-line error naming the bad file."""

    message: str


class _BatchSource(IterableDataset[tuple[int, int, Batch] | _Failure]):
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

    def __iter__(self) -> Iterator[tuple[int, int, Batch] | _Failure]:
        info = get_worker_info()
        n, stride = (info.id, info.num_workers) if info is not None else (0, 1)
        while True:
            offset, micro = divmod(n, self.grad_accum_steps)
            step = self.start_step + offset
            try:
                batch = build_batch(self.dataset, self.sampler, self.seed, step, micro)
            except InputError as err:
                if info is None:
                    raise
                yield _Failure(str(err))
                return
            yield step, micro, batch
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
            return _raise_failures(iter(self._source))
        loader = DataLoader(
            self._source,
            batch_size=None,  # items are whole micro-batches already
            num_workers=self.num_workers,
            collate_fn=_as_is,
            prefetch_factor=2,
        )
        # iter() starts the workers now, so they prefetch while the caller sets up.
        return _raise_failures(iter(loader))


def _raise_failures(
    items: Iterator[tuple[int, int, Batch] | _Failure],
) -> Iterator[tuple[int, int, Batch]]:
    """Re-raise a worker's input error in this process, as the one line it was."""
    for item in items:
        if isinstance(item, _Failure):
            raise InputError(item.message)
        yield item
