"""Where the production model's bf16 time goes on one GPU after ``train.compile``, and what
channels-last buys under it.

Baseline: ``train()`` on ``configs/unified_prior.toml`` in bf16, eager, NCHW (today's default).
Variants, in the same run: compiled (``--mode``, default ``default``) in NCHW, and compiled with
the network's weights in channels-last (NHWC), set by a callback before the first update
(eager channels-last was 0.77x of eager NCHW, bench/RESULTS.md). Prints updates/s of each and
the ratio to the baseline, then the kernels that take the most time in one forward + backward
of a micro-batch of the compiled step, by ``torch.profiler`` (``--top``, default 15), and the
eager one's for comparison.

    python bench/gpu_layout.py [--steps 40] [--mode default|max-autotune]

Needs CUDA for real figures; never part of CI. ``--device cpu`` runs the tiny demo config on
the CPU only to show the script works: its figures are not GPU results.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import torch

from gpu_train import CONFIG, TINY, short_run  # bench/ is the script's folder, so on sys.path
from unified_prior.config import RunConfig, load_config
from unified_prior.data import BatchStream
from unified_prior.data.sample import write_sample_dataset
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.compiled import compile_loss
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


def top_kernels(config: RunConfig, rows: int) -> str:
    """The profile of one micro-batch's forward + backward, as the trainer runs it."""
    from torch.profiler import ProfilerActivity, profile

    ctx = dist.init(config.train.device)
    cuda = ctx.device.type == "cuda"
    parts = build_run(config, ctx, None)
    loss_fn = compile_loss(parts.loss_fn, config.train.compile)
    stream = BatchStream(parts.train_set, parts.sampler, start_step=0, grad_accum_steps=1, seed=0)
    _, _, batch = next(iter(stream))
    batch = batch.to(ctx.device)
    sync = torch.cuda.synchronize if cuda else (lambda: None)

    def step() -> None:
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=cuda):
            per_sample, _ = loss_fn(parts.model, batch)
        per_sample.mean().backward()

    for _ in range(3):  # warm-up: compilation, cuDNN autotuning, allocator
        step()
    sync()
    activity = ProfilerActivity.CUDA if cuda else ProfilerActivity.CPU
    with profile(activities=[activity]) as prof:
        step()
        sync()
    key = "cuda_time_total" if cuda else "self_cpu_time_total"
    return str(prof.key_averages().table(sort_by=key, row_limit=rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--mode", default="default", choices=["default", "max-autotune"])
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    args = parser.parse_args()
    cpu = args.device == "cpu"
    if not cpu and not torch.cuda.is_available():
        raise SystemExit("bench/gpu_layout.py needs a CUDA device (--device cpu: a dry run)")
    name = "CPU dry run, NOT GPU figures" if cpu else torch.cuda.get_device_name()
    print(f"device: {name}, torch {torch.__version__}")
    config_file, tile = (TINY, 32) if cpu else (CONFIG, 128)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_dataset(data, tile=tile)
        common = [
            *short_run(data, args.steps, 0 if cpu else 4),
            "log.progress=off",
            "train.precision=bf16",
            f"train.device={args.device}",
        ]
        eager = load_config(config_file, [*common, "train.compile=off"])
        compiled = load_config(config_file, [*common, f"train.compile={args.mode}"])
        base = updates_per_s(eager, Path(tmp) / "eager", [])
        nchw = updates_per_s(compiled, Path(tmp) / "nchw", [])
        nhwc = updates_per_s(compiled, Path(tmp) / "nhwc", [ChannelsLast()])
        rows = [
            ("bf16 eager NCHW (baseline)", base),
            (f"bf16 compile={args.mode} NCHW", nchw),
            (f"bf16 compile={args.mode} channels-last", nhwc),
        ]
        for label, rate in rows:
            print(f"{label:<40} {rate:.2f} updates/s   ratio {rate / base:.2f}")
        print(f"\nOne micro-batch, forward + backward, compile={args.mode}:")
        print(top_kernels(compiled, args.top))
        print("\nThe same, eager:")
        print(top_kernels(eager, args.top))


if __name__ == "__main__":
    main()
