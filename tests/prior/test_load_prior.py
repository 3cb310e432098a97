"""``unified_prior.load_prior``: the checkpoint's domains, label statistics and weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import unified_prior
from unified_prior.errors import InputError
from unified_prior.train.checkpoint import load_checkpoint


def test_load_prior_exposes_domains_stats_and_the_chosen_weights(tiny_checkpoint: Path) -> None:
    ema = unified_prior.load_prior(tiny_checkpoint)
    raw = unified_prior.load_prior(tiny_checkpoint, ema=False)
    state = load_checkpoint(tiny_checkpoint)
    assert ema.domains == ["photography", "microscopy", "astronomy"]
    assert ema.step == 4 and ema.resolution == 16
    assert ema.stats.to_dict() == state["data_stats"]
    for name, tensor in ema.net.state_dict().items():
        assert torch.equal(tensor, state["ema"][name])
        assert torch.equal(raw.net.state_dict()[name], state["model"][name])
    x = torch.rand(2, 1, 16, 16)
    out = ema.denoise(x, 0.5, "astronomy")
    assert out.shape == x.shape and not torch.equal(out, x)
    with pytest.raises(InputError, match="radiology"):
        ema.denoise(x, 0.5, "radiology")
    with pytest.raises(InputError, match=r"\[B, 4, H, W\]"):
        ema.denoise(x, 0.5, "photography")
