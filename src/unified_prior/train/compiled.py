"""``train.compile``: the denoiser and its loss as one ``torch.compile``'d function.

On a GPU the production model's time goes mostly to elementwise kernels (GroupNorm, SiLU, the
modulation, EDM's preconditioning and loss weights) rather than to convolutions
(bench/RESULTS.md); compiling the loss together with the network lets Inductor fuse those
chains. ``off`` (the default) is today's eager run, bit for bit.

Graph breaks: ``torch._dynamo.explain`` finds none in the loss + denoiser of one process
(tests/train/test_compile.py keeps it that way). Under DDP there are two, at DDP's own
forward bookkeeping (``Logger.set_runtime_stats_and_log`` in ``_pre_forward``), which splits
the step into the loss's preprocessing, the network and the loss: DDP's documented way to be
compiled, not something our code can remove.

Compilation happens in the first update (forward and backward); ``CompileTimer`` reports its
time once and keeps that update out of the throughput figures.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from unified_prior.data.batch import Batch
from unified_prior.model import EDMLoss
from unified_prior.train.metrics import Recorder

LossFn = Callable[[nn.Module, Batch], tuple[torch.Tensor, torch.Tensor]]


def compile_loss(loss_fn: EDMLoss, mode: str) -> LossFn:
    """``loss_fn(model, batch)`` compiled in ``mode``, or ``loss_fn`` itself for ``off``."""
    if mode == "off":
        return loss_fn

    def forward_loss(model: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        return loss_fn(model, batch)

    # ``train.compile`` values are torch.compile modes; ``max-autotune`` also captures CUDA
    # graphs on a GPU, which suits this step: every update has the same shapes. Not
    # fullgraph=True: DDP's wrapper breaks the graph by design (module docstring).
    return torch.compile(forward_loss, mode=mode)


class CompileTimer:
    """The first update of a compiled run includes compiling: time it once, say so, and keep
    it out of the throughput window."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.pending = mode != "off"
        self.seconds: float | None = None

    def first_update(self, seconds: float, recorder: Recorder) -> bool:
        """Whether this update (taking ``seconds``) is the one that compiled; its time is
        logged, once."""
        if not self.pending:
            return False
        self.pending = False
        self.seconds = seconds
        recorder.message(
            f"train.compile={self.mode}: the first update took {seconds:.1f} s, compilation "
            "included; it is left out of updates_per_s and images_per_s"
        )
        return True
