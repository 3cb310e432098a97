"""CKP001 for schedulers a class or function receives as a parameter (built by a caller the
file may not show), and the correct shapes that must stay quiet."""

from __future__ import annotations

import pytest

TRAINER = """
import torch
from typing import Optional

class Trainer:
    def __init__(self, model, optimizer,
                 lr_scheduler: Optional[torch.optim.lr_scheduler._LRScheduler] = None):
        self.model = model
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler

    def save(self, epoch, path):
        torch.save({"epoch": epoch, "model": self.model.state_dict(),
                    "optimizer": self.optimizer.state_dict()%s}, path)

    def train_epoch(self, loader):
        for batch in loader:
            self.optimizer.zero_grad()
            self.model(batch).backward()
            self.optimizer.step()
        if self.lr_scheduler:
            self.lr_scheduler.step()
"""

FUNCTION = """
import torch

def train(model, optimizer, scheduler, loader, path):
    for epoch in range(10):
        for batch in loader:
            optimizer.zero_grad()
            model(batch).backward()
            optimizer.step()
        scheduler.step(%s)
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "epoch": epoch%s}, path)
"""


def test_annotated_constructor_parameter_scheduler_omitted_from_checkpoint(audit) -> None:
    found = audit(TRAINER % "", select={"CKP001"})
    assert [f.code for f in found] == ["CKP001"], found
    assert "received as parameter 'lr_scheduler'" in found[0].message


def test_annotated_constructor_parameter_scheduler_saved_is_quiet(codes) -> None:
    saved = ', "lr_scheduler": self.lr_scheduler.state_dict()'
    assert codes(TRAINER % saved, select={"CKP001"}) == []


def test_scheduler_named_parameter_omitted_from_checkpoint(codes) -> None:
    assert codes(FUNCTION % ("", ""), select={"CKP001"}) == ["CKP001"]


@pytest.mark.parametrize(
    ("step_args", "extra"),
    [
        pytest.param("", ', "scheduler": scheduler.state_dict()', id="saved"),
        # told its position at every step (timm style): no state to restore
        pytest.param("epoch", "", id="step-given-the-epoch"),
        # ReduceLROnPlateau takes the metric: not judged from a parameter
        pytest.param("val_loss", "", id="step-given-a-metric"),
    ],
)
def test_scheduler_named_parameter_correct_shapes_are_quiet(codes, step_args, extra) -> None:
    assert codes(FUNCTION % (step_args, extra), select={"CKP001"}) == []


def test_parameter_of_a_scheduler_built_in_this_file_is_judged_once(audit) -> None:
    source = (FUNCTION % ("", "")) + (
        "\nopt = torch.optim.SGD(net.parameters(), lr=0.1)\n"
        "train(net, opt, torch.optim.lr_scheduler.StepLR(opt, 3), data, 'c.pt')\n"
    )
    found = audit(source, select={"CKP001"})
    assert [f.code for f in found] == ["CKP001"], found
    assert "StepLR" in found[0].message


def test_module_path_through_lr_scheduler_is_no_outside_read(codes) -> None:
    """``torch.optim.lr_scheduler.X`` in an annotation is a module path, not a read of some
    instance's ``.lr_scheduler`` (which would hand the scheduler away)."""
    source = (TRAINER % "") + "\nx = torch.optim.lr_scheduler.StepLR\n"
    assert codes(source, select={"CKP001"}) == ["CKP001"]
    handed = (TRAINER % "") + "\ntrainer = Trainer(m, o)\ntrainer.lr_scheduler.step()\n"
    assert codes(handed, select={"CKP001"}) == []


LOAD = """
    def load(self, path):
        ckpt = torch.load(path, weights_only=True)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
%s"""


def test_received_scheduler_not_restored_on_resume(audit) -> None:
    found = audit(TRAINER % "" + LOAD % "", select={"CKP002"})
    assert [f.code for f in found] == ["CKP002"], found
    assert "received as parameter 'lr_scheduler'" in found[0].message


def test_received_scheduler_restored_on_resume_is_quiet(codes) -> None:
    restored = '        self.lr_scheduler.load_state_dict(ckpt["lr_scheduler"])\n'
    assert codes(TRAINER % "" + LOAD % restored, select={"CKP002"}) == []


def test_optimizer_loaded_by_another_class_is_not_judged(codes) -> None:
    other = "\nclass Exporter:\n" + LOAD.replace("self.optimizer", "self.opt") % ""
    assert codes(TRAINER % "" + other, select={"CKP002"}) == []


BY_NAME = """
import torch
from torch.optim import lr_scheduler

def train(model, loader, cfg, path):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = getattr(%s, cfg["type"])(optimizer, **cfg["args"])
    for epoch in range(10):
        for batch in loader:
            optimizer.zero_grad()
            model(batch).backward()
            optimizer.step()
        scheduler.step()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()%s}, path)
"""


@pytest.mark.parametrize("module", ["torch.optim.lr_scheduler", "lr_scheduler"])
def test_scheduler_class_named_by_config(audit, module: str) -> None:
    found = audit(BY_NAME % (module, ""), select={"CKP001"})
    assert [f.code for f in found] == ["CKP001"], found
    assert "lr_scheduler class from the config" in found[0].message


def test_scheduler_class_named_by_config_saved_is_quiet(codes) -> None:
    saved = ', "scheduler": scheduler.state_dict()'
    assert codes(BY_NAME % ("torch.optim.lr_scheduler", saved), select={"CKP001"}) == []


def test_getattr_on_another_module_is_no_scheduler(codes) -> None:
    assert codes(BY_NAME % ("my_schedules", ""), select={"CKP001"}) == []


def test_scheduler_stored_in_a_container_is_not_called_never_stepped(codes) -> None:
    """Built into ``self.schedulers[name]`` and stepped through the dict: we do not follow
    container elements, so the scheduler is out of judgement (no SCH002)."""
    source = """
import torch

class Pipeline:
    def setup(self, optimizers, cfg):
        self.schedulers = {}
        for name, opt in optimizers.items():
            self.schedulers[name] = torch.optim.lr_scheduler.StepLR(opt, cfg[name])

    def after_epoch(self):
        for scheduler in self.schedulers.values():
            scheduler.step()
"""
    assert codes(source, select={"SCH002"}) == []
    unstepped = source.replace("            scheduler.step()\n", "            print(scheduler)\n")
    assert codes(unstepped.replace("self.schedulers[name] = ", "sched = "), select={"SCH002"}) == [
        "SCH002"
    ]


CONTAINER = """
import torch

class Pipeline:
    def setup(self, model, cfg):
        self.model = model
        self.optimizers = {"g": torch.optim.Adam(model.g.parameters()),
                           "d": torch.optim.Adam(model.d.parameters())}
        self.schedulers = {}
        for name, optimizer in self.optimizers.items():
            self.schedulers[name] = torch.optim.lr_scheduler.StepLR(optimizer, cfg[name])

    def after_epoch(self, epoch, path):
        for scheduler in self.schedulers.values():
            scheduler.step()
        state = {"epoch": epoch, "model": self.model.state_dict(),
                 "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()}%s}
        torch.save(state, path)
"""


def test_schedulers_kept_in_a_dict_omitted_from_checkpoint(codes) -> None:
    assert codes(CONTAINER % "", select={"CKP001", "SCH002"}) == ["CKP001"]


def test_schedulers_kept_in_a_dict_saved_is_quiet(codes) -> None:
    saved = (
        ',\n                 "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()}'
    )
    assert codes(CONTAINER % saved, select={"CKP001", "SCH002"}) == []


def test_schedulers_dict_handed_away_is_not_judged(codes) -> None:
    handed = CONTAINER % "" + "\n    def export(self):\n        keep(self.schedulers)\n"
    assert codes(handed, select={"CKP001"}) == []


def test_module_name_rebound_as_a_variable_still_reads_outside(codes) -> None:
    """``import trainer`` and later ``trainer = Trainer(...)``: ``trainer.lr_scheduler`` is
    an instance's attribute again, so the scheduler is handed away (no judgement)."""
    source = (
        "import trainer\n"
        + (TRAINER % "")
        + "\ntrainer = Trainer(m, o)\ntrainer.lr_scheduler.step()\n"
    )
    assert codes(source, select={"CKP001"}) == []
