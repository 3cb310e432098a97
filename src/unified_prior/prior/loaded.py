"""A trained prior as a Python object: ``load_prior(checkpoint)`` → ``Prior``.

The checkpoint carries everything needed: the config (model shape, domains, sigma_data), the
label statistics of the training set, and raw and EMA weights. Nothing is recomputed from
data, so a prior loads without its training tiles.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from unified_prior.config import RunConfig, config_from_dict
from unified_prior.data.domains import Domain, DomainRegistry
from unified_prior.data.labels import LabelStats
from unified_prior.data.seeds import derive_seed, seeded_generator
from unified_prior.errors import InputError
from unified_prior.model import EDMPrecond, build_model
from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.restore import posterior_sample, vst_denoise
from unified_prior.prior.sampler import Churn, edm_sample
from unified_prior.prior.schedule import karras_sigmas
from unified_prior.prior.tiling import tiled_apply
from unified_prior.train.checkpoint import CheckpointError, load_checkpoint

#: Seed stream tags of the prior's uses (the trainer's tags live in data/seeds.py).
STREAM_SAMPLE = 0x50524953  # "PRIS": a sample's initial and churn noise
STREAM_RESTORE = 0x50524952  # "PRIR": a restoration's posterior-sampling noise

METHODS = ("posterior", "vst")


def _domain_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def sample_generators(seed: int, domain: str, indices: Sequence[int]) -> list[torch.Generator]:
    """One generator per sample index: sample ``i`` of ``(seed, domain)`` never depends on N."""
    return [
        seeded_generator(derive_seed(seed, STREAM_SAMPLE, _domain_key(domain), i)) for i in indices
    ]


@dataclass
class Prior:
    """A denoiser ``D(x; sigma)`` per domain, with the sampler and restoration on top."""

    net: EDMPrecond
    config: RunConfig
    registry: DomainRegistry
    stats: LabelStats
    step: int
    path: Path | None = None
    batch_size: int = 32
    overlap: int = 8

    @property
    def resolution(self) -> int:
        return self.config.data.resolution

    @property
    def domains(self) -> list[str]:
        return list(self.registry.names)

    def domain(self, name: str) -> Domain:
        """The domain called ``name``; ``InputError`` lists the known ones."""
        try:
            return self.registry[name]
        except KeyError:
            where = f"checkpoint {self.path}" if self.path else "this prior"
            raise InputError(
                f"--domain {name!r}: {where} knows {', '.join(self.domains)}; pick one of them"
            ) from None

    def _check_channels(self, x: torch.Tensor, domain: Domain, what: str) -> None:
        if x.ndim != 4 or x.shape[1] != domain.channels:
            raise InputError(
                f"{what}: shape {tuple(x.shape)}; domain {domain.name!r} needs "
                f"[B, {domain.channels}, H, W]"
            )

    @torch.no_grad()
    def denoise(self, x: torch.Tensor, sigma: float, domain: str) -> torch.Tensor:
        """``D(x; sigma)`` for ``x`` ``[B, C, H, W]`` of ``domain`` (any H, W: tiled)."""
        d = self.domain(domain)
        self._check_channels(x, d, "denoise input")
        cmax = self.registry.max_channels
        label = self.stats.label(d, self.registry)
        mask = torch.zeros(cmax, 1, 1)
        mask[: d.channels] = 1.0

        def run(window: torch.Tensor) -> torch.Tensor:
            n, _, h, w = window.shape
            padded = torch.zeros(n, cmax, h, w)
            padded[:, : d.channels] = window.float()
            out = self.net(
                padded,
                torch.full((n,), float(sigma)),
                label.expand(n, -1),
                mask.expand(n, -1, -1, -1),
            )
            return out[:, : d.channels].to(window.dtype)

        return tiled_apply(run, x, self.resolution, self.overlap, self.batch_size)

    def sample(
        self,
        domain: str,
        num: int,
        *,
        steps: int = 32,
        churn: Churn | None = None,
        seed: int = 0,
        start: int = 0,
        latents: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``num`` samples ``[num, C, R, R]`` (float64, unclipped): indices start..start+num-1."""
        d = self.domain(domain)
        if num < 1 or steps < 1:
            raise InputError(f"--num {num} / --steps {steps}: both must be ≥ 1")
        shape = (d.channels, self.resolution, self.resolution)
        generators = sample_generators(seed, d.name, range(start, start + num))
        sigmas = karras_sigmas(steps)
        return edm_sample(
            lambda x, s: self.denoise(x, s, d.name), sigmas, generators, shape, churn, latents
        )

    def restore(
        self,
        noisy: torch.Tensor,
        domain: str,
        photons_at_white: float,
        read_noise: float,
        *,
        method: str = "posterior",
        steps: int = 32,
        seed: int = 0,
        indices: Sequence[int] | None = None,
    ) -> torch.Tensor:
        """Restore observations ``y = Poisson(A x)/A + N(0, R²)`` ``[B, C, H, W]`` → [0, 1]."""
        noise = NoiseModel(photons_at_white, read_noise)
        d = self.domain(domain)
        self._check_channels(noisy, d, "noisy input")
        if method not in METHODS:
            raise InputError(f"--method {method!r}: choose one of {', '.join(METHODS)}")

        def denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
            return self.denoise(x, sigma, d.name)

        if method == "vst":
            return vst_denoise(denoise, noisy, noise)
        idx = list(indices) if indices is not None else list(range(len(noisy)))
        generators = [
            seeded_generator(derive_seed(seed, STREAM_RESTORE, _domain_key(d.name), i)) for i in idx
        ]
        return posterior_sample(denoise, noisy, noise, generators, steps=steps)


def load_prior(checkpoint: Path | str, ema: bool = True) -> Prior:
    """The prior stored in one of our checkpoints (EMA weights unless ``ema=False``)."""
    path = Path(checkpoint)
    state = load_checkpoint(path)
    try:
        config = config_from_dict(dict(state["config"]), source=f"checkpoint {path} config")
        stats = LabelStats.from_dict(state["data_stats"])
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(
            f"checkpoint {path}: unusable config or label stats ({err})"
        ) from None
    registry = DomainRegistry.from_config(config.data)
    net = build_model(config.model, registry, config.data.resolution)
    try:
        net.load_state_dict(state["ema" if ema else "model"])
    except (RuntimeError, KeyError, TypeError) as err:
        first = str(err).splitlines()[0][:160]
        raise CheckpointError(
            f"checkpoint {path}: weights do not fit its own config ({first})"
        ) from None
    net.eval()
    step = int(state["step"])
    return Prior(net=net, config=config, registry=registry, stats=stats, step=step, path=path)


def untrained_prior(prior: Prior, seed: int | None = None) -> Prior:
    """The same architecture at initialisation (the run's own step-0 weights by default)."""
    from unified_prior.train.build import SEED_INIT

    torch.manual_seed(derive_seed(prior.config.train.seed if seed is None else seed, SEED_INIT))
    net = build_model(prior.config.model, prior.registry, prior.resolution)
    net.eval()
    return Prior(net=net, config=prior.config, registry=prior.registry, stats=prior.stats, step=0)
