"""``doctor.inference`` on LR series that real torch schedulers produce: every intended shape
is called intended (no LR002/LR003 from a schedule working as designed), a warmup that
starts over or a jump after the peak is not, and a decay finished at 1/k of the run is
measured."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from unified_prior.doctor.inference import infer_schedule


def _series(make, steps: int) -> tuple[np.ndarray, np.ndarray]:
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = make(optimizer)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping without gradients
        for _ in range(steps):
            values.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
    return np.arange(steps), np.array(values)


INTENDED = {
    "sgdr_tmult2": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 100, 2),
    "sgdr": lambda o: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 200),
    "onecycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=1500),
    "cyclic": lambda o: torch.optim.lr_scheduler.CyclicLR(o, 0.01, 0.1, step_size_up=100),
    "step": lambda o: torch.optim.lr_scheduler.StepLR(o, 400, 0.1),
    "multistep": lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [600, 1200], 0.1),
    "exponential": lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.998),
    "cosine": lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 1500),
    "constant": lambda o: torch.optim.lr_scheduler.ConstantLR(o, 1.0),
    "warmup_cosine": lambda o: torch.optim.lr_scheduler.SequentialLR(
        o,
        [
            torch.optim.lr_scheduler.LinearLR(o, 0.01, 1.0, 100),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, 1400, 1e-3),
        ],
        [100],
    ),
}


@pytest.mark.parametrize("name", sorted(INTENDED))
def test_torch_schedules_working_as_designed_look_intended(name: str) -> None:
    steps, values = _series(INTENDED[name], 1500)
    inferred = infer_schedule(steps, values)
    assert inferred is not None
    assert inferred.looks_intended, (name, inferred.summary(), inferred.why)
    assert not inferred.rises or inferred.cyclic
    assert inferred.finished_early(1500) is None or inferred.cyclic


def test_shapes_are_named() -> None:
    kinds = {
        name: infer_schedule(*_series(INTENDED[name], 1500)).kind
        for name in ("cosine", "step", "multistep", "constant", "warmup_cosine", "sgdr")
    }
    assert kinds == {
        "cosine": "cosine",
        "step": "step",
        "multistep": "step",
        "constant": "constant",
        "warmup_cosine": "cosine",
        "sgdr": "cyclic",
    }


def test_warmup_that_starts_over_after_a_resume_is_not_intended() -> None:
    def make(o):
        return torch.optim.lr_scheduler.SequentialLR(
            o,
            [
                torch.optim.lr_scheduler.LinearLR(o, 0.01, 1.0, 100),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, 1900),
            ],
            [100],
        )

    first = _series(make, 900)[1]
    second = _series(make, 600)[1]  # rebuilt from step 0 at the resume
    values = np.concatenate([first, second])
    inferred = infer_schedule(np.arange(values.size), values)
    assert inferred is not None and not inferred.looks_intended
    (event,) = inferred.rises
    assert event.kind == "restart" and event.step == 900


def test_a_one_off_jump_after_the_peak_is_not_intended() -> None:
    steps, values = _series(INTENDED["cosine"], 1500)
    values = values.copy()
    values[700:] *= 1.4  # resumed with a longer schedule: the LR jumps up and decays on
    inferred = infer_schedule(steps, values)
    assert inferred is not None and not inferred.looks_intended
    assert [e.kind for e in inferred.rises] == ["jump"]
    assert inferred.rises[0].factor == pytest.approx(1.4, rel=0.01)


def test_a_decay_finished_at_a_quarter_of_the_run_is_measured() -> None:
    steps, values = _series(lambda o: torch.optim.lr_scheduler.LinearLR(o, 1.0, 0.0, 500), 2000)
    inferred = infer_schedule(steps, values)
    assert inferred is not None and not inferred.looks_intended
    assert inferred.finished_early(2000) == pytest.approx(4.0, rel=0.02)
