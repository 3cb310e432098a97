"""``uprior data noisy``: seeded Poisson–Gaussian observations of a folder of clean tiles.

Mirrors ``ROOT/<domain>/<split>/*.pt`` under ``OUT`` with the same names. Each file's noise
comes from a generator seeded by ``(seed, "<domain>/<split>/<name>")``, so a table built on
these files is reproducible by anyone with the tiles, and one file's noise does not depend
on which other files exist. Every input is read and checked before anything is written.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from unified_prior.data.seeds import derive_seed, seeded_generator
from unified_prior.errors import InputError
from unified_prior.prior.files import load_payload, save_tile
from unified_prior.prior.noise import NoiseModel

STREAM_OBSERVE = 0x4F425356  # "OBSV"


@dataclass(frozen=True)
class NoisySummary:
    out: Path
    counts: dict[str, int]

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in self.counts.items())
        return f"wrote {sum(self.counts.values())} observations to {self.out} ({parts})"


def observation_generator(seed: int, relative: str) -> torch.Generator:
    return seeded_generator(derive_seed(seed, STREAM_OBSERVE, zlib.crc32(relative.encode())))


def write_noisy_dataset(root: Path, out: Path, noise: NoiseModel, seed: int = 0) -> NoisySummary:
    """Observations of every tile under ``root`` written to ``out`` (same layout and names)."""
    if not root.is_dir():
        raise InputError(f"ROOT {root}: no such folder; pass a folder of <domain>/<split>/*.pt")
    files = sorted(root.glob("*/*/*.pt"))
    if not files:
        raise InputError(f"ROOT {root}: no tiles in <domain>/<split>/*.pt")
    if out.resolve() == root.resolve():
        raise InputError(f"--out {out}: must differ from ROOT, or the clean tiles are replaced")
    planned = []
    for path in files:
        payload = load_payload(path, "tile")
        clean = payload.get("clean_norm")
        if not isinstance(clean, torch.Tensor) or not clean.is_floating_point() or clean.ndim != 3:
            raise InputError(f"tile {path}: expected a float 'clean_norm' tensor [C, H, W]")
        planned.append((path.relative_to(root).as_posix(), clean.float()))
    counts: dict[str, int] = {}
    for relative, clean in planned:
        noisy = noise.observe(clean, observation_generator(seed, relative))
        save_tile(
            out / relative,
            {
                "noisy": noisy,
                "clean_norm": clean,
                "metadata": {**noise.to_dict(), "seed": seed, "source": relative},
            },
        )
        domain = relative.split("/", 1)[0]
        counts[domain] = counts.get(domain, 0) + 1
    return NoisySummary(out=out, counts=counts)
