"""What the trainer's guarantees cost: updates/s of ``train()`` against a bare loop.

Baseline ("bare"): a hand-written loop over the same model, data stream, AdamW, EMA,
accumulation and clipping, with no plan, guard, logging, evaluation or checkpoints. The
trainer runs the demo config with its logging, guard and checkpoint cadence as configured;
evaluation is moved out of the timed window (it is validation work, not overhead), and the
run's own ``updates_per_s`` records are reported beside the wall-clock ratio.

    python bench/overhead.py [--steps 200] [--set key=value ...]

Prints ``ratio = trainer / bare`` (target >= 0.95). Both run in this process, one after the
other, on one thread, so the machine's noise hits both alike; the order alternates per repeat.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import BatchStream
from unified_prior.data.sample import write_sample_dataset
from unified_prior.demo import demo_config_path
from unified_prior.train import dist
from unified_prior.train.build import build_run
from unified_prior.train.loop import train


def bare_loop(config: RunConfig) -> float:
    """Updates/s of the same work without any of the trainer's bookkeeping."""
    parts = build_run(config, dist.init("cpu"), None)
    accum = config.train.grad_accum_steps
    stream = iter(
        BatchStream(
            parts.train_set,
            parts.sampler,
            start_step=0,
            grad_accum_steps=accum,
            seed=config.train.seed,
            num_workers=config.data.num_workers,
        )
    )
    for group in parts.optimizer.param_groups:
        group["lr"] = config.optim.learning_rate
    started = time.perf_counter()
    for step in range(config.train.max_steps):
        parts.optimizer.zero_grad(set_to_none=True)
        for _ in range(accum):
            _, _, batch = next(stream)
            per_sample, _ = parts.loss_fn(parts.model, batch)
            (per_sample.mean() / accum).backward()
        torch.nn.utils.clip_grad_norm_(parts.net.parameters(), config.optim.grad_clip_norm)
        parts.optimizer.step()
        parts.ema.update(parts.net, step)
    return config.train.max_steps / (time.perf_counter() - started)


def trainer(config: RunConfig, run_dir: Path) -> tuple[float, float]:
    """(wall-clock updates/s excluding the two evaluations, mean logged updates_per_s)."""
    started = time.perf_counter()
    train(config, run_dir)
    wall = time.perf_counter() - started
    lines = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # The two evaluations (step 0 and the end) are validation, not overhead. Their cost does
    # not depend on the weights, so time the same evaluation on a fresh model and subtract it.
    from unified_prior.evaluate import evaluate_fixed_noise

    parts = build_run(config, dist.init("cpu"), None)
    t0 = time.perf_counter()
    for net in (parts.net, parts.ema.module):
        evaluate_fixed_noise(
            net,
            parts.val_set,
            sigmas=config.eval.sigmas,
            tiles_per_domain=config.eval.tiles_per_domain,
            seed=config.eval.seed,
            batch_size=config.train.batch_size,
            device="cpu",
        )
    eval_seconds = 2 * (time.perf_counter() - t0)  # at step 0 and at the end
    logged = [r["updates_per_s"] for r in lines if r["kind"] == "train"]
    return config.train.max_steps / (wall - eval_seconds), sum(logged) / len(logged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        write_sample_dataset(data)
        overrides = [
            f"data.root={data}",
            f"train.max_steps={args.steps}",
            f"eval.every_steps={args.steps}",  # evaluation at start and end only
            "log.progress=off",
            *args.overrides,
        ]
        config = load_config(demo_config_path(), overrides)
        bare, wall, logged = [], [], []
        for repeat in range(args.repeats):
            order = ("bare", "trainer") if repeat % 2 == 0 else ("trainer", "bare")
            for name in order:
                if name == "bare":
                    bare.append(bare_loop(config))
                else:
                    w, lg = trainer(config, Path(tmp) / f"run{repeat}")
                    wall.append(w)
                    logged.append(lg)
    median = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    b, w, lg = median(bare), median(wall), median(logged)
    print(
        f"config: demo.toml, {args.steps} updates, accumulation "
        f"{config.train.grad_accum_steps}, batch {config.train.batch_size}, 1 thread"
    )
    print(f"bare loop (baseline):        {b:8.2f} updates/s")
    print(f"train() wall, minus eval:    {w:8.2f} updates/s   ratio {w / b:.3f}")
    print(f"train() logged updates_per_s:{lg:8.2f} updates/s   ratio {lg / b:.3f}")
    if not math.isfinite(w / b) or w / b < 0.95:
        print("below the 0.95 target")


if __name__ == "__main__":
    main()
