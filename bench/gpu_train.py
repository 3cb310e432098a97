"""The production config on one GPU, eager against compiled: updates/s, images/s, peak
memory and MFU, and whether the two runs' loss curves agree.

Runs ``train()`` on ``configs/unified_prior.toml`` (128 px, [1,2,2,2] x 128 channels, two
blocks per level, attention at 16, batch 32 x accumulation 2) in this process, once per
``train.compile`` mode (``--modes``, default ``off,default``) in bf16 autocast (the production
setting); ``--fp32`` adds the earlier fp32 eager baseline. The baseline of the ratios is eager
bf16 (``train.compile=off``), measured in the same run. The tiles are the bundled sample
images cut at 128 px. Throughput is the run's own ``updates_per_s`` records (evaluation and
checkpoint time excluded, and a compiled run's first update, which compiles, is excluded by
the trainer and reported as ``compile_s``), after the first logged window (warm-up) is
dropped. The loss curves are compared record by record (same seed, same batches): bf16 noise
is a few 1e-3 relative.

MFU = model FLOPs per second / the GPU's dense bf16 peak. Model FLOPs per update are counted
with ``torch.utils.flop_counter.FlopCounterMode`` on one forward + backward of a micro-batch,
times the accumulation steps.

    python bench/gpu_train.py [--steps 60] [--modes off,default,max-autotune] [--fp32]
                              [--splits 64x1,16x4] [--peak-tflops 989]

``--splits`` adds runs at other micro-batch / accumulation splits of the same global batch
(the production split is 32x2), with the last of ``--modes``.

Needs CUDA for real figures; never part of CI. ``--device cpu`` runs the tiny demo config
on the CPU only to show the script works: its figures are not GPU results.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import BatchStream
from unified_prior.data.sample import write_sample_dataset
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.loop import train

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "unified_prior.toml"
TINY = ROOT / "configs" / "demo.toml"  # --device cpu: proves the script runs, nothing more


def short_run(data: Path, steps: int, workers: int = 4) -> list[str]:
    """Overrides for a short timing run of the production config on ``data``'s tiles:
    evaluation and a checkpoint only at the end, a record every 10 updates."""
    return [
        f"data.root={data}",
        f"train.max_steps={steps}",
        "schedule.warmup_steps=10",
        f"checkpoint.every_steps={steps}",
        f"eval.every_steps={steps}",
        "eval.tiles_per_domain=8",
        "log.every_steps=10",
        "log.progress=plain",
        f"data.num_workers={workers}",
    ]


def flops_per_update(config: RunConfig) -> tuple[float, int]:
    """(forward + backward FLOPs of one micro-batch times the accumulation steps, params)."""
    from torch.utils.flop_counter import FlopCounterMode

    ctx = dist.init(config.train.device)
    parts = build_run(config, ctx, None)
    stream = BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    _, _, batch = next(iter(stream))
    batch = batch.to(ctx.device)
    counter = FlopCounterMode(display=False)
    with counter:
        per_sample, _ = parts.loss_fn(parts.model, batch)
        per_sample.mean().backward()
    params = sum(p.numel() for p in parts.net.parameters())
    return float(counter.get_total_flops()) * config.train.grad_accum_steps, params


def run(config: RunConfig, run_dir: Path) -> dict[str, Any]:
    cuda = torch.cuda.is_available() and config.train.device != "cpu"
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    train(config, run_dir)
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    records = [r for r in lines if r["kind"] == "train"]
    windows = records[1:]  # drop the warm-up window
    if not windows:
        raise SystemExit(f"{run_dir.name}: one train record only; pass --steps above 20")
    return {
        "updates_per_s": sum(r["updates_per_s"] for r in windows) / len(windows),
        "images_per_s": sum(r["images_per_s"] for r in windows) / len(windows),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan"),
        "compile_s": records[0].get("compile_s"),
        "losses": {r["step"]: r["loss"] for r in records},
        "effective": lines[0]["config"]["effective"],
    }


def loss_agreement(a: dict[int, float], b: dict[int, float]) -> str:
    """Largest relative difference of two runs' logged losses at the same steps."""
    steps = sorted(set(a) & set(b))
    worst = max(abs(a[s] - b[s]) / abs(b[s]) for s in steps)
    last = steps[-1]
    return f"max relative loss difference {worst:.2e} over {len(steps)} records " + (
        f"(step {last}: {a[last]:.4f} vs {b[last]:.4f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--modes", default="off,default", help="train.compile values")
    parser.add_argument("--fp32", action="store_true", help="add the fp32 eager baseline")
    parser.add_argument(
        "--splits",
        default="",
        help="batch_size x grad_accum_steps at the same global batch, e.g. 64x1,16x4: runs "
        "with the last of --modes",
    )
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak")
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args()
    cpu = args.device == "cpu"
    if not cpu and not torch.cuda.is_available():
        raise SystemExit("bench/gpu_train.py needs a CUDA device (--device cpu: a dry run)")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 baseline means fp32
    torch.backends.cudnn.allow_tf32 = False
    name = "CPU dry run, NOT GPU figures" if cpu else torch.cuda.get_device_name()
    print(f"device: {name}, torch {torch.__version__}")
    config_file, tile = (TINY, 32) if cpu else (CONFIG, 128)
    runs = [(f"bf16 compile={m}", ["train.precision=bf16", f"train.compile={m}"])
            for m in args.modes.split(",")]  # fmt: skip
    if args.fp32:
        runs.append(("fp32 compile=off", ["train.precision=fp32", "train.compile=off"]))
    last_mode = args.modes.split(",")[-1]
    for split in filter(None, args.splits.split(",")):
        size, accum = split.split("x")
        runs.append(
            (
                f"bf16 compile={last_mode} {size}x{accum}",
                ["train.precision=bf16", f"train.compile={last_mode}",
                 f"train.batch_size={size}", f"train.grad_accum_steps={accum}"],
            )
        )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_dataset(data, tile=tile)
        common = [*short_run(data, args.steps, 0 if cpu else 4), f"train.device={args.device}"]
        results = {}
        for label, overrides in runs:
            config = load_config(config_file, [*common, *overrides])
            results[label] = run(config, Path(tmp) / label.replace(" ", "_"))
        fp32 = load_config(config_file, [*common, "train.precision=fp32"])
        flops, params = flops_per_update(fp32)
    batch = config.train.batch_size * config.train.grad_accum_steps
    print(f"model: {params / 1e6:.1f}M parameters; {flops / 1e12:.3f} TFLOP per update "
          f"(global batch {batch} at {config.data.resolution} px)")  # fmt: skip
    base_label = runs[0][0]
    base = results[base_label]
    for label, r in results.items():
        mfu = flops * r["updates_per_s"] / (args.peak_tflops * 1e12)
        effective = r["effective"]
        compiled = f", compile {r['compile_s']:.1f} s (excluded)" if r["compile_s"] else ""
        print(
            f"{label} [{effective['precision']}, {effective['optimizer']} AdamW, finite check "
            f"{effective['finite_check']}]: {r['updates_per_s']:.2f} updates/s, "
            f"{r['images_per_s']:.0f} images/s, "
            + (
                "peak memory and MFU n/a (CPU)"
                if cpu
                else f"peak {r['peak_gib']:.1f} GiB, MFU {mfu:.1%} of {args.peak_tflops:g} TFLOP/s"
            )
            + f"{compiled}; ratio / {base_label} (baseline) "
            f"{r['updates_per_s'] / base['updates_per_s']:.2f}"
        )
        if label != base_label:
            print(f"  loss vs baseline: {loss_agreement(r['losses'], base['losses'])}")


if __name__ == "__main__":
    main()
