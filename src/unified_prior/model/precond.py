"""EDM preconditioning (Karras et al. 2022, NVlabs/edm ``EDMPrecond``) with channel masks.

``D(x; sigma) = c_skip * x + c_out * F(c_in * x, c_noise)`` with ``c_skip = sd^2/(s^2+sd^2)``,
``c_out = s*sd/sqrt(s^2+sd^2)``, ``c_in = 1/sqrt(s^2+sd^2)``, ``c_noise = ln(s)/4``. The
coefficients and the combination are computed in fp32 even under bf16 autocast (EDM casts
``F_x`` back to fp32); only the U-Net runs in low precision. The channel mask enters as extra
input channels and zeroes the output's padded channels.
"""

from __future__ import annotations

import torch
from torch import nn

from unified_prior.config import ModelConfig
from unified_prior.data.domains import DomainRegistry
from unified_prior.errors import InputError
from unified_prior.model.unet import UNet


class EDMPrecond(nn.Module):
    """The denoiser ``D(x, sigma, labels, masks)`` around a raw U-Net."""

    def __init__(self, unet: nn.Module, *, sigma_data: float, max_channels: int) -> None:
        super().__init__()
        self.unet = unet
        self.sigma_data = float(sigma_data)
        self.max_channels = int(max_channels)

    def forward(
        self, x: torch.Tensor, sigma: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor
    ) -> torch.Tensor:
        """Denoised estimate ``[B, Cmax, R, R]`` (fp32, padded channels exactly zero)."""
        x = x.float()
        masks = masks.float()
        sigma = sigma.float().reshape(-1, 1, 1, 1)
        sd = self.sigma_data
        c_skip = sd**2 / (sigma**2 + sd**2)
        c_out = sigma * sd / (sigma**2 + sd**2).sqrt()
        c_in = 1 / (sd**2 + sigma**2).sqrt()
        c_noise = sigma.log().flatten() / 4
        net_in = torch.cat([c_in * x * masks, masks.expand_as(x)], dim=1)
        f_x = self.unet(net_in, c_noise, labels)
        return (c_skip * x + c_out * f_x.float()) * masks


def check_model_config(model: ModelConfig, resolution: int) -> None:
    """Reject a U-Net shape the resolution cannot hold, naming the keys to change."""
    depth = len(model.channel_mult) - 1
    if resolution % (1 << depth):
        raise InputError(
            f"data.resolution={resolution} must be divisible by 2**{depth} for "
            f"model.channel_mult={model.channel_mult}; change one of them"
        )
    levels = [resolution >> i for i in range(depth + 1)]
    unused = sorted(set(model.attention_resolutions) - set(levels))
    if unused:
        raise InputError(
            f"model.attention_resolutions={model.attention_resolutions}: {unused} is not a "
            f"U-Net level at data.resolution={resolution}; choose from {levels}"
        )


def build_model(model: ModelConfig, registry: DomainRegistry, resolution: int) -> EDMPrecond:
    """The preconditioned U-Net for the config's shape, the registry's channels and labels.

    Weights are initialised from torch's global RNG: seed it first for a reproducible init.
    """
    check_model_config(model, resolution)
    cmax = registry.max_channels
    unet = UNet(
        resolution=resolution,
        in_channels=2 * cmax,  # image + channel mask
        out_channels=cmax,
        label_dim=registry.label_dim,
        channels=model.channels,
        channel_mult=list(model.channel_mult),
        blocks_per_level=model.blocks_per_level,
        attention_resolutions=list(model.attention_resolutions),
        dropout=model.dropout,
    )
    return EDMPrecond(unet, sigma_data=model.sigma_data, max_channels=cmax)
