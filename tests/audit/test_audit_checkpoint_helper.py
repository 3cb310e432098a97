"""A checkpoint written only through a helper in another module of the audited project
(VITS: ``utils.save_checkpoint(net, optim, lr, epoch, path)`` whose body ``torch.save``s a
dict literal), with the schedulers handed to the train function as a list it unpacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

UTILS = """
import torch


def save_checkpoint(model, optimizer, learning_rate, iteration, path%s):
    torch.save({'model': model.state_dict(),
                'iteration': iteration,
                'optimizer': optimizer.state_dict() if optimizer is not None else None,
                'learning_rate': learning_rate%s}, path)
"""

TRAIN = """
import torch
import utils


def run(hps, net, loader):
    optim_g = torch.optim.AdamW(net.parameters(), hps.lr)
    scheduler_g = torch.optim.lr_scheduler.ExponentialLR(optim_g, gamma=hps.lr_decay)
    for epoch in range(hps.epochs):
        train_and_evaluate(epoch, hps, net, [optim_g], [scheduler_g], loader)
        scheduler_g.step()


def train_and_evaluate(epoch, hps, net, optims, schedulers, loader):
    (optim_g,) = optims
    (scheduler_g,) = schedulers
    for batch in loader:
        optim_g.zero_grad()
        net(batch).mean().backward()
        optim_g.step()
    utils.save_checkpoint(net, optim_g, hps.lr, epoch, "G_latest.pth"%s)
"""


def audit(folder: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in {0, 1}, result.stderr
    return [f for f in json.loads(result.stdout) if f["code"] != "SEC001"]


def test_helper_checkpoint_without_the_scheduler(tmp_path: Path) -> None:
    (tmp_path / "utils.py").write_text(UTILS % ("", ""))
    (tmp_path / "train.py").write_text(TRAIN % "")
    findings = audit(tmp_path)
    assert [(f["code"], Path(str(f["path"])).name, f["line"]) for f in findings] == [
        ("CKP001", "train.py", 21)
    ]
    assert "utils.save_checkpoint" in str(findings[0]["message"])
    assert "scheduler_g" in str(findings[0]["message"])


@pytest.mark.parametrize(
    ("utils", "train"),
    [
        # The helper takes the scheduler and saves its state.
        (
            (", scheduler", ",\n                'scheduler': scheduler.state_dict()"),
            ", scheduler_g",
        ),
        # The helper saves whatever extra state the caller hands it.
        ((", extra", ",\n                'extra': extra"), ", scheduler_g.state_dict()"),
    ],
)
def test_helper_checkpoint_with_the_scheduler_stays_quiet(
    tmp_path: Path, utils: tuple[str, str], train: str
) -> None:
    (tmp_path / "utils.py").write_text(UTILS % utils)
    (tmp_path / "train.py").write_text(TRAIN % train)
    assert audit(tmp_path) == []


def test_helper_that_saves_twice_is_not_judged(tmp_path: Path) -> None:
    # Which of two saves a call writes depends on its arguments: no judgement.
    body = UTILS % ("", "") + "    torch.save(model.state_dict(), path + '.weights')\n"
    (tmp_path / "utils.py").write_text(body)
    (tmp_path / "train.py").write_text(TRAIN % "")
    assert audit(tmp_path) == []
