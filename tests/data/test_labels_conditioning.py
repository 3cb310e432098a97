"""The conditioning label: one-hot + log10 sensor scalars standardised with training-set
statistics; every component must vary across domains (the original's scale feature was 1.0
for all of them)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from unified_prior.config import DataConfig
from unified_prior.data import SENSOR_KEYS, Domain, DomainRegistry, LabelStats, TileDataset


def _labels(registry: DomainRegistry, root, split="train", stats=None) -> TileDataset:
    return TileDataset(root, split, registry, resolution=16, stats=stats)


def test_every_label_component_varies_across_domains(write_tiles, distinct_registry) -> None:
    root = write_tiles({"photography": 5, "microscopy": 2, "astronomy": 3}, size=(16, 16))
    ds = _labels(distinct_registry, root)
    table = ds.stats.label_table(distinct_registry)  # one row per domain
    assert table.shape == (3, distinct_registry.label_dim) == (3, 6)
    for component in range(table.shape[1]):
        assert len(set(table[:, component].tolist())) > 1, f"component {component} is constant"
    for component in range(3, 6):  # distinct sensor values give distinct features
        assert len(set(table[:, component].tolist())) == 3
    assert ds.stats.constant_components == []
    # The original feature, log10(scale).clamp(-1, 1), is the same for every domain.
    original = {max(-1.0, min(1.0, math.log10(d.scale))) for d in distinct_registry.domains}
    assert original == {1.0}


def test_default_sensors_leave_background_constant_and_say_so(write_tiles, registry) -> None:
    # The original's sensor values have background 0 e- in every domain: that component
    # cannot carry information, so it is standardised to exactly 0 and named.
    root = write_tiles({"photography": 2, "microscopy": 2, "astronomy": 2}, size=(16, 16))
    ds = _labels(registry, root)
    table = ds.stats.label_table(registry)
    assert ds.stats.constant_components == ["background"]
    assert torch.all(table[:, 5] == 0)
    for component in range(5):  # one-hot, scale, read noise all vary
        assert len(set(table[:, component].tolist())) > 1


def test_standardised_with_training_statistics(write_tiles, distinct_registry) -> None:
    root = write_tiles({"photography": 6, "microscopy": 1, "astronomy": 2}, size=(16, 16))
    write_tiles(
        {"photography": 1, "microscopy": 5, "astronomy": 1}, size=(16, 16), root=root, split="val"
    )
    train = _labels(distinct_registry, root)
    sensors = torch.stack([train[i]["label"][3:] for i in range(len(train))]).double()
    # Over the training tiles each sensor component has mean 0 and (population) std 1.
    torch.testing.assert_close(
        sensors.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0
    )
    torch.testing.assert_close(
        sensors.std(0, unbiased=False), torch.ones(3, dtype=torch.float64), atol=1e-6, rtol=0
    )
    # Validation reuses them (its own tile mix would give other statistics).
    val = _labels(distinct_registry, root, "val", stats=train.stats)
    own = LabelStats.from_dataset(_labels(distinct_registry, root, "val"))
    assert own != train.stats
    for i in range(len(val)):
        d = val.domain_index[i]
        assert torch.equal(
            val[i]["label"], train.stats.label(distinct_registry.domains[d], distinct_registry)
        )
    # Stored with the model: the JSON form round-trips exactly.
    assert LabelStats.from_dict(train.stats.to_dict()) == train.stats


def test_stats_from_another_feature_version_are_refused() -> None:
    stats = LabelStats(mean=(1.0, 2.0, 3.0), std=(1.0, 1.0, 1.0)).to_dict()
    with pytest.raises(ValueError, match="transform"):
        LabelStats.from_dict({**stats, "transform": "log10(x).clamp(-1,1)"})
    with pytest.raises(ValueError, match="3 means"):
        LabelStats.from_dict({**stats, "mean": [1.0]})


def test_registry_from_config_keeps_order_and_channels() -> None:
    registry = DomainRegistry.from_config(DataConfig())
    assert registry.names == ["photography", "microscopy", "astronomy"]
    assert [d.channels for d in registry.domains] == [4, 1, 1]
    assert [d.sensor() for d in registry.domains] == [(10000, 3, 0), (5000, 2, 0), (50000, 1, 0)]
    assert registry.max_channels == 4 and registry.label_dim == 3 + len(SENSOR_KEYS)


sensor = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(sensor, sensor, sensor), min_size=2, max_size=5),
    st.lists(st.integers(min_value=1, max_value=20), min_size=5, max_size=5),
)
def test_standardised_components_have_zero_mean_unit_std(sensors, counts) -> None:
    domains = [
        Domain(name=f"d{i}", index=i, channels=1, scale=s, read_noise=r, background=b)
        for i, (s, r, b) in enumerate(sensors)
    ]
    registry = DomainRegistry(domains)
    tile_domains = [d for d in range(len(domains)) for _ in range(counts[d])]
    stats = LabelStats.from_domains(registry, tile_domains)
    rows = torch.stack([stats.label(domains[d], registry) for d in tile_domains]).double()
    for k, key in enumerate(SENSOR_KEYS):
        column = rows[:, len(domains) + k]
        assert torch.isfinite(column).all()
        if key in stats.constant_components:
            assert torch.all(column == 0)
        else:
            assert abs(float(column.mean())) < 1e-4
            assert abs(float(column.std(unbiased=False)) - 1) < 1e-4
