"""Process-group set-up for ``torchrun``: one process per device, PyTorch DDP.

We detect the launcher the way nanoGPT and torchtitan do (``RANK``/``WORLD_SIZE``/
``LOCAL_RANK`` in the environment) and otherwise run as a single process. NCCL on CUDA,
gloo on CPU. Rank 0 alone writes files; every rank runs the same plan and guard.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class DistContext:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    #: Whether ``init`` created the process group (and ``shutdown`` should destroy it); a
    #: group the caller set up before calling ``train()`` stays theirs.
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def resolve_device(requested: str, local_rank: int = 0) -> torch.device:
    """``auto`` → this process's CUDA device when one exists, else CPU."""
    if requested == "cpu" or (requested == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        from unified_prior.errors import InputError

        raise InputError("train.device='cuda' but no CUDA device is visible; use cpu or auto")
    return torch.device("cuda", local_rank)


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(requested_device: str) -> DistContext:
    """Join the process group when launched by ``torchrun``; a no-op otherwise."""
    if not launched_by_torchrun():
        return DistContext(0, 0, 1, resolve_device(requested_device))
    rank = int(os.environ["RANK"])
    world_size = int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    device = resolve_device(requested_device, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    owns_group = not torch_dist.is_initialized()
    if owns_group:
        if device.type == "cuda":
            # Binding the group to this rank's GPU lets barrier() and NCCL know the device
            # instead of guessing it from the rank (torch warns and may hang on a wrong guess).
            torch_dist.init_process_group(backend="nccl", device_id=device)
        else:
            torch_dist.init_process_group(backend="gloo")
    return DistContext(rank, local_rank, world_size, device, owns_group)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank. Collective: every rank must call it at the same point, so never
    call it (or anything that calls it, like a checkpoint save) from a rank-0-only branch."""
    if ctx.enabled:
        torch_dist.barrier()


def all_true(ctx: DistContext, flag: bool) -> bool:
    """Whether ``flag`` holds on every rank (so all ranks skip, stop or save together)."""
    if not ctx.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    torch_dist.all_reduce(value, op=torch_dist.ReduceOp.MIN)
    return bool(value.item() > 0.5)


def any_true(ctx: DistContext, flag: bool) -> bool:
    """Whether ``flag`` holds on some rank; also how rank 0 shares a decision only it made."""
    return not all_true(ctx, not flag)


def total(ctx: DistContext, value: torch.Tensor) -> torch.Tensor:
    """Sum of a tensor over ranks, on the input's device (a copy; the input is untouched).

    The reduction runs on the rank's device, since NCCL cannot reduce CPU tensors; statistics
    kept on the CPU (per-sigma loss sums) come back there.
    """
    if not ctx.enabled:
        return value
    out = value.detach().to(ctx.device, copy=True)
    torch_dist.all_reduce(out, op=torch_dist.ReduceOp.SUM)
    return out.to(value.device)


def mean(ctx: DistContext, value: torch.Tensor) -> torch.Tensor:
    """Mean of a tensor over ranks (a copy; the input is untouched)."""
    if not ctx.enabled:
        return value
    return total(ctx, value) / ctx.world_size


def shutdown(ctx: DistContext) -> None:
    # Not ``ctx.enabled``: torchrun with one process still has a group to tear down.
    if ctx.owns_group and torch_dist.is_initialized():
        with contextlib.suppress(Exception):  # the launcher may already have torn it down
            torch_dist.destroy_process_group()


@contextlib.contextmanager
def maybe_no_sync(module: torch.nn.Module, skip_sync: bool) -> Iterator[None]:
    """DDP's ``no_sync`` on all but the last micro-batch of an accumulation group."""
    if skip_sync and isinstance(module, torch.nn.parallel.DistributedDataParallel):
        with module.no_sync():
            yield
    else:
        yield
