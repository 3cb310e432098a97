"""Schedulers a project wrapper class in another module builds and keeps (nerfstudio's
``Optimizers``: ``self.schedulers[k] = cfg.get_scheduler(optimizer=...)``), stepped by the
script through the wrapper's method, while the script's checkpoint saves only the optimizer
state: CKP001 at the ``torch.save``; quiet when the schedulers' state is saved too."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

OPTIMIZERS = """
import torch


class ExpDecay:
    def __init__(self, gamma):
        self.gamma = gamma

    def get_scheduler(self, optimizer, lr_init):
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.gamma)


class Optimizers:
    def __init__(self, config, param_groups):
        self.optimizers = {}
        self.schedulers = {}
        for name, params in param_groups.items():
            self.optimizers[name] = torch.optim.Adam(params, lr=config[name]["lr"])
            self.schedulers[name] = config[name]["scheduler"].get_scheduler(
                optimizer=self.optimizers[name], lr_init=config[name]["lr"]
            )

    def optimizer_step_all(self):
        for opt in self.optimizers.values():
            opt.step()

    def scheduler_step_all(self, step):
        for name, scheduler in self.schedulers.items():
            scheduler.step()
"""

TRAIN = """
import torch
from optimizers import ExpDecay, Optimizers


class Trainer:
    def setup(self, model):
        self.model = model
        config = {"net": {"lr": 1e-3, "scheduler": ExpDecay(0.99)}}
        self.optimizers = Optimizers(config, {"net": list(model.parameters())})

    def save_checkpoint(self, step, path):
        torch.save(
            {
                "step": step,
                "model": self.model.state_dict(),
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.optimizers.items()},
%s            },
            path,
        )

    def train(self, loader):
        for step, batch in enumerate(loader):
            self.model(batch).mean().backward()
            self.optimizers.optimizer_step_all()
            self.optimizers.scheduler_step_all(step)
            self.save_checkpoint(step, "ckpt.pt")
"""

SAVES_SCHEDULERS = (
    '                "schedulers": '
    "{k: v.state_dict() for k, v in self.optimizers.schedulers.items()},\n"
)


def audit(folder: Path) -> list[dict[str, object]]:
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in {0, 1}, result.stderr
    return [f for f in json.loads(result.stdout) if f["code"] in {"CKP001", "CKP002"}]


def test_checkpoint_omits_wrapper_schedulers(tmp_path: Path) -> None:
    (tmp_path / "optimizers.py").write_text(OPTIMIZERS)
    (tmp_path / "train.py").write_text(TRAIN % "")
    findings = audit(tmp_path)
    assert [f["code"] for f in findings] == ["CKP001"], findings
    assert str(findings[0]["path"]).endswith("train.py")
    assert findings[0]["line"] == 13
    assert "Optimizers" in str(findings[0]["message"])
    assert "scheduler_step_all()" in str(findings[0]["message"])


@pytest.mark.parametrize("variant", ["saves", "never stepped"])
def test_wrapper_schedulers_saved_or_unstepped_stay_quiet(tmp_path: Path, variant: str) -> None:
    (tmp_path / "optimizers.py").write_text(OPTIMIZERS)
    train = TRAIN % SAVES_SCHEDULERS
    if variant == "never stepped":
        train = (TRAIN % "").replace("            self.optimizers.scheduler_step_all(step)\n", "")
    (tmp_path / "train.py").write_text(train)
    assert audit(tmp_path) == []
