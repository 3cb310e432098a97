"""The deferred finite check skips exactly the updates the per-update host read skips.

The deferred path runs on CUDA with fused AdamW. Fused AdamW also runs on the CPU (and honours
``found_inf`` there), so both paths are compared here on a real tiny model with a real
non-finite gradient, same optimizer, same batches: only when the host learns differs.
"""

from __future__ import annotations

import copy

import torch

from unified_prior.config import OptimConfig
from unified_prior.data import BatchStream
from unified_prior.model import EMA
from unified_prior.train import dist
from unified_prior.train.build import build_optimizer, build_run, optimizer_kind
from unified_prior.train.finite import FiniteCheck, Outcome, can_defer

BAD_UPDATE = 2


def run_updates(make_config, *, deferred: bool, updates: int = 4):
    ctx = dist.init("cpu")
    parts = build_run(make_config(), ctx, None)
    net = parts.net
    optimizer = torch.optim.AdamW(
        [{"params": list(net.parameters()), "weight_decay": 1e-3}], lr=1e-3, fused=True
    )
    ema = EMA(net, 2, 0.0)
    check = FiniteCheck(ctx, optimizer, deferred=deferred)
    stream = iter(
        BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    )
    outcomes: list[Outcome] = []
    for step in range(updates):
        optimizer.zero_grad(set_to_none=True)
        _, _, batch = next(stream)
        per_sample, _ = parts.loss_fn(net, batch)
        loss = per_sample.mean()
        loss.backward()
        if step == BAD_UPDATE:  # one poisoned gradient entry, as an overflow would leave
            next(net.parameters()).grad.view(-1)[0] = float("nan")
        grad_norm = torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        verdict = check.judge(step, loss.detach(), grad_norm)
        if verdict.go:
            optimizer.step()
            ema.update(net, step, gate=verdict.gate)
        outcomes += check.settle(force=False)
    held_back = len(outcomes)
    outcomes += check.settle(force=True)
    return net, ema, optimizer, outcomes, held_back


def test_deferred_check_skips_what_the_host_check_skips(make_config) -> None:
    net_h, ema_h, opt_h, host, held_h = run_updates(make_config, deferred=False)
    net_d, ema_d, opt_d, deferred, held_d = run_updates(make_config, deferred=True)
    # The host path reports every update at once; the deferred one only when forced.
    assert held_h == 4 and held_d == 0
    assert [o.updated for o in host] == [True, True, False, True]
    assert [(o.step, o.updated) for o in deferred] == [(o.step, o.updated) for o in host]
    for a, b in zip(deferred, host, strict=True):
        assert a.loss == b.loss and (a.grad_norm == b.grad_norm or a.grad_norm != a.grad_norm)
    # Weights and optimizer state bit for bit: fused AdamW's on-device skip is a true skip
    # (moments untouched, step count taken back).
    for a, b in zip(net_d.state_dict().values(), net_h.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    sd, sh = opt_d.state_dict()["state"], opt_h.state_dict()["state"]
    assert sd.keys() == sh.keys()
    for key in sh:
        assert float(sd[key]["step"]) == float(sh[key]["step"]) == 3.0  # 4 updates, 1 skipped
        assert torch.equal(sd[key]["exp_avg"], sh[key]["exp_avg"])
        assert torch.equal(sd[key]["exp_avg_sq"], sh[key]["exp_avg_sq"])
    # The EMA's gated blend is sub-mul-add, not lerp: equal to rounding.
    for a, b in zip(ema_d.module.parameters(), ema_h.module.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


def test_deferral_only_on_cuda_with_fused_adamw_and_no_callbacks(make_config) -> None:
    ctx = dist.init("cpu")
    net = build_run(make_config(), ctx, None).net
    optimizer = build_optimizer(net, OptimConfig())
    # The CPU keeps torch's default AdamW (bit-identical to earlier runs) and the host check.
    assert optimizer.param_groups[0]["fused"] is None
    assert optimizer_kind(optimizer) == "for-loop"
    assert not can_defer(ctx, optimizer, [])
    fused = torch.optim.AdamW(copy.deepcopy(net).parameters(), fused=True)
    assert optimizer_kind(fused) == "fused"
    assert not can_defer(ctx, fused, [])  # fused, but on the CPU
