"""The multi-tensor EMA update gives, bit for bit, what one ``lerp_`` per parameter gave
(the code it replaced), so exact resume and every stored average are unaffected; the gated
form used by the deferred finite check blends or holds without the host reading the gate."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unified_prior.model import EMA, EDMPrecond


def per_parameter_update(ema: EMA, model: nn.Module, step: int) -> None:
    """The update as it was before the foreach change: one lerp_ per parameter."""
    beta = ema.beta(step)
    with torch.no_grad():
        for p_ema, p_net in zip(ema.module.parameters(), model.parameters(), strict=True):
            p_ema.lerp_(p_net.detach().to(p_ema.dtype), 1.0 - beta)
        for b_ema, b_net in zip(ema.module.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b_net)


def perturb(net: nn.Module, seed: int) -> None:
    """Move every weight as an optimizer step would: by a small, different random amount."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01)


def bits(module: nn.Module) -> list[torch.Tensor]:
    return [t.detach().clone() for t in module.state_dict().values()]


@pytest.mark.parametrize(("halflife", "rampup"), [(2, 0.05), (2000, 0.05), (20, 0.0)])
def test_foreach_update_is_bit_identical_to_the_per_parameter_loop(
    tiny_net: EDMPrecond, halflife: int, rampup: float
) -> None:
    foreach = EMA(tiny_net, halflife, rampup)
    loop = EMA(tiny_net, halflife, rampup)
    net = copy.deepcopy(tiny_net)
    # Steps 0-40 cover the copy at step 0, ramp-up weights above and below 0.5 (lerp's two
    # formulas) and the configured half-life.
    for step in range(41):
        perturb(net, step)
        foreach.update(net, step)
        per_parameter_update(loop, net, step)
    a, b = bits(foreach.module), bits(loop.module)
    assert all(torch.equal(x, y) for x, y in zip(a, b, strict=True))
    # A test that cannot fail is no test: the average really moved away from the init.
    assert not all(torch.equal(x, y) for x, y in zip(a, bits(tiny_net), strict=True))


def test_gate_one_blends_and_gate_zero_holds_the_average(tiny_net: EDMPrecond) -> None:
    gated = EMA(tiny_net, 20, 0.0)
    plain = EMA(tiny_net, 20, 0.0)
    net = copy.deepcopy(tiny_net)
    perturb(net, 1)
    before = bits(gated.module)
    gated.update(net, 5, gate=torch.tensor(0.0))
    assert all(torch.equal(x, y) for x, y in zip(bits(gated.module), before, strict=True))
    gated.update(net, 5, gate=torch.tensor(1.0))
    plain.update(net, 5)
    # The gated form is sub-mul-add rather than lerp: equal to rounding, not bit for bit.
    for x, y in zip(bits(gated.module), bits(plain.module), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)
    assert not all(torch.equal(x, y) for x, y in zip(bits(gated.module), before, strict=True))
