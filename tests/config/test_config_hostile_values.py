"""Values that passed validation and crashed later (issue 14): each is now refused when the
config loads, naming the key and the input that set it."""

from __future__ import annotations

from pathlib import Path

import pytest

from unified_prior.config import load_config
from unified_prior.errors import InputError


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        # torch's AdamW raised "Invalid beta parameter" once the optimizer was built
        ("optim.betas=[1.5, 0.999]", "optim.betas=[1.5, 0.999] (item 0)"),
        ("optim.betas=[-0.1, 0.9]", "optim.betas=[-0.1, 0.9] (item 0)"),
        ("optim.betas=[0.9, 1.0]", "optim.betas=[0.9, 1.0] (item 1)"),
        ("optim.betas=[0.9]", "optim.betas: needs an item 1"),
        # evaluation raised after --out held config, metrics and TensorBoard files
        ("eval.sigmas=[]", "eval.sigmas=[]"),
        ("eval.sigmas=[-1.0]", "eval.sigmas=[-1.0] (item 0)"),
        ("eval.sigmas=[0.5, 0.0]", "(item 1)"),
        # the U-Net raised on a zero or negative width
        ("model.channel_mult=[0]", "model.channel_mult=[0] (item 0)"),
        ("model.channel_mult=[-1, 2]", "model.channel_mult=[-1, 2] (item 0)"),
        ("model.attention_resolutions=[0]", "model.attention_resolutions=[0] (item 0)"),
        # NaN and infinity trained to NaN silently
        ("model.p_mean=nan", "model.p_mean=nan"),
        ("model.sigma_data=inf", "model.sigma_data=inf"),
        ("optim.eps=inf", "optim.eps=inf"),
        ("optim.weight_decay=inf", "optim.weight_decay=inf"),
        ("eval.sigmas=[nan]", "eval.sigmas=[nan] (item 0)"),
        ("train.ema_rampup_ratio=inf", "train.ema_rampup_ratio=inf"),
        # a split or domain is one folder under data.root
        ("data.split_val='../train'", "data.split_val='../train'"),
        ("data.split_train=''", "data.split_train=''"),
        (
            "data.domains={'a/b'={channels=1, scale=1, read_noise=1, background=0}}",
            "data.domains: key 'a/b'",
        ),
    ],
)
def test_value_that_would_crash_later_is_refused_at_load(item: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        load_config(None, [item])
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"--set {item}: ")
    assert expected in message


def test_unknown_set_key_is_blamed_on_set_not_on_the_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[train]\nmax_steps = 100\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(config, ["train.max_step=5"])
    message = str(err.value)
    assert message.startswith("--set train.max_step=5: unknown key 'train.max_step'")
    assert "run.toml" not in message


def test_bad_value_in_the_file_is_still_blamed_on_the_file(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text("[optim]\nbetas = [1.5, 0.999]\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(config, ["train.max_steps=100"])
    assert str(err.value).startswith(f"{config}: optim.betas=")


def test_the_last_set_of_a_key_is_the_one_blamed() -> None:
    with pytest.raises(InputError) as err:
        load_config(None, ["optim.eps=1e-8", "optim.eps=inf"])
    assert str(err.value).startswith("--set optim.eps=inf: ")
