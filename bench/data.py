"""Data and model throughput on this machine: tiles/s from the ``.pt`` layout, steps/s of the
tiny and the production U-Net.

1. Tiles/s of ``BatchStream`` (load + validate + random crop + pad + mask + label, seeded)
   with 0, 2 and 4 DataLoader workers. Baseline ("bare load"): a plain
   ``torch.load(weights_only=True)`` loop over the same files, no crop or batching.
2. Training steps/s (forward + backward + AdamW step, EDM loss) of the tiny CPU config
   (32 px, 16 ch, [1, 2], 1 block, no attention) and of the production config (128 px,
   128 ch, [1, 2, 2, 2], 2 blocks, attention at 16) at a small batch. Baseline: the tiny
   model; the ratio is production / tiny in images/s.
3. Start-up cost of the tile scan (every tile checked when a dataset is opened, issue 14):
   opening the dataset cold (no cache), the first time (filling the cache) and again (from
   the cache), each as a ratio to one epoch of reading (``TileDataset.load`` of every tile
   once, in one process, as ``data.num_workers=0`` reads them). On the sample dataset and on
   ``--scan-tiles`` generated tiles (default 100,000). Goal: <= 5%.

    python bench/data.py [--tile 64] [--batches 40] [--repeats 3] [--tiny-steps 30] [--prod-steps 3]
    python bench/data.py --only scan [--scan-tiles 100000] [--scan-px 32]

Everything runs in this process on the sample tiles that ``uprior data sample`` writes,
in a temporary folder. Tile rates are the best of ``--repeats`` interleaved passes after one
warm-up batch (worker start-up excluded); step rates use the median step after one warm-up
step. Run it on an otherwise idle machine and read the ratios.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from unified_prior.config import RunConfig, load_config
from unified_prior.data import (
    BalancedSampler,
    BatchStream,
    DomainRegistry,
    TileDataset,
    build_batch,
)
from unified_prior.data.sample import write_sample_dataset
from unified_prior.model import EDMLoss, build_model

TINY = [
    "data.resolution=32",
    "model.channels=16",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
]


def bare_load(paths: list[Path], count: int) -> float:
    """Tiles/s of a bare ``torch.load(weights_only=True)`` loop (the baseline)."""
    started = time.perf_counter()
    for path in itertools.islice(itertools.cycle(paths), count):
        torch.load(path, map_location="cpu", weights_only=True)
    return count / (time.perf_counter() - started)


def stream_tiles(dataset: TileDataset, batch_size: int, batches: int, workers: int) -> float:
    """Tiles/s of the training stream with ``workers`` DataLoader workers."""
    sampler = BalancedSampler(dataset.domain_index, batch_size=batch_size, seed=0)
    stream = iter(
        BatchStream(dataset, sampler, start_step=0, grad_accum_steps=1, seed=0, num_workers=workers)
    )
    next(stream)  # worker start-up is not throughput
    started = time.perf_counter()
    for _ in range(batches):
        next(stream)
    seconds = time.perf_counter() - started
    del stream  # stops the workers
    return batches * batch_size / seconds


def train_steps(config: RunConfig, dataset: TileDataset, batch_size: int, steps: int) -> float:
    """Steps/s of forward + backward + AdamW on real batches (data built outside the timer)."""
    torch.manual_seed(0)
    registry = dataset.registry
    net = build_model(config.model, registry, config.data.resolution)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    loss_fn = EDMLoss(config.model.p_mean, config.model.p_std, config.model.sigma_data)
    sampler = BalancedSampler(dataset.domain_index, batch_size=batch_size, seed=0)
    batches = [build_batch(dataset, sampler, 0, step, 0) for step in range(steps + 1)]

    def step(batch) -> None:
        optimizer.zero_grad(set_to_none=True)
        per_sample, _ = loss_fn(net, batch)
        per_sample.mean().backward()
        optimizer.step()

    step(batches[0])  # warm-up: allocator and kernel selection
    seconds = []
    for batch in batches[1:]:
        started = time.perf_counter()
        step(batch)
        seconds.append(time.perf_counter() - started)
    return 1.0 / statistics.median(seconds)  # the median step resists other load


def write_many_tiles(root: Path, count: int, px: int) -> None:
    """``count`` random tiles in the layout, spread over the three default domains (1 of 3
    photography at 4 channels), each ``px`` square, values in [0, 1)."""
    g = torch.Generator().manual_seed(0)
    channels = {"photography": 4, "microscopy": 1, "astronomy": 1}
    for domain in channels:
        (root / domain / "train").mkdir(parents=True, exist_ok=True)
    names = list(channels)
    for i in range(count):
        domain = names[i % 3]
        tile = torch.rand(channels[domain], px, px, generator=g)
        torch.save({"clean_norm": tile}, root / domain / "train" / f"t{i:07d}.pt")


def scan_cost(root: Path, registry: DomainRegistry, resolution: int, cache: Path) -> dict:
    """Seconds to open the train split cold, first (filling the cache) and cached, and to
    read one epoch; the open times include listing the files, as a run's start-up does."""
    timings = {}
    before = os.environ.get("UPRIOR_CACHE_DIR")
    try:
        for label, cache_dir in (("cold", ""), ("first", str(cache)), ("cached", str(cache))):
            os.environ["UPRIOR_CACHE_DIR"] = cache_dir
            # A cached open is cheap and repeatable: best of 5, as the tile rates above, so
            # a burst of other load on a shared machine does not decide the figure.
            runs = []
            for _ in range(5 if label == "cached" else 1):
                started = time.perf_counter()
                dataset = TileDataset(root, "train", registry, resolution)
                runs.append(time.perf_counter() - started)
            timings[label] = min(runs)
            timings[f"{label}_processes"] = dataset.scan["processes"]
    finally:
        if before is None:
            os.environ.pop("UPRIOR_CACHE_DIR", None)
        else:
            os.environ["UPRIOR_CACHE_DIR"] = before
    started = time.perf_counter()
    for i in range(len(dataset)):
        dataset.load(i)
    timings["epoch"] = time.perf_counter() - started
    timings["tiles"] = len(dataset)
    return timings


def print_scan(title: str, t: dict) -> None:
    print(f"\n{title}: {t['tiles']} train tiles")
    print(f"  {'one epoch of reading (baseline)':<44}{t['epoch']:>9.2f} s   ratio 1.000")
    for label, what in (
        ("cold", "open, scan without cache"),
        ("first", "open, scan filling the cache"),
        ("cached", "open again, from the cache (best of 5)"),
    ):
        processes = t[f"{label}_processes"]
        note = f"   ({processes} processes read)" if label != "cached" else ""
        print(f"  {what:<44}{t[label]:>9.2f} s   ratio {t[label] / t['epoch']:.3f}{note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=64, help="sample tile size (pixels)")
    parser.add_argument("--batches", type=int, default=40, help="batches per stream timing")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="passes per stream setting")
    parser.add_argument("--tiny-steps", type=int, default=30)
    parser.add_argument("--tiny-batch", type=int, default=16)
    parser.add_argument("--prod-steps", type=int, default=3)
    parser.add_argument("--prod-batch", type=int, default=1)
    parser.add_argument("--only", choices=["all", "scan"], default="all")
    parser.add_argument("--scan-tiles", type=int, default=100_000, help="0 skips them")
    parser.add_argument("--scan-px", type=int, default=32, help="generated tile size")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs")
    if args.only == "scan":
        run_scan(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tiles"
        write_sample_dataset(root, tile=args.tile)
        tiny = load_config(None, [*TINY, f"data.root={root}"])
        registry = DomainRegistry.from_config(tiny.data)
        train32 = TileDataset(root, "train", registry, 32)
        paths = train32.paths
        print(
            f"\n{len(paths)} train tiles of {args.tile} px; crops of 32 px, batch {args.batch_size}"
        )

        # Tiles/s from the .pt layout.
        # Best of --repeats passes, interleaved, so a burst of other load hits no one setting.
        count = args.batches * args.batch_size
        rates: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            rates.setdefault("bare", []).append(bare_load(paths, count))
            for workers in (0, 2, 4):
                rate = stream_tiles(train32, args.batch_size, args.batches, workers)
                rates.setdefault(str(workers), []).append(rate)
        base = max(rates["bare"])
        print(f"  {'bare torch.load loop (baseline)':<36}{base:>10.0f} tiles/s   ratio 1.00")
        for workers in (0, 2, 4):
            rate = max(rates[str(workers)])
            label = f"BatchStream, num_workers={workers}"
            print(f"  {label:<36}{rate:>10.0f} tiles/s   ratio {rate / base:.2f}")

        # Training steps/s.
        print("\nforward + backward + AdamW step (EDM loss)")
        tiny_rate = train_steps(tiny, train32, args.tiny_batch, args.tiny_steps)
        tiny_images = tiny_rate * args.tiny_batch
        print(
            f"  {'tiny 32 px (baseline)':<36}{tiny_rate:>10.2f} steps/s  "
            f"{tiny_images:>8.1f} images/s   batch {args.tiny_batch}"
        )
        if args.tile >= 128:
            prod = load_config(None, [f"data.root={root}"])
            train128 = TileDataset(root, "train", registry, 128)
        else:
            # Production crops are 128 px: write 128 px tiles for it.
            root128 = Path(tmp) / "tiles128"
            write_sample_dataset(root128, tile=128)
            prod = load_config(None, [f"data.root={root128}"])
            train128 = TileDataset(root128, "train", registry, 128)
        params = sum(p.numel() for p in build_model(prod.model, registry, 128).parameters())
        prod_rate = train_steps(prod, train128, args.prod_batch, args.prod_steps)
        prod_images = prod_rate * args.prod_batch
        print(
            f"  {f'production 128 px ({params / 1e6:.1f}M params)':<36}{prod_rate:>10.3f} steps/s  "
            f"{prod_images:>8.2f} images/s   batch {args.prod_batch}   "
            f"ratio {prod_images / tiny_images:.4f} (images/s vs tiny)"
        )
    run_scan(args)


def run_scan(args: argparse.Namespace) -> None:
    """Section 3: the tile scan's start-up cost against one epoch of reading."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "tiles"
        write_sample_dataset(root, tile=args.tile)
        registry = DomainRegistry.from_config(load_config(None, []).data)
        print_scan(
            f"sample dataset ({args.tile} px)",
            scan_cost(root, registry, 32, Path(tmp) / "cache-sample"),
        )
        if args.scan_tiles:
            many = Path(tmp) / "many"
            started = time.perf_counter()
            write_many_tiles(many, args.scan_tiles, args.scan_px)
            print(f"\n(wrote {args.scan_tiles} tiles of {args.scan_px} px in "
                  f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
            for split in ("val",):  # the dataset needs every domain's folder; val is unused
                for domain in ("photography", "microscopy", "astronomy"):
                    (many / domain / split).mkdir(parents=True, exist_ok=True)
            print_scan(
                f"generated tiles ({args.scan_px} px)",
                scan_cost(many, registry, min(32, args.scan_px), Path(tmp) / "cache-many"),
            )


if __name__ == "__main__":
    main()
