"""The trained prior in use: ``load_prior``, the EDM sampler, Poisson–Gaussian restoration
(posterior sampling, variance stabilisation), tiling, and sample quality (SWD)."""

from unified_prior.prior.loaded import METHODS, Prior, load_prior, untrained_prior
from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.sampler import Churn, edm_sample
from unified_prior.prior.schedule import karras_sigmas

__all__ = [
    "METHODS",
    "Churn",
    "NoiseModel",
    "Prior",
    "edm_sample",
    "karras_sigmas",
    "load_prior",
    "untrained_prior",
]
