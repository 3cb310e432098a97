"""The demo's pictures of a prior: a sample grid per domain and one restoration figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from unified_prior.data.tiles import TileDataset
from unified_prior.prior.commands import write_samples
from unified_prior.prior.files import preview
from unified_prior.prior.loaded import load_prior
from unified_prior.prior.noise import NoiseModel
from unified_prior.prior.observations import observation_generator

#: The figure's observation: 10 photons at white, 1% read noise (a dim indoor raw frame).
PHOTONS_AT_WHITE, READ_NOISE = 10.0, 0.01


@dataclass(frozen=True)
class DemoFigures:
    sample_grids: list[Path]
    restoration: Path


def psnr(clean: torch.Tensor, estimate: torch.Tensor) -> float:
    from skimage.metrics import peak_signal_noise_ratio

    return float(
        peak_signal_noise_ratio(clean.double().numpy(), estimate.double().numpy(), data_range=1.0)
    )


def write_demo_figures(
    checkpoint: Path, data_root: Path, out: Path, *, num: int = 16, steps: int = 32
) -> DemoFigures:
    """``out/samples/<domain>.png`` (+ the sample tiles) and ``out/restoration.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    prior = load_prior(checkpoint)
    write_samples(checkpoint, prior.domains, out / "samples", num=num, steps=steps, seed=0)
    grids = [out / "samples" / f"{d}.png" for d in prior.domains]

    split = prior.config.data.split_val
    val = TileDataset(data_root, split, prior.registry, prior.resolution, prior.stats)
    noise = NoiseModel(PHOTONS_AT_WHITE, READ_NOISE)
    fig, axes = plt.subplots(len(prior.domains), 4, figsize=(10, 2.6 * len(prior.domains)))
    axes = axes.reshape(len(prior.domains), 4)
    for row, d in enumerate(prior.registry.domains):
        i = val.tiles_of_domain[d.index][0]
        clean = val.load(i)
        y = noise.observe(clean, observation_generator(0, f"{d.name}/{split}/{val.paths[i].name}"))
        results = {
            "noisy": y.clamp(0, 1),
            "VST + prior": prior.restore(y[None], d.name, noise.photons_at_white,
                                         noise.read_noise, method="vst")[0],
            "posterior sample": prior.restore(y[None], d.name, noise.photons_at_white,
                                              noise.read_noise, steps=steps)[0],
        }  # fmt: skip
        for col, (name, image) in enumerate([*results.items(), ("clean", clean)]):
            ax = axes[row, col]
            shown = preview(image)
            ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, vmin=0, vmax=1)
            title = name if name == "clean" else f"{name}\n{psnr(clean, image):.2f} dB"
            ax.set_title(title, fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(d.name)
    fig.suptitle(
        f"{prior.step}-update prior, {PHOTONS_AT_WHITE:g} photons at white, read noise "
        f"{READ_NOISE:g} (PSNR vs clean)",
        fontsize=10,
    )
    fig.tight_layout()
    path = out / "restoration.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return DemoFigures(sample_grids=grids, restoration=path)
