"""Exponential moving average of the weights with a half-life in optimizer steps.

EDM (``training_loop.py``): ``halflife = min(ema_halflife, step * ema_rampup_ratio)`` and
``beta = 0.5 ** (1 / halflife)``, counted here in optimizer updates rather than images. The
ramp-up keeps early averages from being dominated by the random init (a bare 0.999 decay
leaves init bias in early checkpoints); ``rampup_ratio = 0`` disables it. Update once per
optimizer step, never per micro-batch.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn


class EMA:
    """An averaged copy of a model (``module``: eval mode, no gradients)."""

    def __init__(self, model: nn.Module, halflife_steps: int, rampup_ratio: float) -> None:
        if halflife_steps <= 0 or rampup_ratio < 0:
            raise ValueError(
                f"EMA needs halflife_steps > 0 and rampup_ratio >= 0, got "
                f"{halflife_steps}, {rampup_ratio}"
            )
        self.halflife_steps = int(halflife_steps)
        self.rampup_ratio = float(rampup_ratio)
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    def beta(self, step: int) -> float:
        """Decay used by the update of optimizer step ``step`` (0-based: the update index,
        i.e. the number of updates completed before it). Step 0 copies the weights."""
        halflife = float(self.halflife_steps)
        if self.rampup_ratio > 0:
            halflife = min(halflife, step * self.rampup_ratio)
        return 0.5 ** (1.0 / halflife) if halflife > 0 else 0.0

    @torch.no_grad()
    def update(self, model: nn.Module, step: int, gate: torch.Tensor | None = None) -> float:
        """Blend ``model`` into the average after update ``step``; returns the beta used.

        ``gate`` (a 0-dim 0/1 tensor on the weights' device) makes the blend conditional
        without the host reading it: 0 leaves the average unchanged, as a skipped update must
        (the deferred finite check, ``train/finite.py``). ``None`` blends unconditionally.
        """
        beta = self.beta(step)
        averaged: list[torch.Tensor] = list(self.module.parameters())
        pairs = zip(model.parameters(), averaged, strict=True)
        current = [p.detach().to(q.dtype) for p, q in pairs]
        if gate is None:
            # One multi-tensor op instead of one lerp_ per parameter: on a GPU that is one
            # kernel launch per chunk of tensors, not ~300. torch's CPU foreach falls back
            # to the per-tensor lerp_, so CPU results are bit-identical to the loop it
            # replaces (tests/model/test_ema_foreach.py).
            torch._foreach_lerp_(averaged, current, 1.0 - beta)
        else:
            weight = gate.to(averaged[0].dtype) * (1.0 - beta)
            delta = list(torch._foreach_sub(current, averaged))
            torch._foreach_mul_(delta, weight)
            torch._foreach_add_(averaged, delta)
        buffers = list(self.module.buffers())
        if buffers:
            torch._foreach_copy_(buffers, list(model.buffers()))
        return beta

    def state_dict(self) -> dict[str, Any]:
        """The averaged weights: a plain model state dict, loadable into a fresh model."""
        return self.module.state_dict()

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.module.load_state_dict(d)
