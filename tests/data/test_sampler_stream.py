"""Balanced, resumable, shardable sampling and the micro-batch stream built on it."""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unified_prior.data import BalancedSampler, BatchStream, TileDataset, build_batch
from unified_prior.errors import InputError

IMBALANCED = [0] * 1000 + [1] * 100 + [2] * 100  # 10:1:1 tiles


def _domain_draws(sampler: BalancedSampler, draws: int) -> Counter[int]:
    counts: Counter[int] = Counter()
    n = 0
    for step in itertools.count():
        for tile in sampler.global_indices(step, 0):
            counts[IMBALANCED[tile]] += 1
            n += 1
            if n == draws:
                return counts
    raise AssertionError("unreachable")


@pytest.mark.parametrize("batch_size", [1, 7, 10, 12])
def test_balanced_domains_within_5_percent_of_uniform(batch_size: int) -> None:
    sampler = BalancedSampler(IMBALANCED, batch_size=batch_size, seed=3)
    counts = _domain_draws(sampler, 3000)
    for domain in range(3):
        assert abs(counts[domain] - 1000) <= 50, counts


def test_unbalanced_sampling_follows_tile_counts() -> None:
    # The same check fails without balancing: the test above can tell the difference.
    sampler = BalancedSampler(IMBALANCED, batch_size=10, seed=3, balance=False)
    counts = _domain_draws(sampler, 3000)
    assert counts[0] > 2300 and counts[1] < 400 and counts[2] < 400


def test_tiles_within_a_domain_are_drawn_uniformly() -> None:
    sampler = BalancedSampler(IMBALANCED, batch_size=12, seed=0)
    counts = Counter(t for step in range(2000) for t in sampler.global_indices(step, 0))
    small = [counts[t] for t in range(1000, 1100)]  # 8000 draws over 100 tiles: ~80 each
    assert min(small) > 40 and max(small) < 130
    assert len([t for t in range(1000) if counts[t]]) > 990  # the big domain is covered


def test_a_batch_is_a_pure_function_of_seed_step_and_micro() -> None:
    a = BalancedSampler(IMBALANCED, batch_size=8, seed=5)
    b = BalancedSampler(IMBALANCED, batch_size=8, seed=5)
    assert [b.global_indices(s, 1) for s in (9, 3, 0)] == [
        a.global_indices(s, 1) for s in (9, 3, 0)
    ]
    assert a.global_indices(3, 0) != a.global_indices(3, 1)
    assert a.global_indices(3, 0) != BalancedSampler(
        IMBALANCED, batch_size=8, seed=6
    ).global_indices(3, 0)


@settings(max_examples=40, deadline=None)
@given(
    world_size=st.integers(min_value=1, max_value=5),
    batch_size=st.integers(min_value=1, max_value=6),
    step=st.integers(min_value=0, max_value=10**6),
    micro=st.integers(min_value=0, max_value=3),
)
def test_rank_shards_are_disjoint_and_their_union_is_the_global_stream(
    world_size: int, batch_size: int, step: int, micro: int
) -> None:
    single = BalancedSampler(IMBALANCED, batch_size=batch_size * world_size, seed=1)
    expected = list(enumerate(single.global_indices(step, micro)))
    shards = [
        BalancedSampler(
            IMBALANCED, batch_size=batch_size, seed=1, rank=r, world_size=world_size
        ).local_indices(step, micro)
        for r in range(world_size)
    ]
    positions = [p for shard in shards for p, _ in shard]
    assert len(positions) == len(set(positions))  # no position on two ranks
    assert [pair for shard in shards for pair in shard] == expected


def _same_batch(a, b) -> bool:
    return all(
        torch.equal(getattr(a, f), getattr(b, f))
        for f in ("images", "masks", "labels", "domains", "seeds")
    )


@pytest.fixture
def train_set(write_tiles, registry) -> TileDataset:
    root = write_tiles({"photography": 10, "microscopy": 1, "astronomy": 1}, size=(24, 24))
    return TileDataset(root, "train", registry, resolution=16)


def test_resumed_stream_yields_the_uninterrupted_batches(train_set: TileDataset) -> None:
    sampler = BalancedSampler(train_set.domain_index, batch_size=4, seed=7)
    full = list(
        itertools.islice(
            BatchStream(train_set, sampler, start_step=0, grad_accum_steps=2, seed=7), 16
        )
    )
    k = 5
    resumed = list(
        itertools.islice(
            BatchStream(train_set, sampler, start_step=k, grad_accum_steps=2, seed=7), 6
        )
    )
    assert [(s, m) for s, m, _ in full[2 * k : 2 * k + 6]] == [(s, m) for s, m, _ in resumed]
    assert [(s, m) for s, m, _ in full[:4]] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for (_, _, a), (_, _, b) in zip(full[2 * k : 2 * k + 6], resumed, strict=True):
        assert _same_batch(a, b)
    assert not _same_batch(full[0][2], full[1][2])


def test_stream_is_identical_with_dataloader_workers(train_set: TileDataset) -> None:
    sampler = BalancedSampler(train_set.domain_index, batch_size=3, seed=2)
    make = lambda workers: list(  # noqa: E731
        itertools.islice(
            BatchStream(
                train_set, sampler, start_step=4, grad_accum_steps=3, seed=2, num_workers=workers
            ),
            7,
        )
    )
    inline, workers = make(0), make(2)
    assert [(s, m) for s, m, _ in inline] == [(s, m) for s, m, _ in workers]
    assert all(_same_batch(a, b) for (_, _, a), (_, _, b) in zip(inline, workers, strict=True))


def test_rank_batches_concatenate_to_the_single_process_batch(train_set: TileDataset) -> None:
    single = BalancedSampler(train_set.domain_index, batch_size=6, seed=4)
    whole = build_batch(train_set, single, seed=4, step=11, micro=1)
    parts = [
        build_batch(
            train_set,
            BalancedSampler(train_set.domain_index, batch_size=2, seed=4, rank=r, world_size=3),
            seed=4,
            step=11,
            micro=1,
        )
        for r in range(3)
    ]
    for field in ("images", "masks", "labels", "domains", "seeds"):
        assert torch.equal(torch.cat([getattr(p, field) for p in parts]), getattr(whole, field))
    assert len(set(whole.seeds.tolist())) == 6  # every sample its own noise seed


def test_batch_is_balanced_padded_and_masked(train_set: TileDataset) -> None:
    sampler = BalancedSampler(train_set.domain_index, batch_size=6, seed=0)
    batch = build_batch(train_set, sampler, seed=0, step=0, micro=0)
    assert batch.images.shape == (6, 4, 16, 16) and batch.masks.shape == (6, 4, 1, 1)
    assert sorted(batch.domains.tolist()) == [0, 0, 1, 1, 2, 2]
    for i, d in enumerate(batch.domains.tolist()):
        valid = 4 if d == 0 else 1
        assert batch.masks[i].flatten().tolist() == [1.0] * valid + [0.0] * (4 - valid)
        assert torch.all(batch.images[i, valid:] == 0)


def test_bad_sampler_and_stream_arguments(train_set: TileDataset) -> None:
    with pytest.raises(ValueError, match="rank=2/2"):
        BalancedSampler([0, 1], batch_size=2, seed=0, rank=2, world_size=2)
    with pytest.raises(ValueError, match="at least one tile"):
        BalancedSampler([], batch_size=2, seed=0)
    sampler = BalancedSampler(train_set.domain_index, batch_size=2, seed=0)
    with pytest.raises(ValueError, match="grad_accum_steps=0"):
        BatchStream(train_set, sampler, start_step=0, grad_accum_steps=0, seed=0)


def test_batch_to_device_keeps_loss_seeds_on_the_cpu(train_set: TileDataset) -> None:
    # The loss seeds CPU generators from them; on a GPU, reading them back would sync.
    sampler = BalancedSampler(train_set.domain_index, batch_size=3, seed=0)
    batch = build_batch(train_set, sampler, seed=0, step=0, micro=0).to("meta")
    assert batch.images.device.type == batch.labels.device.type == "meta"
    assert batch.seeds.device.type == "cpu" and len(set(batch.seeds.tolist())) == 3


@pytest.mark.parametrize("workers", [0, 2])
def test_a_bad_tile_in_the_stream_is_a_one_line_input_error(
    train_set: TileDataset, workers: int
) -> None:
    bad = train_set.paths[train_set.tiles_of_domain[1][0]]  # microscopy's only tile
    bad.write_bytes(b"")
    sampler = BalancedSampler(train_set.domain_index, batch_size=3, seed=0)
    stream = iter(
        BatchStream(
            train_set, sampler, start_step=0, grad_accum_steps=1, seed=0, num_workers=workers
        )
    )
    with pytest.raises(InputError) as err:
        next(stream)
    assert str(bad) in str(err.value) and "\n" not in str(err.value)
    assert "truncated or not a torch.save file" in str(err.value)
