"""Deterministic seed derivation: every random stream is a pure function of integers.

Python's ``hash()`` is salted per process for strings and is not a mixing function, so it
must never seed anything that a resumed or multi-process run has to reproduce. NumPy's
``SeedSequence`` hashes an integer tuple into well-mixed, independent states (EDM2 seeds
each step from ``(seed, rank, cur_nimg)`` in the same spirit).
"""

from __future__ import annotations

import numpy as np
import torch

_MASK64 = (1 << 64) - 1

#: Stream tags: the same (seed, step, micro, position) feeds several independent streams.
STREAM_SAMPLER = 0x53414D50  # "SAMP": which tiles make a global batch
STREAM_CROP = 0x43524F50  # "CROP": random crop of a training tile
STREAM_NOISE = 0x4E4F4953  # "NOIS": the loss's sigma and noise for a training sample
STREAM_EVAL = 0x4556414C  # "EVAL": fixed validation noise for (tile, sigma)


def derive_seed(*parts: int) -> int:
    """Mix integers into a seed in ``[0, 2**63)``: usable by ``torch.Generator.manual_seed``
    and storable in an int64 tensor. Negative parts are taken modulo 2**64."""
    if not parts:
        raise ValueError("derive_seed needs at least one integer")
    words = [int(p) & _MASK64 for p in parts]
    state = np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)
    return int(state[0]) >> 1


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` started at ``seed`` (CPU so results match on every device)."""
    g = torch.Generator(device="cpu")
    g.manual_seed(int(seed))
    return g
