"""EMA update: the multi-tensor form (``EMA.update``) against one ``lerp_`` per parameter.

Baseline: the per-parameter loop ``EMA.update`` used before (measured in the same run, on
the same weights). Prints the time per update of both and the ratio, for the tiny config's
model and the production model (42.9M parameters), on the CPU or, with ``--device cuda``,
a GPU. On the CPU torch's foreach ops fall back to the per-tensor loop, so a ratio near 1 is
expected there; the saving is in kernel launches, i.e. on a GPU.

    python bench/ema.py [--device cpu|cuda] [--repeats 20]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from unified_prior.config import load_config
from unified_prior.data import DomainRegistry
from unified_prior.model import EMA, build_model

ROOT = Path(__file__).resolve().parents[1]


def per_parameter(ema: EMA, model: nn.Module, step: int) -> None:
    """The baseline: the update as it was, one lerp_ per parameter."""
    beta = ema.beta(step)
    with torch.no_grad():
        for p_ema, p_net in zip(ema.module.parameters(), model.parameters(), strict=True):
            p_ema.lerp_(p_net.detach().to(p_ema.dtype), 1.0 - beta)
        for b_ema, b_net in zip(ema.module.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b_net)


def seconds_per_update(
    update: Callable[[EMA, nn.Module, int], object], ema: EMA, net: nn.Module, repeats: int
) -> float:
    sync = torch.cuda.synchronize if next(net.parameters()).is_cuda else (lambda: None)
    update(ema, net, 100)  # warm-up
    best = float("inf")
    for _ in range(3):
        sync()
        started = time.perf_counter()
        for step in range(repeats):
            update(ema, net, 100 + step)
        sync()
        best = min(best, (time.perf_counter() - started) / repeats)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads")
    for name in ("demo", "unified_prior"):
        config = load_config(ROOT / "configs" / f"{name}.toml")
        registry = DomainRegistry.from_config(config.data)
        torch.manual_seed(0)
        net = build_model(config.model, registry, config.data.resolution).to(args.device)
        ema = EMA(net, 2000, 0.05)
        params = sum(p.numel() for p in net.parameters())
        tensors = len(list(net.parameters()))
        loop = seconds_per_update(per_parameter, ema, net, args.repeats)
        foreach = seconds_per_update(EMA.update, ema, net, args.repeats)
        print(
            f"{name}: {params / 1e6:.2f}M parameters in {tensors} tensors: per-parameter "
            f"lerp_ (baseline) {loop * 1e3:.2f} ms, foreach {foreach * 1e3:.2f} ms, "
            f"ratio foreach / baseline {foreach / loop:.2f}"
        )


if __name__ == "__main__":
    main()
