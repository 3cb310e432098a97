"""OPT001's fifth shape: the accumulation count is read, but only to scale the loss, the LR
or the schedule's length; nothing holds the step back. And the correct shapes (a boundary
test, an inner micro-batch loop, a framework given the count) that must stay quiet."""

from __future__ import annotations

import pytest

SCALES_ONLY = """
import torch

def train(model, loader, lr=1e-3, gradient_accumulation_steps=1):
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr * gradient_accumulation_steps)
    total = len(loader) // gradient_accumulation_steps
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total * gradient_accumulation_steps)
    print("accumulation", gradient_accumulation_steps)
    for step, batch in enumerate(loader):
        loss = model(batch)
        if gradient_accumulation_steps > 1:
            loss /= gradient_accumulation_steps
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
"""


def test_count_that_only_scales_loss_lr_and_schedule(audit) -> None:
    found = audit(SCALES_ONLY, select={"OPT001"})
    assert [f.code for f in found] == ["OPT001"], found
    assert "train(gradient_accumulation_steps=1)" in found[0].message


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param(
            "        optimizer.step()\n        scheduler.step()\n        optimizer.zero_grad()\n",
            "        if (step + 1) % gradient_accumulation_steps == 0:\n"
            "            optimizer.step()\n            scheduler.step()\n"
            "            optimizer.zero_grad()\n",
            id="boundary-test",
        ),
        pytest.param(
            "        loss = model(batch)\n",
            "        for micro in range(gradient_accumulation_steps):\n"
            "            loss = model(batch[micro])\n",
            id="inner-micro-batch-loop",
        ),
        pytest.param(
            "        loss.backward()\n",
            "        run_backward(loss, gradient_accumulation_steps)\n",
            id="count-handed-to-code-we-cannot-see",
        ),
    ],
)
def test_count_that_can_gate_is_quiet(codes, old: str, new: str) -> None:
    assert old in SCALES_ONLY
    assert codes(SCALES_ONLY.replace(old, new), select={"OPT001"}) == []


def test_no_accumulation_claim_is_quiet(codes) -> None:
    source = SCALES_ONLY.replace("gradient_accumulation_steps", "n_repeats")
    assert codes(source, select={"OPT001"}) == []
