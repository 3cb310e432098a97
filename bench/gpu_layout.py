"""Where the production model's bf16 time goes on one GPU, and what channels-last buys.

Baseline: ``train()`` on ``configs/unified_prior.toml`` in bf16 as it is (NCHW). Variant: the
same run with the network's weights in channels-last (NHWC) memory format, set by a callback
before the first update. Prints updates/s of both and the ratio, then the ten CUDA kernels
that take the most time in one forward + backward of a micro-batch (NCHW), by
``torch.profiler``.

    python bench/gpu_layout.py [--steps 40]

Needs CUDA; never part of CI.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from gpu_train import CONFIG, short_run  # bench/ is the script's folder, so on sys.path
from unified_prior.config import RunConfig, load_config
from unified_prior.data import BatchStream
from unified_prior.data.sample import write_sample_dataset
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.loop import Callback, TrainState, train


class ChannelsLast(Callback):
    """Convert the network to NHWC before the first update (parameters keep their identity,
    so the optimizer and EMA are unaffected)."""

    def on_train_start(self, run: TrainState) -> None:
        # torch's stubs omit memory_format, which Module.to accepts at run time.
        run.parts.net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def updates_per_s(config: RunConfig, run_dir: Path, callbacks: list[Callback]) -> float:
    train(config, run_dir, callbacks=callbacks)
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    windows = [r for r in lines if r["kind"] == "train"][1:]  # drop the warm-up window
    return sum(r["updates_per_s"] for r in windows) / len(windows)


def top_kernels(config: RunConfig) -> str:
    from torch.profiler import ProfilerActivity, profile

    parts = build_run(config, dist.init("cuda"), None)
    stream = BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    _, _, batch = next(iter(stream))
    batch = batch.to(torch.device("cuda"))

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            per_sample, _ = parts.loss_fn(parts.model, batch)
        per_sample.mean().backward()

    for _ in range(3):  # warm-up: cuDNN autotuning, allocator
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    return str(prof.key_averages().table(sort_by="cuda_time_total", row_limit=10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("bench/gpu_layout.py needs a CUDA device")
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_dataset(data, tile=128)
        overrides = [*short_run(data, args.steps), "log.progress=off", "train.precision=bf16"]
        config = load_config(CONFIG, overrides)
        nchw = updates_per_s(config, Path(tmp) / "nchw", [])
        nhwc = updates_per_s(config, Path(tmp) / "nhwc", [ChannelsLast()])
        print(f"bf16 NCHW (baseline):  {nchw:.2f} updates/s")
        print(f"bf16 channels-last:    {nhwc:.2f} updates/s   ratio {nhwc / nchw:.2f}")
        print(top_kernels(config))


if __name__ == "__main__":
    main()
