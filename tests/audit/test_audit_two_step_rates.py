"""SCH005: one scheduler stepped both inside a batch loop and once more outside it in the
same function (it advances per batch and per pass); the correct shapes stay quiet."""

from __future__ import annotations

import pytest

TRAIN = """
import torch

def train_epoch(model, loader, optimizer, scheduler):
%s    for it, batch in enumerate(loader):
        optimizer.zero_grad()
        model(batch).backward()
        optimizer.step()
%s
"""

OUTER = "    scheduler.step()\n"
INNER = "        scheduler.step()\n"

MAIN = """
opt = torch.optim.Adam(net.parameters(), lr=1.0)
scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) ** -0.5, 1.0))
for epoch in range(10):
    train_epoch(net, data, opt, scheduler)
"""


def test_stepped_per_batch_and_per_pass(audit) -> None:
    found = audit(TRAIN % (OUTER, INNER) + MAIN, select={"SCH005"})
    assert [f.code for f in found] == ["SCH005"], found
    assert "again outside that batch loop" in found[0].message


@pytest.mark.parametrize(
    ("outer", "inner"),
    [
        pytest.param("", INNER, id="per-batch-only"),
        pytest.param(OUTER, "", id="per-pass-only"),
        # a first-epoch warmup: the two steps never both run in one pass
        pytest.param("    if warm:\n        scheduler.step()\n", INNER, id="conditional-outer"),
    ],
)
def test_one_rate_is_quiet(codes, outer: str, inner: str) -> None:
    assert codes(TRAIN % (outer, inner) + MAIN, select={"SCH005"}) == []
