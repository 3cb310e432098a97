"""Imaging domains: channel count and sensor of each, from ``[data.domains]``.

The registry fixes the order of domains (config order), hence the one-hot layout of the
label and the channel padding: every tile is padded to ``max_channels`` and carries a mask
of its valid channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from unified_prior.config import DataConfig

#: Sensor scalars in label order, after the domain one-hot.
SENSOR_KEYS = ("scale", "read_noise", "background")


@dataclass(frozen=True)
class Domain:
    """One imaging domain. Sensor values are in electrons."""

    name: str
    index: int
    channels: int
    scale: float
    read_noise: float
    background: float

    def sensor(self) -> tuple[float, float, float]:
        """The sensor scalars in ``SENSOR_KEYS`` order."""
        return (self.scale, self.read_noise, self.background)


class DomainRegistry:
    """The configured domains, in config order; index ``i`` is one-hot position ``i``."""

    def __init__(self, domains: list[Domain]) -> None:
        if not domains:
            raise ValueError("a DomainRegistry needs at least one domain")
        if [d.index for d in domains] != list(range(len(domains))):
            raise ValueError("domain indices must be 0..n-1 in order")
        self.domains = list(domains)
        self.names = [d.name for d in domains]
        self.max_channels = max(d.channels for d in domains)
        #: one-hot over domains + log10 sensor scalars (scale, read noise, background)
        self.label_dim = len(domains) + len(SENSOR_KEYS)

    @classmethod
    def from_config(cls, data: DataConfig) -> DomainRegistry:
        """Domains of ``[data.domains]`` in the order the config lists them."""
        return cls(
            [
                Domain(
                    name=name,
                    index=i,
                    channels=d.channels,
                    scale=d.scale,
                    read_noise=d.read_noise,
                    background=d.background,
                )
                for i, (name, d) in enumerate(data.domains.items())
            ]
        )

    def __len__(self) -> int:
        return len(self.domains)

    def __getitem__(self, name: str) -> Domain:
        for domain in self.domains:
            if domain.name == name:
                return domain
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"DomainRegistry({', '.join(f'{d.name}:{d.channels}ch' for d in self.domains)})"
