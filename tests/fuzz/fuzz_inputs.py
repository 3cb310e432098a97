"""Seeded generators of hostile inputs: tiles, config values, checkpoint mutations.

Seeded ``random.Random`` rather than hypothesis: each case is a whole CLI run, so a few dozen
chosen from wide pools beat shrinking, and a failure names its seed to replay it exactly.
"""

from __future__ import annotations

import io
import os
import random
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel

from unified_prior.config import RunConfig
from unified_prior.schedules import FAMILIES

#: The tiny run every fuzz case starts from (a second of CPU when its inputs are good).
TINY = [
    "data.resolution=16",
    "model.channels=8",
    "model.channel_mult=[1, 2]",
    "model.blocks_per_level=1",
    "model.attention_resolutions=[]",
    "schedule.warmup_steps=0",
    "train.max_steps=1",
    "train.batch_size=3",
    "train.grad_accum_steps=1",
    "train.precision=fp32",
    "train.device=cpu",
    "checkpoint.every_steps=1",
    "eval.every_steps=1",
    "eval.sigmas=[1.0]",
    "eval.tiles_per_domain=1",
    "log.progress=off",
    "log.tensorboard=false",
]
CHANNELS = {"photography": 4, "microscopy": 1, "astronomy": 1}


class Evil:
    """Unpickling this would run a shell command; weights_only=True must refuse it."""

    def __reduce__(self):
        return (os.system, ("echo FUZZ-PAYLOAD-RAN",))


def write_tiles(root: Path, n: int = 1, size: int = 18) -> None:
    g = torch.Generator().manual_seed(0)
    for domain, c in CHANNELS.items():
        for split in ("train", "val"):
            folder = root / domain / split
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                tile = torch.rand(c, size, size, generator=g)
                torch.save({"clean_norm": tile}, folder / f"good_{i}.pt")


# --- tiles ------------------------------------------------------------------------------

DTYPES = [torch.float32, torch.float16, torch.float64, torch.bfloat16, torch.uint8,
          torch.int64, torch.bool, torch.complex64]  # fmt: skip


def _tensor(rng: random.Random, channels: int) -> torch.Tensor:
    shape = rng.choice(
        [
            (channels, 18, 18),
            (channels, 16, 16),
            (channels, rng.randint(0, 20), rng.randint(0, 20)),
            (rng.randint(0, 6), 18, 18),
            (18, 18),
            (1, channels, 18, 18),
            (),
        ]
    )
    values = torch.rand(shape, dtype=torch.float64)
    fill = rng.choice(["plain", "nan", "inf", "-inf", "huge", "negative", "slightly-off"])
    if values.numel():
        flat = values.view(-1)
        spot = rng.randrange(flat.numel())
        flat[spot] = {
            "plain": flat[spot],
            "nan": float("nan"),
            "inf": float("inf"),
            "-inf": float("-inf"),
            "huge": 1e6,
            "negative": -3.0,
            "slightly-off": 1.01,
        }[fill]
    dtype = rng.choice(DTYPES)
    return values.to(dtype) if dtype != torch.bool else values > 0.5


def hostile_tile(rng: random.Random, channels: int) -> Callable[[Path], None]:
    """A writer of one hostile (or, by chance, valid) tile file."""
    kind = rng.choice(["payload"] * 6 + ["bytes"] * 3 + ["evil"])
    if kind == "bytes":
        blob = rng.choice(
            [
                b"",
                rng.randbytes(rng.randint(1, 600)),
                b"PK\x03\x04" + rng.randbytes(100),
                _zip_with_junk(rng),
            ]
        )
        return lambda p: p.write_bytes(blob)
    if kind == "evil":
        payload: Any = rng.choice([{"clean_norm": Evil()}, Evil(), {"metadata": Evil()}])
        return lambda p: torch.save(payload, p)
    t = _tensor(rng, channels)
    payload = (
        {"clean_norm": t}
        if rng.random() < 0.5
        else rng.choice(
            [
                {"clean_norm": t},
                {"clean_norm": t, "metadata": {"k": [1, {"deep": None}], "n": float("nan")}},
                t,
                [t],
                {"clean_norm": [t]},
                {"clean_norm": {"x": t}},
                {"image": t},
                {},
                None,
                42,
                "clean_norm",
                {1: t},
            ]
        )
    )
    if rng.random() < 0.2:  # a valid file, then cut short

        def cut(p: Path) -> None:
            torch.save(payload, p)
            data = p.read_bytes()
            p.write_bytes(data[: rng.randrange(max(1, len(data)))])

        return cut
    return lambda p: torch.save(payload, p)


def _zip_with_junk(rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", rng.randbytes(64))
        archive.writestr("archive/version", "3\n")
    return buffer.getvalue()


# --- config values ------------------------------------------------------------------------

#: TOML values any key may be given: wrong types, edges, non-finite, overflow.
ANY_VALUES = ["-1", "0", "1", "-0.0", "0.5", "1.5", "nan", "inf", "-inf", "1e308", "1e-320",
              "''", "'x'", "'../..'", "[]", "[0]", "[-1.0]", "[1.5, 0.999]", "[0.9, 1.0]",
              "[1, 2, 3]", "{}", "true", "9223372036854775808", "{a = 1}"]  # fmt: skip
#: Keys whose valid values set the run's size or length: only small values, else a valid but
#: huge value would train for hours or fill the memory (a resource choice, not a bug).
SIZE_KEYS = {"data.resolution", "model.channels", "model.channel_mult",
             "model.blocks_per_level", "model.attention_resolutions", "train.max_steps",
             "train.batch_size", "train.grad_accum_steps", "eval.tiles_per_domain",
             "data.num_workers", "eval.sigmas", "checkpoint.keep_last"}  # fmt: skip
SMALL_VALUES = ["-1", "0", "1", "2", "0.5", "nan", "inf", "''", "'x'", "[]", "[0]", "[-1]",
                "[1]", "[1, 2]", "[16]", "{}", "true", "-9223372036854775809"]  # fmt: skip


def config_keys() -> list[str]:
    """Every leaf key of the run config, read from the pydantic models."""
    keys = []
    for section, field in RunConfig.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            keys += [f"{section}.{name}" for name in model.model_fields]
        else:  # the schedule: a union of families, keyed by kind
            keys += [f"{section}.{name}" for family in FAMILIES.values()
                     for name in family.model_fields]  # fmt: skip
    return sorted(set(keys))


def hostile_overrides(rng: random.Random) -> list[str]:
    """One or two keys set to hostile values."""
    keys = config_keys()
    items = []
    for key in rng.sample(keys, rng.choice([1, 1, 2])):
        pool = SMALL_VALUES if key in SIZE_KEYS else ANY_VALUES
        if key == "schedule.kind":
            pool = ["cosine", "wsd", "linear", "constant", "inverse_sqrt", "'x'", "1"]
        if key == "data.domains":
            pool = [
                "{}",
                "{a = {channels = 1}}",
                "{photography = 1}",
                "[1]",
                "'x'",
                "{photography = {channels = 0, scale = 1, read_noise = 1, background = 0}}",
            ]
        if key == "data.root":
            pool = ["''", "'/dev/null'", "'/nonexistent'", "1", "'.'"]
        items.append(f"{key}={rng.choice(pool)}")
    return items


# --- checkpoints --------------------------------------------------------------------------


JUNK: list[Any] = [None, {}, [], "twelve", -1, 2**70, 1.5, float("nan"), True]


def _junk(rng: random.Random) -> Any:
    tensors = [torch.zeros(3), torch.zeros(2, 2, dtype=torch.int64), {"a": torch.ones(1)}]
    return rng.choice([*JUNK, *tensors, [torch.ones(1)]])


def mutate_state(rng: random.Random, state: dict[str, Any]) -> str:
    """Change one thing deep in a checkpoint dict; say what (for the failure message)."""
    path: list[Any] = []
    node: Any = state
    while isinstance(node, dict) and node and (not path or rng.random() < 0.6):
        key = rng.choice(list(node))
        path.append(key)
        if not isinstance(node[key], dict) or rng.random() < 0.3:
            break
        node = node[key]
    parent: Any = state
    for key in path[:-1]:
        parent = parent[key]
    last = path[-1]
    action = rng.choice(["junk", "delete", "reshape", "retype"])
    value = parent[last]
    if action == "delete":
        del parent[last]
    elif action == "reshape" and isinstance(value, torch.Tensor) and value.numel() > 1:
        parent[last] = value.flatten()[:-1]
    elif action == "retype" and isinstance(value, torch.Tensor):
        parent[last] = value.to(torch.float16 if value.is_floating_point() else torch.float32)
    else:
        action = "junk"
        parent[last] = _junk(rng)
    return f"{action} {'.'.join(map(str, path))}"


def damage_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Truncated or flipped bytes of a checkpoint file."""
    if rng.random() < 0.5:
        cut = rng.randrange(len(data))
        return data[:cut], f"truncated at {cut}"
    blob = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        blob[rng.randrange(len(blob))] = rng.randrange(256)
    return bytes(blob), "flipped bytes"
