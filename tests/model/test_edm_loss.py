"""The EDM loss: closed form at initialisation, F-target equivalence, masks, seeded draws."""

from __future__ import annotations

import torch

from unified_prior.data import derive_seed
from unified_prior.model import EDMLoss, draw_sigma_noise, masked_weighted_mse

SD = 0.5


def _valid_mean_square(batch) -> torch.Tensor:
    """E[x^2] per sample over its valid channels only."""
    pixels = batch.images.shape[-1] * batch.images.shape[-2]
    return (batch.images**2 * batch.masks).sum((1, 2, 3)) / (batch.masks.sum((1, 2, 3)) * pixels)


def _closed_form(sigma: torch.Tensor, ex2: torch.Tensor) -> torch.Tensor:
    return (sigma**2 * ex2 + SD**4) / ((sigma**2 + SD**2) * SD**2)


def test_loss_at_initialisation_matches_the_closed_form(tiny_net, make_batch) -> None:
    # F = 0 at init, so D = c_skip (y + sigma n); its expected weighted error over the noise
    # is (sigma^2 E[y^2] + sd^4) / ((sigma^2 + sd^2) sd^2).
    batch = make_batch([0, 1, 2] * 30, seed=3)
    with torch.no_grad():
        loss, sigma = EDMLoss(-1.2, 1.2, SD)(tiny_net, batch)
    expected = _closed_form(sigma, _valid_mean_square(batch))
    assert loss.shape == sigma.shape == (90,)
    # Per sample: 1024 (1 ch) or 4096 (4 ch) noise values, ~5% sampling noise (1 sd).
    torch.testing.assert_close(loss, expected, rtol=0.25, atol=0)
    # On the batch the sampling noise averages out.
    assert abs(float(loss.mean() / expected.mean()) - 1) < 0.02


def test_loss_equals_the_exact_value_for_the_drawn_noise(tiny_net, make_batch) -> None:
    batch = make_batch([0, 1, 2, 2], seed=4)
    loss, sigma = EDMLoss(-1.2, 1.2, SD)(tiny_net, batch)
    _, noise = draw_sigma_noise(batch.seeds, tuple(batch.images.shape[1:]), -1.2, 1.2)
    s = sigma.reshape(-1, 1, 1, 1)
    c_skip = SD**2 / (s**2 + SD**2)
    denoised = c_skip * (batch.images + s * noise) * batch.masks
    weight = (s**2 + SD**2) / (s * SD) ** 2
    err = (weight * (denoised - batch.images) ** 2 * batch.masks).sum((1, 2, 3))
    exact = err / (batch.masks.sum((1, 2, 3)) * 32 * 32)
    torch.testing.assert_close(loss, exact)


def test_weighted_loss_is_mse_on_the_f_target(randomise_output, tiny_net, make_batch) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([0, 1, 2], seed=5)
    loss, sigma = EDMLoss(-1.2, 1.2, SD)(net, batch)
    _, noise = draw_sigma_noise(batch.seeds, tuple(batch.images.shape[1:]), -1.2, 1.2)
    s = sigma.reshape(-1, 1, 1, 1)
    y, m = batch.images, batch.masks
    noisy = y + s * noise * m
    c_skip, c_out = SD**2 / (s**2 + SD**2), s * SD / (s**2 + SD**2).sqrt()
    c_in = 1 / (s**2 + SD**2).sqrt()
    with torch.no_grad():
        f = net.unet(
            torch.cat([c_in * noisy, m.expand_as(noisy)], 1), sigma.log() / 4, batch.labels
        )
    target = (y - c_skip * noisy) / c_out
    mse = ((f - target) ** 2 * m).sum((1, 2, 3)) / (m.sum((1, 2, 3)) * 32 * 32)
    torch.testing.assert_close(loss.detach(), mse, rtol=1e-4, atol=1e-6)


def test_padded_channels_of_the_output_do_not_reach_the_loss(
    randomise_output, tiny_net, make_batch
) -> None:
    net = randomise_output(tiny_net)
    batch = make_batch([1, 2, 0], seed=6)
    loss_fn = EDMLoss(-1.2, 1.2, SD)
    seen: dict[str, torch.Tensor] = {}

    def capture_input(module, args):
        seen["x"] = args[0]

    handle = net.register_forward_pre_hook(capture_input)
    base, _ = loss_fn(net, batch)
    handle.remove()
    # Noise is masked too: the noisy input is exactly zero on padded channels.
    assert torch.all(seen["x"][:2, 1:] == 0) and seen["x"][2].abs().min() >= 0

    # Perturb the padded channels of the network's raw output F: the loss must not move.
    def perturb(module, args, output):
        out = output.clone()
        out[:2, 1:] += 1000.0 * torch.randn_like(out[:2, 1:])
        return out

    handle = net.unet.register_forward_hook(perturb)
    perturbed, _ = loss_fn(net, batch)
    handle.remove()
    torch.testing.assert_close(perturbed, base, rtol=0, atol=0)

    # A valid channel perturbed the same way does move it (the check can fail).
    def perturb_valid(module, args, output):
        out = output.clone()
        out[:2, :1] += 1.0
        return out

    handle = net.unet.register_forward_hook(perturb_valid)
    moved, _ = loss_fn(net, batch)
    handle.remove()
    assert torch.all(moved[:2] != base[:2]) and moved[2] == base[2]


def test_masked_mean_counts_a_one_channel_tile_like_a_four_channel_one() -> None:
    clean = torch.zeros(2, 4, 8, 8)
    denoised = torch.zeros(2, 4, 8, 8)
    denoised[:, 0] = 1.0  # error 1 on the first channel
    denoised[0, 1:] = 1.0  # and on all channels of the 4-channel sample
    masks = torch.tensor([[1.0, 1, 1, 1], [1.0, 0, 0, 0]]).reshape(2, 4, 1, 1)
    sigma = torch.full((2,), SD)  # weight 2 / sd^2 = 8
    loss = masked_weighted_mse(denoised * masks, clean, sigma, masks, SD)
    torch.testing.assert_close(loss, torch.tensor([8.0, 8.0]))


def test_sigma_is_log_normal_and_draws_depend_only_on_the_seed() -> None:
    seeds = torch.tensor([derive_seed(9, i) for i in range(4000)])
    sigma, noise = draw_sigma_noise(seeds, (1, 2, 2), -1.2, 1.2)
    log_sigma = sigma.log()
    assert abs(float(log_sigma.mean()) + 1.2) < 0.06
    assert abs(float(log_sigma.std()) - 1.2) < 0.05
    assert abs(float(noise.mean())) < 0.03 and abs(float(noise.std()) - 1) < 0.03
    # The same seed gives the same draw wherever it sits in a batch.
    s2, n2 = draw_sigma_noise(seeds[[17, 3]], (1, 2, 2), -1.2, 1.2)
    assert torch.equal(s2, sigma[[17, 3]]) and torch.equal(n2, noise[[17, 3]])
    # The global RNG is neither used nor advanced.
    state = torch.get_rng_state()
    torch.manual_seed(123)
    s3, _ = draw_sigma_noise(seeds[:5], (1, 2, 2), -1.2, 1.2)
    assert torch.equal(s3, sigma[:5])
    torch.set_rng_state(state)
