"""A class whose base lives in another module of the audited project: the base is read, and
only a base that may touch the attribute (names it, hands ``self`` away) hides it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BASE = """
from abc import ABC


class BasePipeline(ABC):
    def __init__(self, model):
        self.model = model
        if isinstance(self, ABC):
            self.ready = True
%s
"""

PIPELINE = """
import torch
from base import BasePipeline


class Pipeline(BasePipeline):
    def setup(self, cfg):
        self.optimizer = torch.optim.Adam(self.model.parameters())
        self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, cfg["step"])

    def after_epoch(self, epoch, path):
        self.scheduler.step()
        torch.save({"epoch": epoch, "optimizer": self.optimizer.state_dict()}, path)
"""


def audit_codes(folder: Path) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in {0, 1}, result.stderr
    return sorted(f["code"] for f in json.loads(result.stdout) if f["code"] != "SEC001")


def test_project_base_that_never_touches_the_scheduler(tmp_path: Path) -> None:
    (tmp_path / "base.py").write_text(BASE % "")
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    assert audit_codes(tmp_path) == ["CKP001"]


@pytest.mark.parametrize(
    "member",
    [
        pytest.param(
            "    def resume(self, state):\n"
            "        self.scheduler.load_state_dict(state['scheduler'])\n",
            id="base-restores-it",
        ),
        pytest.param("    def publish(self):\n        register(self)\n", id="base-hands-self-away"),
    ],
)
def test_project_base_that_may_touch_it_keeps_silence(tmp_path: Path, member: str) -> None:
    (tmp_path / "base.py").write_text(BASE % member)
    (tmp_path / "pipeline.py").write_text(PIPELINE)
    assert audit_codes(tmp_path) == []
