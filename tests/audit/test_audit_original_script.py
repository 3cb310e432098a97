"""The motivating failure, re-created in our own code, and its half-done "fix".

The original script built a config with ``lr_scheduler="cosine"``, ``warmup_steps=20000``,
``gradient_accumulation_steps=2`` and ``gradient_clip_norm=1.0``; its loop called only
``optimizer.step()`` and read the accumulation key only in a log message. The suggested fix
built ``LinearLR`` and ``CosineAnnealingLR`` on one optimizer and stepped them alternately.
"""

from __future__ import annotations

import pytest

ORIGINAL = """
import logging
import torch

logger = logging.getLogger("train_unified_prior")


def build_config(**config_kwargs):
    config = {
        "learning_rate": config_kwargs.get("learning_rate", 1e-4),
        "max_steps": config_kwargs.get("max_steps", 450000),
        "lr_scheduler": config_kwargs.get("lr_scheduler", "cosine"),
        "warmup_steps": config_kwargs.get("warmup_steps", 20000),
        "gradient_accumulation_steps": config_kwargs.get("gradient_accumulation_steps", 2),
        "gradient_clip_norm": config_kwargs.get("gradient_clip_norm", 1.0),
        "batch_size": config_kwargs.get("batch_size", 16),
    }
    return config


def train(model, loader, config):
    effective = config["batch_size"] * config["gradient_accumulation_steps"]
    logger.info(f"effective batch size: {effective}")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"], weight_decay=1e-3)
    step = 0
    while step < config["max_steps"]:
        for batch in loader:
            optimizer.zero_grad()
            loss = model(batch, batch_size=config["batch_size"]).mean()
            loss.backward()
            optimizer.step()
            step += 1
            if step % 1000 == 0:
                logger.info("step %d loss %.4f", step, loss.item())


if __name__ == "__main__":
    train(build_model(), build_loader(), build_config())
"""

FIXED = """
import torch

config = {
    "learning_rate": 1e-4,
    "max_steps": 450000,
    "lr_scheduler": "cosine",
    "warmup_steps": 20000,
}


def train(model, loader):
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"])
    if config["lr_scheduler"] == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer,
            T_max=config["max_steps"] - config["warmup_steps"],
            eta_min=config["learning_rate"] * 0.01,
        )
        warmup_scheduler = torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=0.01, total_iters=config["warmup_steps"]
        )
    step = 0
    for batch in loader:
        optimizer.zero_grad()
        loss = model(batch).mean()
        loss.backward()
        optimizer.step()
        if step < config["warmup_steps"]:
            warmup_scheduler.step()
        else:
            scheduler.step()
        step += 1
"""


def line_of(source: str, text: str) -> int:
    """1-based line of the first line containing ``text`` (after the leading newline)."""
    lines = source.splitlines()
    return next(i for i, line in enumerate(lines, start=1) if text in line)


def test_original_pattern_gives_sch001_opt001_opt002_cfg002(audit) -> None:
    found = audit(ORIGINAL)
    by_code = {f.code: f for f in found}
    assert {"SCH001", "OPT001", "OPT002", "CFG002"} <= set(by_code)
    # Nothing else: learning_rate, max_steps and batch_size are applied, so no CFG001 on them.
    assert set(by_code) <= {"SCH001", "OPT001", "OPT002", "CFG001", "CFG002"}

    sch = by_code["SCH001"]
    assert sch.line == line_of(ORIGINAL, '"lr_scheduler"')
    assert "'cosine'" in sch.message and "20000" in sch.message
    assert "optimizer.step()" in sch.message
    assert line_of(ORIGINAL, "optimizer.step()") in {line for line, _ in sch.related}

    opt1 = by_code["OPT001"]
    assert opt1.line == line_of(ORIGINAL, '"gradient_accumulation_steps"')
    assert "= 2 micro-batches" in opt1.message and "log" in opt1.message

    cfg2 = [f for f in found if f.code == "CFG002"]
    assert [f.line for f in cfg2] == [line_of(ORIGINAL, '"gradient_accumulation_steps"')]

    opt2 = by_code["OPT002"]
    assert opt2.line == line_of(ORIGINAL, '"gradient_clip_norm"')
    assert "1.0" in opt2.message


def test_half_done_fix_in_exclusive_phases_gives_no_sch(audit) -> None:
    """``if step < warmup: warmup.step() else: cosine.step()`` follows the plan exactly (the
    LR ratio to the planned one is 1.000 at every step under torch 2.x): no SCH00x."""
    assert not [f.code for f in audit(FIXED) if f.code.startswith("SCH")]


def test_both_schedulers_stepped_in_one_update_is_sch004(audit) -> None:
    both = FIXED.replace(
        '        if step < config["warmup_steps"]:\n'
        "            warmup_scheduler.step()\n"
        "        else:\n"
        "            scheduler.step()\n",
        "        warmup_scheduler.step()\n        scheduler.step()\n",
    )
    assert both != FIXED
    found = audit(both)
    (sch4,) = [f for f in found if f.code == "SCH004"]
    assert sch4.line == line_of(both, "LinearLR(")
    assert "LinearLR" in sch4.message and "CosineAnnealingLR" in sch4.message
    # The suggested repair lists the warmup first, as SequentialLR needs.
    assert "[warmup_scheduler, scheduler]" in sch4.fix
    assert "SCH001" not in {f.code for f in found}


@pytest.mark.parametrize(
    ("old", "new", "gone"),
    [
        pytest.param(
            "            optimizer.step()\n",
            "            if (step + 1) % config['gradient_accumulation_steps'] == 0:\n"
            "                optimizer.step()\n"
            "                optimizer.zero_grad()\n",
            "OPT001",
            id="accumulation-applied",
        ),
        pytest.param(
            "            optimizer.step()\n",
            "            torch.nn.utils.clip_grad_norm_(\n"
            "                model.parameters(), config['gradient_clip_norm']\n"
            "            )\n"
            "            optimizer.step()\n",
            "OPT002",
            id="clipping-applied",
        ),
    ],
)
def test_each_repair_removes_its_finding(audit, old: str, new: str, gone: str) -> None:
    """Applying one key makes exactly that rule fall silent (the rules are not just noise)."""
    assert ORIGINAL.count(old) == 1
    before = {f.code for f in audit(ORIGINAL)}
    # Gradients are cleared only after the (possibly gated) step, not on every batch.
    repaired = ORIGINAL.replace("            optimizer.zero_grad()\n", "", 1).replace(old, new)
    if "zero_grad" not in new:
        repaired = repaired.replace(
            "            optimizer.step()\n",
            "            optimizer.step()\n            optimizer.zero_grad()\n",
        )
    after = {f.code for f in audit(repaired)}
    assert gone in before and gone not in after
    assert "SCH001" in after  # the schedule is still missing
