"""The production config on one GPU: updates/s, images/s, peak memory and MFU.

Runs ``train()`` on ``configs/unified_prior.toml`` (128 px, [1,2,2,2] x 128 channels, two
blocks per level, attention at 16, batch 32 x accumulation 2) twice in this process:
``train.precision=bf16`` (autocast, the production setting) and the baseline
``train.precision=fp32``, and prints bf16 / fp32. The tiles are the bundled sample images cut
at 128 px. Throughput is the run's own ``updates_per_s`` records (evaluation and checkpoint
time excluded), after the first logged window (CUDA warm-up) is dropped.

MFU = model FLOPs per second / the GPU's dense bf16 peak. Model FLOPs per update are counted
with ``torch.utils.flop_counter.FlopCounterMode`` on one forward + backward of a micro-batch,
times the accumulation steps.

    python bench/gpu_train.py [--steps 60] [--peak-tflops 989]

Needs CUDA; never part of CI.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import BatchStream
from unified_prior.data.sample import write_sample_dataset
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.loop import train

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "unified_prior.toml"


def short_run(data: Path, steps: int) -> list[str]:
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
        "data.num_workers=4",
    ]


def flops_per_update(config: RunConfig) -> tuple[float, int]:
    """(forward + backward FLOPs of one micro-batch times the accumulation steps, params)."""
    from torch.utils.flop_counter import FlopCounterMode

    parts = build_run(config, dist.init(config.train.device), None)
    stream = BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    _, _, batch = next(iter(stream))
    batch = batch.to(torch.device("cuda"))
    counter = FlopCounterMode(display=False)
    with counter:
        per_sample, _ = parts.loss_fn(parts.model, batch)
        per_sample.mean().backward()
    params = sum(p.numel() for p in parts.net.parameters())
    return float(counter.get_total_flops()) * config.train.grad_accum_steps, params


def run(config: RunConfig, run_dir: Path) -> dict[str, float]:
    torch.cuda.reset_peak_memory_stats()
    train(config, run_dir)
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    windows = [r for r in lines if r["kind"] == "train"][1:]  # drop the warm-up window
    ups = sum(r["updates_per_s"] for r in windows) / len(windows)
    return {
        "updates_per_s": ups,
        "images_per_s": sum(r["images_per_s"] for r in windows) / len(windows),
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        "final_loss": windows[-1]["loss"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu_train.py needs a CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 baseline means fp32
    torch.backends.cudnn.allow_tf32 = False
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_dataset(data, tile=128)
        common = short_run(data, args.steps)
        results = {}
        for precision in ("bf16", "fp32"):
            config = load_config(CONFIG, [*common, f"train.precision={precision}"])
            results[precision] = run(config, Path(tmp) / precision)
        flops, params = flops_per_update(load_config(CONFIG, [*common, "train.precision=fp32"]))
    batch = config.train.batch_size * config.train.grad_accum_steps
    print(f"model: {params / 1e6:.1f}M parameters; {flops / 1e12:.3f} TFLOP per update "
          f"(global batch {batch} at {config.data.resolution} px)")  # fmt: skip
    for name, r in results.items():
        mfu = flops * r["updates_per_s"] / (args.peak_tflops * 1e12)
        print(
            f"{name}: {r['updates_per_s']:.2f} updates/s, {r['images_per_s']:.0f} images/s, "
            f"peak {r['peak_gib']:.1f} GiB, MFU {mfu:.1%} of {args.peak_tflops:g} TFLOP/s, "
            f"loss {r['final_loss']:.4f}"
        )
    ratio = results["bf16"]["updates_per_s"] / results["fp32"]["updates_per_s"]
    print(f"ratio bf16 / fp32 (baseline) updates/s: {ratio:.2f}")


if __name__ == "__main__":
    main()
