"""``uprior resume``'s ``--set`` and plan flags on top of a checkpoint's config: a bad key is
blamed on the item that set it, not on the checkpoint (issue 14)."""

from __future__ import annotations

from pathlib import Path

import pytest

from unified_prior.cli.train import _resume_config
from unified_prior.config import RunConfig
from unified_prior.errors import InputError

STORED = RunConfig().to_dict()
CKPT = Path("runs/x/checkpoints/checkpoint_step_0000100.pt")


@pytest.mark.parametrize(
    ("overrides", "lr", "start"),
    [
        (["train.max_step=3"], None, "--set train.max_step=3: unknown key 'train.max_step'"),
        (["optim.betas=[1.5, 0.9]"], None, "--set optim.betas=[1.5, 0.9]: optim.betas="),
        (["train.max_steps.x=1"], None, "--set train.max_steps.x: 'max_steps' is a value"),
        ([], -1.0, "optim.learning_rate=-1.0 (from a flag): optim.learning_rate=-1.0"),
    ],
)
def test_a_bad_override_is_blamed_on_what_set_it(
    overrides: list[str], lr: float | None, start: str
) -> None:
    with pytest.raises(InputError) as err:
        _resume_config(STORED, CKPT, overrides, lr, None, None)
    assert str(err.value).startswith(start)


def test_a_bad_stored_value_is_blamed_on_the_checkpoint() -> None:
    stored = {**STORED, "eval": {**STORED["eval"], "sigmas": []}}
    with pytest.raises(InputError) as err:
        _resume_config(stored, CKPT, ["train.max_steps=500000"], None, None, None)
    assert str(err.value).startswith(f"checkpoint {CKPT} config: eval.sigmas=[]")
