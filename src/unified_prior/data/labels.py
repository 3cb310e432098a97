"""The conditioning label: domain one-hot + standardised log10 sensor scalars.

The original run fed ``log10(scale).clamp(-1, 1)``, which is 1.0 for every domain: the
feature carried nothing. Here each sensor scalar ``v`` (electrons, ``v >= 0``) becomes
``log10(1 + v)`` (finite at a zero background, ~``log10(v)`` for large values), then is
standardised with the mean and standard deviation over the *training* tiles. The statistics
are part of the model: they are stored in checkpoints and reused for validation and
sampling, never recomputed from other data.

A scalar that is the same for every training tile (e.g. the default background of 0 e- in
every domain) has no spread: it is standardised to 0 and carries no information, and
``constant_components`` names it so callers can say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from unified_prior.data.domains import SENSOR_KEYS, Domain, DomainRegistry

if TYPE_CHECKING:
    from unified_prior.data.tiles import TileDataset

#: Spread below which a standardised component is considered constant (log10 units).
_MIN_STD = 1e-6


def sensor_features(domain: Domain) -> list[float]:
    """``log10(1 + v)`` of the domain's sensor scalars, in ``SENSOR_KEYS`` order."""
    return [math.log10(1.0 + v) for v in domain.sensor()]


@dataclass(frozen=True)
class LabelStats:
    """Mean and standard deviation of ``log10(1 + sensor scalar)`` over training tiles."""

    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def from_dataset(cls, dataset: TileDataset) -> LabelStats:
        """Statistics over every tile of ``dataset`` (each tile counts once)."""
        return cls.from_domains(dataset.registry, dataset.domain_index)

    @classmethod
    def from_domains(cls, registry: DomainRegistry, domain_index: list[int]) -> LabelStats:
        """Statistics over tiles given by their domain indices (each tile counts once)."""
        if not domain_index:
            raise ValueError("label statistics need at least one training tile")
        rows = torch.tensor(
            [sensor_features(registry.domains[d]) for d in domain_index],
            dtype=torch.float64,
        )
        mean = rows.mean(dim=0)
        std = rows.std(dim=0, unbiased=False) if len(rows) > 1 else torch.zeros_like(mean)
        return cls(mean=tuple(mean.tolist()), std=tuple(std.tolist()))

    @property
    def constant_components(self) -> list[str]:
        """Sensor keys with no spread in the training set (standardised to 0)."""
        return [k for k, s in zip(SENSOR_KEYS, self.std, strict=True) if s < _MIN_STD]

    def standardise(self, features: list[float]) -> list[float]:
        """Standardised sensor features; a constant component maps to 0."""
        return [
            (f - m) / s if s >= _MIN_STD else 0.0
            for f, m, s in zip(features, self.mean, self.std, strict=True)
        ]

    def label(self, domain: Domain, registry: DomainRegistry) -> torch.Tensor:
        """The float32 label ``[label_dim]`` of a tile from ``domain``."""
        one_hot = [1.0 if i == domain.index else 0.0 for i in range(len(registry))]
        return torch.tensor(one_hot + self.standardise(sensor_features(domain)))

    def label_table(self, registry: DomainRegistry) -> torch.Tensor:
        """Labels of every domain, ``[n_domains, label_dim]``, row ``i`` for domain ``i``."""
        return torch.stack([self.label(d, registry) for d in registry.domains])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form for checkpoints and run headers."""
        return {
            "keys": list(SENSOR_KEYS),
            "transform": "log10(1+x)",
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LabelStats:
        """Inverse of ``to_dict``; rejects statistics made for other label features."""
        keys = list(d.get("keys", SENSOR_KEYS))
        if keys != list(SENSOR_KEYS) or d.get("transform", "log10(1+x)") != "log10(1+x)":
            raise ValueError(
                f"label statistics for keys {keys} / transform {d.get('transform')!r}; "
                f"this version expects {list(SENSOR_KEYS)} / 'log10(1+x)'"
            )
        mean, std = [float(v) for v in d["mean"]], [float(v) for v in d["std"]]
        if len(mean) != len(SENSOR_KEYS) or len(std) != len(SENSOR_KEYS):
            raise ValueError(f"label statistics need {len(SENSOR_KEYS)} means and stds")
        return cls(mean=tuple(mean), std=tuple(std))
