"""Schedulers kept inside a wrapper class a project factory in another module returns
(StyleTTS2: ``build_optimizer`` → ``MultiOptimizer(optim, schedulers)``), whose one
scheduler-stepping method nothing calls: SCH002 at the factory call in the script."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OPTIMIZERS = """
import torch


class MultiOptimizer:
    def __init__(self, optimizers, schedulers):
        self.optimizers = optimizers
        self.schedulers = schedulers

    def step(self, key):
        self.optimizers[key].step()

    def zero_grad(self):
        for opt in self.optimizers.values():
            opt.zero_grad()

    def scheduler(self, key=None):
        for name, sched in self.schedulers.items():
            sched.step()


def define_scheduler(optimizer, max_lr):
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=1000)


def build_optimizer(parameters, lr):
    optim = {key: torch.optim.AdamW(params, lr=lr) for key, params in parameters.items()}
    schedulers = {key: define_scheduler(opt, lr * 2) for key, opt in optim.items()}
    multi = MultiOptimizer(optim, schedulers)
    return multi
"""

TRAIN = """
import torch
from optimizers import build_optimizer


def main(model, loader):
    optimizer = build_optimizer({k: m.parameters() for k, m in model.items()}, lr=1e-4)
    for batch in loader:
        optimizer.zero_grad()
        model["net"](batch).mean().backward()
        optimizer.step("net")
%s
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


def test_wrapper_schedulers_never_stepped(tmp_path: Path) -> None:
    (tmp_path / "optimizers.py").write_text(OPTIMIZERS)
    (tmp_path / "train.py").write_text(TRAIN % "")
    findings = [f for f in audit(tmp_path) if f["code"] == "SCH002"]
    assert len(findings) == 1, findings
    assert str(findings[0]["path"]).endswith("train.py")
    assert findings[0]["line"] == 7
    assert "MultiOptimizer" in str(findings[0]["message"])
    assert "scheduler()" in str(findings[0]["message"])


@pytest.mark.parametrize(
    "stepped",
    [
        "        optimizer.scheduler()",  # the stepping method is called
        "        for s in optimizer.schedulers.values():\n            s.step()",  # reached directly
    ],
)
def test_wrapper_schedulers_stepped_stay_quiet(tmp_path: Path, stepped: str) -> None:
    (tmp_path / "optimizers.py").write_text(OPTIMIZERS)
    (tmp_path / "train.py").write_text(TRAIN % stepped)
    assert [f for f in audit(tmp_path) if f["code"] == "SCH002"] == []


def test_wrapper_whose_step_steps_schedulers_stays_quiet(tmp_path: Path) -> None:
    steps_all = OPTIMIZERS.replace(
        "        self.optimizers[key].step()\n",
        "        self.optimizers[key].step()\n        self.schedulers[key].step()\n",
    )
    (tmp_path / "optimizers.py").write_text(steps_all)
    (tmp_path / "train.py").write_text(TRAIN % "")
    assert [f for f in audit(tmp_path) if f["code"] == "SCH002"] == []
