"""The denoiser: ADM/EDM-style U-Net, EDM preconditioning with channel masks, loss, EMA."""

from unified_prior.model.ema import EMA
from unified_prior.model.loss import EDMLoss, draw_sigma_noise, masked_weighted_mse
from unified_prior.model.precond import EDMPrecond, build_model, check_model_config
from unified_prior.model.unet import UNet

__all__ = [
    "EMA",
    "EDMLoss",
    "EDMPrecond",
    "UNet",
    "build_model",
    "check_model_config",
    "draw_sigma_noise",
    "masked_weighted_mse",
]
