"""Restoration and sample quality of a checkpoint, on its val tiles, in one run.

For each domain × photon level (A photons at white, read noise R, in the tile's normalised
units), seeded observations ``y = Poisson(A x)/A + N(0, R²)`` of the first
``--tiles-per-domain`` val tiles are restored by:

* ``noisy``: y as observed (already divided by A: the count image scaled by exposure,
  values outside [0, 1] kept);
* ``exposure-scaled``: the same clipped to [0, 1], as a display pipeline shows it (the
  trivial estimator every method must beat);
* ``VST+BM3D``: generalized Anscombe, BM3D (the ``bm3d`` package, ``pip install
  .[bench]``) at the matching sigma per channel, exact unbiased inverse — the classical anchor;
* ``VST+prior``: the same with the prior's denoiser instead of BM3D;
* ``posterior``: posterior sampling (one sample; guided EDM sampler).

PSNR and SSIM come from scikit-image (data range 1); time per tile is wall-clock on this
machine. Then SWD of the prior's samples against val crops, beside the untrained model and
the Gaussian matched in mean and covariance. Writes a markdown table (default
``bench/results/restore.md``) headed by the checkpoint's training length.

    python bench/restore.py CHECKPOINT [--photons 1,10,100] [--read-noise 0.01]
        [--tiles-per-domain 8] [--steps 16] [--swd-samples 64 (0: skip)] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from unified_prior.data.tiles import TileDataset
from unified_prior.prior import NoiseModel, Prior, load_prior
from unified_prior.prior.observations import observation_generator
from unified_prior.prior.quality import sample_quality
from unified_prior.prior.restore import vst_denoise

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("noisy", "exposure-scaled", "VST+BM3D", "VST+prior", "posterior")


def bm3d_denoiser(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D per image and channel at noise std ``sigma`` (x ``[B, C, H, W]``)."""
    import bm3d

    out = torch.empty_like(x)
    for i in range(x.shape[0]):
        for c in range(x.shape[1]):
            plane = x[i, c].double().numpy()
            out[i, c] = torch.from_numpy(np.asarray(bm3d.bm3d(plane, sigma_psd=sigma)))
    return out


def scores(clean: torch.Tensor, estimate: torch.Tensor) -> tuple[float, float]:
    """Mean scikit-image PSNR and SSIM over a batch ``[B, C, H, W]`` (data range 1)."""
    psnr, ssim = [], []
    for c, e in zip(clean.double().numpy(), estimate.double().numpy(), strict=True):
        psnr.append(peak_signal_noise_ratio(c, e, data_range=1.0))
        ssim.append(structural_similarity(c, e, data_range=1.0, channel_axis=0))
    return statistics.fmean(psnr), statistics.fmean(ssim)


def restorers(
    prior: Prior, domain: str, noise: NoiseModel, steps: int, seed: int
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    a, r = noise.photons_at_white, noise.read_noise
    return {
        "noisy": lambda y: y,
        "exposure-scaled": lambda y: y.clamp(0, 1),
        "VST+BM3D": lambda y: vst_denoise(bm3d_denoiser, y, noise),
        "VST+prior": lambda y: prior.restore(y, domain, a, r, method="vst"),
        "posterior": lambda y: prior.restore(y, domain, a, r, steps=steps, seed=seed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--photons", default="1,10,100")
    parser.add_argument("--read-noise", type=float, default=0.01)
    parser.add_argument("--tiles-per-domain", type=int, default=8)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--swd-samples", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "restore.md")
    args = parser.parse_args()

    prior = load_prior(args.checkpoint)
    root = args.data_root or Path(prior.config.data.root)
    cfg = prior.config
    val = TileDataset(root, cfg.data.split_val, prior.registry, prior.resolution, prior.stats)
    photons = [float(p) for p in args.photons.split(",")]
    lines = [
        f"# Restoration and sample quality: {args.checkpoint}",
        "",
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC, `python bench/restore.py "
        f"{args.checkpoint} --photons {args.photons} --read-noise {args.read_noise} "
        f"--tiles-per-domain {args.tiles_per_domain} --steps {args.steps}`; "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.1f}, torch threads {torch.get_num_threads()}.",
        "",
        f"**Checkpoint: {prior.step} updates** (of train.max_steps={cfg.train.max_steps}; batch "
        f"{cfg.train.batch_size}×{cfg.train.grad_accum_steps}, {cfg.data.resolution} px, "
        f"model.channels={cfg.model.channels}, EMA weights). A few hundred CPU updates make "
        "a toy prior: read the numbers as a check of the machinery, not of the method.",
        "",
        "PSNR (dB) / SSIM, mean over tiles (scikit-image, data range 1); time per tile in s.",
        "",
        "| domain | photons | " + " | ".join(METHODS) + " |",
        "|---|---:|" + "---:|" * len(METHODS),
    ]
    beats: list[str] = []
    # --tiles-per-domain 0 skips restoration (to run the SWD part in a process of its own).
    for d in prior.registry.domains if args.tiles_per_domain > 0 else []:
        idx = val.tiles_of_domain[d.index][: args.tiles_per_domain]
        clean = torch.stack([val.load(i) for i in idx])
        names = [f"{d.name}/{cfg.data.split_val}/{val.paths[i].name}" for i in idx]
        for a in photons:
            noise = NoiseModel(a, args.read_noise)
            y = torch.stack(
                [
                    noise.observe(c, observation_generator(args.seed, n))
                    for c, n in zip(clean, names, strict=True)
                ]
            )
            cells, row = [], {}
            for method, fn in restorers(prior, d.name, noise, args.steps, args.seed).items():
                start = time.perf_counter()
                estimate = fn(y)
                per_tile = (time.perf_counter() - start) / len(y)
                row[method] = scores(clean, estimate)
                cells.append(f"{row[method][0]:.2f} / {row[method][1]:.3f} ({per_tile:.2g} s)")
            lines.append(f"| {d.name} | {a:g} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
            for method in ("VST+prior", "posterior"):
                if not all(row[method][0] > row[b][0] for b in ("noisy", "exposure-scaled")):
                    beats.append(f"{method} does not beat both baselines: {d.name} A={a:g}")
    lines += [
        "",
        *(beats or ["Both prior methods beat noisy and exposure-scaled (PSNR) in every row."]),
    ]

    if args.swd_samples <= 0:  # restoration only
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
        return
    rows = sample_quality(prior, root, num=args.swd_samples, steps=32, seed=args.seed)
    lines += [
        "",
        f"## Sample quality: SWD ×1e3 vs {args.swd_samples} val crops (lower is closer)",
        "",
        f"{args.swd_samples} samples each (32 Heun steps); per Laplacian level, finest first; "
        "mean in bold. Untrained = the run's step-0 weights; Gaussian = matched in mean and "
        "covariance to val crops.",
        "",
        "| domain | prior | untrained | Gaussian |",
        "|---|---|---|---|",
    ]
    for q in rows:
        cells = [
            f"**{q.mean(k):.1f}** ({', '.join(f'{v:.1f}' for v in q.swd[k])})"
            for k in ("prior", "untrained", "gaussian")
        ]
        lines.append(f"| {q.domain} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
