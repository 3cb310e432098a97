"""The U-Net and its EDM preconditioning: shapes, zero-initialised output, masks, the
coefficients, conditioning that reaches the output, and the production shape."""

from __future__ import annotations

import math

import pytest
import torch

from unified_prior.config import load_config
from unified_prior.data import DomainRegistry
from unified_prior.errors import InputError
from unified_prior.model import EDMPrecond, build_model, check_model_config
from unified_prior.model.unet import UNetBlock


def _forward(net: EDMPrecond, batch, sigma: torch.Tensor) -> torch.Tensor:
    noisy = batch.images + torch.randn_like(batch.images) * sigma.reshape(-1, 1, 1, 1)
    return net(noisy * batch.masks, sigma, batch.labels, batch.masks)


@pytest.mark.parametrize("domains", [[0, 0], [1, 1], [2, 2], [0, 1, 2]])
def test_tiny_forward_backward_for_every_domain(
    randomise_output, tiny_net, make_batch, domains
) -> None:
    batch = make_batch(domains)
    sigma = torch.full((len(domains),), 0.7)
    out = _forward(tiny_net, batch, sigma)
    assert out.shape == (len(domains), 4, 32, 32) and out.dtype == torch.float32
    out.square().mean().backward()
    grads = {n: p.grad for n, p in tiny_net.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    # Zero-initialised output: only the output conv can move at the first step.
    assert grads["unet.out_conv.weight"].abs().sum() > 0


def test_every_parameter_gets_a_gradient_once_output_is_nonzero(
    randomise_output, tiny_net, make_batch
) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([0, 1, 2])
    _forward(net, batch, torch.tensor([0.1, 1.0, 10.0])).square().mean().backward()
    dead = [n for n, p in net.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert dead == []


def test_zero_initialised_output_gives_c_skip_times_input(
    randomise_output, tiny_net, make_batch
) -> None:
    batch = make_batch([0, 1, 2, 1])
    sigma = torch.tensor([0.02, 0.5, 3.0, 80.0])
    x = batch.images + 0.3
    out = tiny_net(x, sigma, batch.labels, batch.masks)
    c_skip = 0.25 / (sigma**2 + 0.25)
    torch.testing.assert_close(out, c_skip.reshape(-1, 1, 1, 1) * x * batch.masks)


def test_preconditioning_coefficients(randomise_output, tiny_net, make_batch) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([0, 2])
    sigma = torch.tensor([0.3, 4.0])
    x = batch.images + torch.randn_like(batch.images) * sigma.reshape(-1, 1, 1, 1) * batch.masks
    seen = {}
    net.unet.register_forward_pre_hook(lambda m, args: seen.setdefault("args", args))
    out = net(x, sigma, batch.labels, batch.masks)
    net_in, c_noise, labels = seen["args"]
    torch.testing.assert_close(c_noise, sigma.log() / 4)
    s, sd = sigma.reshape(-1, 1, 1, 1), 0.5
    c_in, c_skip = 1 / (s**2 + sd**2).sqrt(), sd**2 / (s**2 + sd**2)
    c_out = s * sd / (s**2 + sd**2).sqrt()
    # The mask is fed to the network as extra input channels.
    torch.testing.assert_close(
        net_in, torch.cat([c_in * x * batch.masks, batch.masks.expand_as(x)], 1)
    )
    with torch.no_grad():
        f = net.unet(net_in, c_noise, labels)
    torch.testing.assert_close(out, (c_skip * x + c_out * f) * batch.masks)


def test_padded_channels_are_zero_and_padded_input_is_ignored(
    randomise_output, tiny_net, make_batch
) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([1, 2])  # one valid channel of four
    sigma = torch.tensor([1.0, 1.0])
    out = net(batch.images, sigma, batch.labels, batch.masks)
    assert torch.all(out[:, 1:] == 0) and out[:, :1].abs().sum() > 0
    garbage = batch.images.clone()
    garbage[:, 1:] = torch.randn_like(garbage[:, 1:]) * 100
    torch.testing.assert_close(net(garbage, sigma, batch.labels, batch.masks), out, rtol=0, atol=0)


def test_every_label_component_changes_the_output(randomise_output, tiny_net, make_batch) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([1])
    sigma = torch.tensor([0.5])
    base = net(batch.images, sigma, batch.labels, batch.masks)
    for k in range(batch.labels.shape[1]):
        labels = batch.labels.clone()
        labels[0, k] += 1.0
        assert not torch.allclose(net(batch.images, sigma, labels, batch.masks), base), k


def test_bf16_autocast_keeps_preconditioning_in_fp32(
    randomise_output, tiny_net, make_batch
) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([0, 1])
    sigma = torch.tensor([0.5, 2.0])
    ref = net(batch.images, sigma, batch.labels, batch.masks)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = net(batch.images, sigma, batch.labels, batch.masks)
    assert low.dtype == torch.float32
    assert torch.all(low[1, 1:] == 0)
    torch.testing.assert_close(low, ref, atol=0.05, rtol=0.05)


def _attention_blocks(net: EDMPrecond) -> int:
    return sum(1 for m in net.modules() if isinstance(m, UNetBlock) and m.num_heads > 0)


def test_tiny_config_has_no_attention_and_few_parameters(tiny_net) -> None:
    assert _attention_blocks(tiny_net) == 0
    assert 50_000 < sum(p.numel() for p in tiny_net.parameters()) < 1_000_000


@pytest.mark.slow
def test_production_config_builds_and_runs_one_128px_sample(make_batch) -> None:
    config = load_config(None, [])  # defaults: 128 px, 128 ch, [1, 2, 2, 2], 2 blocks, attn 16
    assert config.data.resolution == 128 and config.model.attention_resolutions == [16]
    registry = DomainRegistry.from_config(config.data)
    torch.manual_seed(0)
    net = build_model(config.model, registry, 128)
    params = sum(p.numel() for p in net.parameters())
    assert 20_000_000 < params < 100_000_000, params
    # Attention at 16 px: both encoder blocks, the middle and the three decoder blocks there.
    assert _attention_blocks(net) == 6
    batch = make_batch([2], resolution=128)
    with torch.no_grad():
        out = net(batch.images, torch.tensor([1.0]), batch.labels, batch.masks)
    assert out.shape == (1, 4, 128, 128) and torch.isfinite(out).all()
    assert torch.all(out[:, 1:] == 0)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["data.resolution=36", "model.channel_mult=[1, 2, 2, 2]"], "divisible by 2\\*\\*3"),
        (
            ["data.resolution=32", "model.attention_resolutions=[12]"],
            r"\[12\] is not a U-Net level",
        ),
    ],
)
def test_shapes_the_resolution_cannot_hold_are_named(overrides, message) -> None:
    config = load_config(None, overrides)
    with pytest.raises(InputError, match=message):
        check_model_config(config.model, config.data.resolution)


def test_fourier_features_are_the_same_in_every_model(tiny_config, registry) -> None:
    torch.manual_seed(1)
    a = build_model(tiny_config.model, registry, 32)
    torch.manual_seed(2)
    b = build_model(tiny_config.model, registry, 32)
    assert torch.equal(a.unet.map_noise.freqs, b.unet.map_noise.freqs)
    assert not torch.equal(a.unet.conv_in.weight, b.unet.conv_in.weight)
    assert math.isclose(a.sigma_data, 0.5)
