"""What ``uprior sample`` and ``uprior restore`` do, as importable functions.

Both check every input (checkpoint, domains, files, noise parameters) before writing
anything, so bad input leaves no partial output behind.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from pathlib import Path

from unified_prior.errors import InputError
from unified_prior.prior.files import read_observation, save_grid, save_tile, to_tile
from unified_prior.prior.loaded import METHODS, load_prior
from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.sampler import Churn


def write_samples(
    checkpoint: Path,
    domains: Sequence[str],
    out: Path,
    *,
    num: int,
    steps: int = 32,
    churn: float = 0.0,
    seed: int = 0,
    ema: bool = True,
) -> list[str]:
    """Samples per domain in ``out/<domain>/samples/sample_NNNN.pt`` and ``out/<domain>.png``."""
    if num < 1 or num > 10000:
        raise InputError(f"--num {num}: must be between 1 and 10000")
    if steps < 1:
        raise InputError(f"--steps {steps}: must be ≥ 1")
    if churn < 0:
        raise InputError(f"--churn {churn}: must be ≥ 0 (0 is the deterministic ODE)")
    if not domains:
        raise InputError("--domain: name at least one domain")
    prior = load_prior(checkpoint, ema=ema)
    for name in domains:
        prior.domain(name)  # reject an unknown domain before sampling any
    lines = []
    for name in dict.fromkeys(domains):
        x = prior.sample(name, num, steps=steps, churn=Churn(s_churn=churn), seed=seed)
        tiles = [to_tile(t) for t in x]
        for i, tile in enumerate(tiles):
            save_tile(
                out / name / "samples" / f"sample_{i:04d}.pt",
                {
                    "clean_norm": tile,
                    "metadata": {
                        "domain": name,
                        "checkpoint": str(checkpoint),
                        "step": prior.step,
                        "seed": seed,
                        "index": i,
                        "steps": steps,
                        "churn": churn,
                        "weights": "ema" if ema else "raw",
                    },
                },
            )
        grid = save_grid(tiles, out / f"{name}.png")
        lines.append(f"{name}: {num} samples in {out / name / 'samples'}, grid {grid}")
    return lines


def restore_files(
    checkpoint: Path,
    noisy: Sequence[Path],
    *,
    domain: str,
    photons_at_white: float,
    read_noise: float,
    out: Path,
    method: str = "posterior",
    steps: int = 32,
    seed: int = 0,
) -> list[str]:
    """Restore each observation file into ``out/<same name>`` (``restored``, ``metadata``)."""
    noise = NoiseModel(photons_at_white, read_noise)
    if method not in METHODS:
        raise InputError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if steps < 1:
        raise InputError(f"--steps {steps}: must be ≥ 1")
    names = [p.name for p in noisy]
    if len(set(names)) != len(names):
        raise InputError("NOISY: two inputs share a file name; restore them into separate --out")
    prior = load_prior(checkpoint)
    d = prior.domain(domain)
    observations = [read_observation(p, d.channels) for p in noisy]
    lines = []
    for path, y in zip(noisy, observations, strict=True):
        # The file name (not its position in the list) seeds its posterior sample.
        restored = prior.restore(
            y[None],
            domain,
            noise.photons_at_white,
            noise.read_noise,
            method=method,
            steps=steps,
            seed=seed,
            indices=[zlib.crc32(path.name.encode())],
        )[0]
        target = out / path.name
        save_tile(
            target,
            {
                "restored": restored,
                "metadata": {
                    "method": method,
                    "steps": steps if method == "posterior" else 0,
                    "seed": seed,
                    **noise.to_dict(),
                    "domain": domain,
                    "checkpoint": str(checkpoint),
                    "step": prior.step,
                    "source": str(path),
                },
            },
        )
        lines.append(f"{path} → {target}")
    return lines
