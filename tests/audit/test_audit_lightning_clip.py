"""OPT002's third shape: a clip inside training_step of a LightningModule with automatic
optimisation runs before Lightning's own backward; the correct places stay quiet."""

from __future__ import annotations

import pytest

MODULE = """
import torch
import pytorch_lightning as pl

class LitModel(pl.LightningModule):
%s
    def training_step(self, batch, batch_idx):
        loss = self.net(batch).mean()
%s        return loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-3)
"""

CLIP = "        torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)\n"


def test_clip_in_automatic_training_step(audit) -> None:
    found = audit(MODULE % ("", CLIP), select={"OPT002"})
    assert [f.code for f in found] == ["OPT002"], found
    assert "training_step" in found[0].message


@pytest.mark.parametrize(
    ("members", "body"),
    [
        pytest.param("", "", id="no-clip"),
        pytest.param(
            "    def on_before_optimizer_step(self, optimizer):\n"
            "        torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)\n",
            "",
            id="clip-in-on-before-optimizer-step",
        ),
        pytest.param(
            "    def __init__(self):\n        super().__init__()\n"
            "        self.automatic_optimization = False\n",
            "        opt = self.optimizers()\n        self.manual_backward(loss)\n"
            + CLIP
            + "        opt.step()\n        opt.zero_grad()\n",
            id="manual-optimisation",
        ),
    ],
)
def test_correct_clip_places_are_quiet(codes, members: str, body: str) -> None:
    assert codes(MODULE % (members, body), select={"OPT002"}) == []


def test_plain_class_training_step_is_not_lightning(codes) -> None:
    source = (MODULE % ("", CLIP)).replace("(pl.LightningModule)", "(torch.nn.Module)")
    assert codes(source, select={"OPT002"}) == []
