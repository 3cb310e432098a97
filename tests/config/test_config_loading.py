"""Config loading (DESIGN §4): TOML + ``--set``, CLI over file over defaults, unknown keys
named with a suggestion, invalid values named by their dotted key, before anything runs."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from unified_prior.config import RunConfig, load_config, parse_override, write_config
from unified_prior.errors import InputError
from unified_prior.schedules import CosineSpec, WSDSpec


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_cli_over_file_over_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "[optim]\nlearning_rate = 3e-4\n[train]\nmax_steps = 100000\n")
    config = load_config(path, ["optim.learning_rate=5e-5"])
    assert config.optim.learning_rate == 5e-5  # CLI beats the file
    assert config.train.max_steps == 100_000  # the file beats the default
    assert config.optim.weight_decay == RunConfig().optim.weight_decay  # default kept


def test_a_file_section_merges_key_by_key_with_the_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[train]\nbatch_size = 7\n"))
    assert config.train.batch_size == 7
    assert config.train.grad_accum_steps == RunConfig().train.grad_accum_steps


@pytest.mark.parametrize(
    ("item", "path", "value"),
    [
        ("train.max_steps=1000", ["train", "max_steps"], 1000),
        ("optim.learning_rate=1e-4", ["optim", "learning_rate"], 1e-4),
        ("schedule.kind=cosine", ["schedule", "kind"], "cosine"),  # bare word → string
        ("model.channel_mult=[1, 2]", ["model", "channel_mult"], [1, 2]),
        ("log.tensorboard=false", ["log", "tensorboard"], False),
        (" eval.sigmas = [0.5] ", ["eval", "sigmas"], [0.5]),
    ],
)
def test_override_values_are_read_as_toml(item: str, path: list[str], value: object) -> None:
    assert parse_override(item) == (path, value)


@pytest.mark.parametrize("item", ["max_steps=5", "train.max_steps", "=5", "train..x=1"])
def test_malformed_override_is_a_one_line_error(item: str) -> None:
    with pytest.raises(InputError, match=r"section\.key=value"):
        parse_override(item)


@pytest.mark.parametrize(
    ("overrides", "named", "suggested"),
    [
        (["schedule.warmpu_steps=5"], "schedule.warmpu_steps", "schedule.warmup_steps"),
        (["train.max_step=5"], "train.max_step", "train.max_steps"),
        (["optim.learning_rat=1e-4"], "optim.learning_rat", "optim.learning_rate"),
        (["trian.max_steps=5"], "trian", "train"),
    ],
)
def test_unknown_key_names_it_and_suggests_the_nearest(
    overrides: list[str], named: str, suggested: str
) -> None:
    with pytest.raises(InputError) as err:
        load_config(None, overrides)
    message = str(err.value)
    assert f"'{named}'" in message and f"'{suggested}'" in message
    assert "\n" not in message


def test_unknown_key_in_a_file_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[schedule]\nkind = 'cosine'\nwarmup_step = 10\n")
    with pytest.raises(InputError, match=r"run\.toml.*schedule\.warmup_step.*warmup_steps"):
        load_config(path)


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["schedule.warmup_steps=500000", "train.max_steps=450000"], "warmup_steps"),
        (["schedule.warmup_steps=-1"], "schedule.warmup_steps"),
        (["schedule.min_lr_ratio=1.5"], "schedule.min_lr_ratio"),
        (["schedule.warmup_start_factor=2"], "schedule.warmup_start_factor"),
        (["optim.learning_rate=0"], "optim.learning_rate"),
        (["optim.learning_rate=inf"], "learning_rate"),
        (["train.grad_accum_steps=0"], "train.grad_accum_steps"),
        (["train.precision=fp8"], "train.precision"),
    ],
)
def test_invalid_values_name_the_key(overrides: list[str], key: str) -> None:
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        load_config(None, overrides)


def test_unknown_schedule_kind_lists_the_families() -> None:
    with pytest.raises(InputError, match="constant, cosine, inverse_sqrt, linear, wsd"):
        load_config(None, ["schedule.kind=cosinus"])


def test_changing_the_kind_drops_keys_the_new_family_lacks_unless_given() -> None:
    config = load_config(None, ["schedule.kind=wsd", "schedule.decay_shape=1-sqrt"])
    assert isinstance(config.schedule, WSDSpec) and config.schedule.decay_shape == "1-sqrt"
    with pytest.raises(InputError, match=r"schedule\.decay_shape"):
        load_config(None, ["schedule.decay_shape=linear"])  # the default kind is cosine


def test_missing_or_broken_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.toml: no such file"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(InputError, match=r"run\.toml: not valid TOML"):
        load_config(write(tmp_path, "[train\n"))


def test_resolved_config_round_trips_through_toml(tmp_path: Path) -> None:
    config = load_config(None, ["schedule.kind=wsd", "train.max_steps=123456"])
    write_config(config, tmp_path / "config.toml")
    again = load_config(tmp_path / "config.toml")
    assert again == config
    assert tomllib.loads((tmp_path / "config.toml").read_text())["train"]["max_steps"] == 123456


def test_plan_of_the_default_config_is_the_original_runs_intent() -> None:
    plan = RunConfig().plan()
    assert isinstance(plan.segments[0].spec, CosineSpec)
    assert plan.max_steps == 450_000
    assert plan.lr_at(0) == pytest.approx(1e-6, rel=1e-12)
    assert plan.lr_at(20_000) == pytest.approx(1e-4, rel=1e-12)


@pytest.mark.parametrize("name", ["demo.toml", "unified_prior.toml"])
def test_bundled_configs_load(name: str) -> None:
    root = Path(__file__).resolve().parents[2]
    config = load_config(root / "configs" / name)
    assert config.plan().max_steps == config.train.max_steps
