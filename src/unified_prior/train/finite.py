"""The skip rule's finite check, read by the host every update or only when needed.

The rule (``train/loop.py``): an update changes the weights, the EMA and the optimizer state
only when its loss (averaged over ranks) and its gradient norm are finite; otherwise it is
skipped, counted in ``skipped_updates`` and reported by a warning. Deciding that on the host
reads two device scalars every update, which on a GPU stalls the host until the backward pass
is done, so it cannot queue the next update's kernels meanwhile.

Deferred (CUDA with fused AdamW, no callbacks): the verdict stays on the device. Fused AdamW
takes it as ``found_inf``, the flag ``torch.amp.GradScaler`` hands the optimizer to skip a
step on the device (the kernel leaves weights and moments alone and the step count is taken
back), and the EMA blends by it as a 0/1 gate. The host reads the verdicts, losses and
gradient norms in one transfer when something needs them: a train record, an evaluation, a
checkpoint (``skipped_updates`` is part of it), or the end of the run. Which updates are
skipped is the same as with the per-update read; only the warnings come later.

Everywhere else (the CPU, unfused optimizers, runs with callbacks, which take ``updated`` as a
bool every update) the host reads every update, exactly as before; CPU runs stay bit-identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from unified_prior.train import dist


@dataclass(frozen=True)
class Verdict:
    """What the loop does with one update."""

    go: bool  # call optimizer.step() and the EMA update
    gate: torch.Tensor | None  # deferred: the 0/1 device flag the EMA blends by
    updated: bool | None  # the host's answer, None while deferred


@dataclass(frozen=True)
class Outcome:
    """One update as the host finally knows it."""

    step: int
    loss: float
    grad_norm: float
    updated: bool


def can_defer(
    ctx: dist.DistContext, optimizer: torch.optim.Optimizer, callbacks: Sequence[object]
) -> bool:
    """Deferral needs an optimizer that can skip on the device, and no callback waiting for a
    per-update bool."""
    fused = all(group.get("fused") for group in optimizer.param_groups)
    return ctx.device.type == "cuda" and fused and not callbacks


class FiniteCheck:
    """Judges each update; ``settle`` hands the host the outcomes it has learnt, in order."""

    def __init__(
        self, ctx: dist.DistContext, optimizer: torch.optim.Optimizer, *, deferred: bool
    ) -> None:
        self.ctx = ctx
        self.optimizer = optimizer
        self.deferred = deferred
        self._ready: list[Outcome] = []
        self._steps: list[int] = []
        self._rows: list[torch.Tensor] = []  # deferred: [loss, grad norm, finite] per update

    def judge(self, step: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> Verdict:
        if not self.deferred:
            finite = bool(torch.isfinite(loss)) and bool(torch.isfinite(grad_norm))
            updated = dist.all_true(self.ctx, finite)
            self._ready.append(Outcome(step, float(loss), float(grad_norm), updated))
            return Verdict(go=updated, gate=None, updated=updated)
        flag = (torch.isfinite(loss) & torch.isfinite(grad_norm)).float()
        if self.ctx.enabled:  # every rank skips together (NCCL reduces without a host read)
            torch_dist.all_reduce(flag, op=torch_dist.ReduceOp.MIN)
        # GradScaler's protocol: Adam/AdamW.step() passes ``self.found_inf`` to the fused
        # kernel, which then leaves this update out on the device.
        self.optimizer.found_inf = 1.0 - flag  # type: ignore[attr-defined]
        self._steps.append(step)
        self._rows.append(torch.stack([loss.detach().float(), grad_norm.detach().float(), flag]))
        return Verdict(go=True, gate=flag, updated=None)

    def settle(self, *, force: bool) -> list[Outcome]:
        """Outcomes not yet handed out; deferred ones are read (one sync) only when ``force``."""
        if self._rows and force:
            rows = torch.stack(self._rows).tolist()
            self._ready += [
                Outcome(step, loss, grad_norm, flag > 0.5)
                for step, (loss, grad_norm, flag) in zip(self._steps, rows, strict=True)
            ]
            self._steps, self._rows = [], []
        ready, self._ready = self._ready, []
        return ready
