"""Fixed-noise validation: independent of batch size, order and the global RNG."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from unified_prior.evaluate import EvalTable, eval_noise, evaluate_fixed_noise
from unified_prior.model import build_model

SIGMAS = [0.05, 0.5, 2.0]


def _run(net, val_set, **kw) -> EvalTable:
    args = {"sigmas": SIGMAS, "tiles_per_domain": 4, "seed": 0, "batch_size": 32, **kw}
    return evaluate_fixed_noise(net, val_set, **args)


def _assert_tables_close(a: EvalTable, b: EvalTable, rel: float = 1e-5) -> None:
    assert a.tiles == b.tiles and a.loss.keys() == b.loss.keys()
    for domain in a.loss:
        assert a.loss[domain] == pytest.approx(b.loss[domain], rel=rel, abs=0)
        assert a.psnr_gain_db[domain] == pytest.approx(b.psnr_gain_db[domain], rel=rel, abs=1e-6)
    assert a.mean_loss == pytest.approx(b.mean_loss, rel=rel)


class Recorder(nn.Module):
    """Wraps a denoiser and keeps every input it was given, one row per (tile, sigma)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.sigma_data, self.seen = net, net.sigma_data, []

    def forward(self, x, sigma, labels, masks):
        self.seen.append((x, sigma, labels, masks))
        return self.net(x, sigma, labels, masks)

    def inputs(self) -> list[torch.Tensor]:
        return [torch.cat(parts) for parts in zip(*self.seen, strict=True)]


def test_inputs_identical_and_value_agrees_for_batch_sizes_1_7_and_32(noisy_net, val_set) -> None:
    # Every (tile, sigma) gets bit-identical inputs whatever the batch size ...
    recorders = [Recorder(noisy_net) for _ in range(3)]
    tables = [_run(r, val_set, batch_size=b) for r, b in zip(recorders, (1, 7, 32), strict=True)]
    reference = recorders[2].inputs()
    assert len(recorders[0].seen) == 36 and len(recorders[1].seen) == 6
    for recorder in recorders[:2]:
        for got, want in zip(recorder.inputs(), reference, strict=True):
            assert torch.equal(got, want)
    # ... so the tables agree up to float32 kernel rounding: CPU conv/GEMM kernels are not
    # batch-invariant (one sample's output differs by ~1e-7 between batch 1 and 32).
    _assert_tables_close(tables[0], tables[1])
    _assert_tables_close(tables[0], tables[2])
    assert tables[0].tiles == {"photography": 4, "microscopy": 4, "astronomy": 4}
    assert math.isfinite(tables[0].mean_loss)


def test_batch_invariant_denoiser_gives_bit_identical_tables(val_set) -> None:
    tables = [_run(Identity(), val_set, batch_size=b).to_dict() for b in (1, 7, 32)]
    assert tables[0] == tables[1] == tables[2]


def test_independent_of_and_invisible_to_the_global_rng(noisy_net, val_set) -> None:
    torch.manual_seed(1)
    first = _run(noisy_net, val_set)
    torch.manual_seed(2)
    torch.randn(100)
    before = torch.get_rng_state()
    second = _run(noisy_net, val_set)
    assert torch.equal(torch.get_rng_state(), before)  # the training RNG is not touched
    assert first.to_dict() == second.to_dict()  # same batch size: bit-identical


def test_a_sigma_gets_the_same_noise_in_any_grid_or_order(noisy_net, val_set) -> None:
    full = _run(noisy_net, val_set)
    other = _run(noisy_net, val_set, sigmas=[2.0, 1.0, 0.05])
    for domain in full.loss:
        for s in (0.05, 2.0):
            assert other.loss[domain][s] == pytest.approx(full.loss[domain][s], rel=1e-5)
            gain = full.psnr_gain_db[domain][s]
            assert other.psnr_gain_db[domain][s] == pytest.approx(gain, rel=1e-5)
    # The seed matters: another seed is other noise.
    assert _run(noisy_net, val_set, seed=1).mean_loss != pytest.approx(full.mean_loss, rel=1e-4)


def test_eval_noise_is_keyed_by_domain_tile_and_sigma() -> None:
    a = eval_noise(0, "microscopy", 3, 0.5, (1, 4, 4))
    assert torch.equal(a, eval_noise(0, "microscopy", 3, 0.5, (1, 4, 4)))
    for other in (
        eval_noise(0, "astronomy", 3, 0.5, (1, 4, 4)),
        eval_noise(0, "microscopy", 4, 0.5, (1, 4, 4)),
        eval_noise(0, "microscopy", 3, 0.5000001, (1, 4, 4)),
        eval_noise(1, "microscopy", 3, 0.5, (1, 4, 4)),
    ):
        assert not torch.equal(a, other)


class Identity(nn.Module):
    """The identity baseline ``D(x) = x`` (a real module: it has nothing to learn)."""

    sigma_data = 0.5

    def forward(self, x, sigma, labels, masks):
        return x * masks


def test_identity_denoiser_has_zero_gain_and_the_closed_form_loss(val_set) -> None:
    table = _run(Identity(), val_set)
    for domain, row in table.psnr_gain_db.items():
        for s, gain in row.items():
            assert gain == pytest.approx(0.0, abs=1e-9), (domain, s)
    # D - y = sigma n, so the loss is weight * sigma^2 * E[n^2] ~ (sigma^2 + sd^2) / sd^2.
    for row in table.loss.values():
        for s, value in row.items():
            assert value == pytest.approx((s**2 + 0.25) / 0.25, rel=0.05)


def test_fresh_model_is_c_skip_shrinkage(tiny_config, val_set) -> None:
    # A fresh model (zero-initialised output) is D = c_skip x, so D - y = (c_skip - 1) y +
    # c_skip sigma n and its gain over the identity is, with E[n^2] = 1 and E[y n] = 0,
    # 10 log10(sigma^2 / ((1 - c_skip)^2 E[y^2] + c_skip^2 sigma^2)).
    torch.manual_seed(0)
    fresh = build_model(tiny_config.model, val_set.registry, 32)
    sigma = 0.5
    table = _run(fresh, val_set, sigmas=[sigma], tiles_per_domain=8)
    c = 0.25 / (sigma**2 + 0.25)
    for domain in val_set.registry.domains:
        items = [val_set[t] for t in val_set.tiles_of_domain[domain.index][:8]]
        ey2 = sum(float((it["image"] ** 2).sum()) for it in items) / sum(
            float(it["mask"].sum()) * 32 * 32 for it in items
        )
        expected = 10 * math.log10(sigma**2 / ((1 - c) ** 2 * ey2 + c**2 * sigma**2))
        assert table.psnr_gain_db[domain.name][sigma] == pytest.approx(expected, abs=0.15)


def test_table_forms_and_restores_training_mode(noisy_net, val_set) -> None:
    noisy_net.train()
    table = _run(noisy_net, val_set, tiles_per_domain=2)
    assert noisy_net.training
    d = json.loads(json.dumps(table.to_dict()))
    assert set(d) == {"val_loss", "loss", "psnr_gain_db", "psnr", "tiles"}
    assert d["loss"]["astronomy"].keys() == {"0.05", "0.5", "2.0"}
    assert d["val_loss"] == pytest.approx(table.mean_loss)
    text = table.to_text()
    assert "s=0.05" in text and "gain dB" in text and "val_loss (grid mean)" in text


def test_more_tiles_than_exist_uses_all_and_bad_arguments_are_refused(noisy_net, val_set) -> None:
    table = _run(noisy_net, val_set, tiles_per_domain=10_000, sigmas=[1.0])
    assert table.tiles == val_set.counts()
    with pytest.raises(ValueError, match="positive"):
        _run(noisy_net, val_set, sigmas=[0.0])
    with pytest.raises(ValueError, match="tiles_per_domain"):
        _run(noisy_net, val_set, tiles_per_domain=0)
