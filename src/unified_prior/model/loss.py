"""The EDM training loss with per-sample seeded noise and channel masks.

``sigma = exp(P_mean + P_std * n)``, ``y + sigma * noise`` → ``D``, and
``weight * (D - y)^2`` with ``weight = (sigma^2 + sd^2) / (sigma * sd)^2``. Because
``D - y = c_out * (F - target)`` and ``weight = 1 / c_out^2``, this equals the MSE of ``F``
against its target ``(y - c_skip * (y + n)) / c_out`` (k-diffusion ``Denoiser.loss``). Each
sample's loss is the mean over its *valid* channels only, so every tile counts the same
whatever its channel count.
"""

from __future__ import annotations

import torch
from torch import nn

from unified_prior.data.batch import Batch, draw_normals


def draw_sigma_noise(
    seeds: torch.Tensor, shape: tuple[int, ...], p_mean: float, p_std: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample log-normal sigma ``[B]`` and unit noise ``[B, *shape]`` from each sample's
    own CPU generator: the draws ``Batch`` carries, with sigma scaled as ``EDMLoss`` does."""
    sigma_normal, noise = draw_normals(seeds, shape)
    return log_normal_sigma(sigma_normal, p_mean, p_std), noise


def log_normal_sigma(sigma_normal: torch.Tensor, p_mean: float, p_std: float) -> torch.Tensor:
    """EDM's training noise levels: ``exp(P_mean + P_std * n)`` for standard normal ``n``."""
    return (sigma_normal * p_std + p_mean).exp()


def masked_weighted_mse(
    denoised: torch.Tensor,
    clean: torch.Tensor,
    sigma: torch.Tensor,
    masks: torch.Tensor,
    sigma_data: float,
) -> torch.Tensor:
    """Per-sample EDM-weighted squared error, averaged over valid channels and pixels."""
    sigma = sigma.reshape(-1, 1, 1, 1)
    weight = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
    err = weight * (denoised - clean) ** 2 * masks
    pixels = clean.shape[-1] * clean.shape[-2]
    return err.sum(dim=(1, 2, 3)) / (masks.sum(dim=(1, 2, 3)) * pixels)


class EDMLoss:
    """EDM loss; ``__call__(net, batch)`` → (per-sample loss ``[B]``, sigma ``[B]``)."""

    def __init__(self, p_mean: float, p_std: float, sigma_data: float) -> None:
        self.p_mean = float(p_mean)
        self.p_std = float(p_std)
        self.sigma_data = float(sigma_data)

    def __call__(self, net: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        # The draws come with the batch (made in the data workers, off this thread).
        sigma = log_normal_sigma(batch.sigma_normal, self.p_mean, self.p_std)
        masks = batch.masks.float()
        clean = batch.images.float() * masks
        noisy = clean + batch.noise * sigma.reshape(-1, 1, 1, 1) * masks
        denoised = net(noisy, sigma, batch.labels, masks)
        return masked_weighted_mse(denoised.float(), clean, sigma, masks, self.sigma_data), sigma
