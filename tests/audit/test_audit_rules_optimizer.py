"""OPT001 (accumulation not applied) and OPT002 (clipping not applied): both directions."""

from __future__ import annotations

import pytest

POSITIVE = [
    pytest.param(
        "OPT001",
        """
        import torch
        config = {"lr": 1e-4, "gradient_accumulation_steps": 4}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        print(f"effective batch: {32 * config['gradient_accumulation_steps']}")
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            optimizer.zero_grad()
        """,
        id="opt001-dict-key-only-printed",
    ),
    pytest.param(
        "OPT001",
        """
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=1e-4)
        parser.add_argument("--grad_accum_steps", type=int, default=8)
        args = parser.parse_args()
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
        for step, batch in enumerate(loader):
            model(batch).backward()
            opt.step()
            opt.zero_grad()
        """,
        id="opt001-argparse-key-never-read",
    ),
    pytest.param(
        "OPT002",
        """
        import torch
        config = {"lr": 1e-4, "max_grad_norm": 1.0}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            optimizer.zero_grad()
        """,
        id="opt002-threshold-never-read",
    ),
    pytest.param(
        "OPT002",
        """
        import torch
        from torch.nn.utils import clip_grad_norm_
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            clip_grad_norm_(model.parameters(), 1.0)
            optimizer.zero_grad()
        """,
        id="opt002-clip-after-step",
    ),
    pytest.param(
        "OPT002",
        """
        import logging
        import torch
        log = logging.getLogger("train")
        hparams = dict(lr=1e-4, grad_clip=0.5)
        log.info("clipping at %.2f", hparams["grad_clip"])
        opt = torch.optim.Adam(model.parameters(), lr=hparams["lr"])
        while True:
            model().backward()
            opt.step()
        """,
        id="opt002-threshold-only-logged",
    ),
]

NEGATIVE = [
    pytest.param(
        "OPT001",
        """
        import torch
        config = {"lr": 1e-4, "gradient_accumulation_steps": 4}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for i, batch in enumerate(loader):
            loss = model(batch) / config["gradient_accumulation_steps"]
            loss.backward()
            if (i + 1) % config["gradient_accumulation_steps"] == 0:
                optimizer.step()
                optimizer.zero_grad()
        """,
        id="opt001-modulo-boundary",
    ),
    pytest.param(
        "OPT001",
        """
        import torch
        config = {"lr": 1e-4, "accum_steps": 4}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for step in range(1000):
            for micro in range(config["accum_steps"]):
                model(next(data)).backward()
            optimizer.step()
            optimizer.zero_grad()
        """,
        id="opt001-inner-micro-batch-loop",
    ),
    pytest.param(
        "OPT001",
        """
        from transformers import Trainer, TrainingArguments
        config = {"gradient_accumulation_steps": 4, "max_grad_norm": 1.0}
        args = TrainingArguments(
            "out",
            gradient_accumulation_steps=config["gradient_accumulation_steps"],
            max_grad_norm=config["max_grad_norm"],
        )
        Trainer(model=model, args=args, train_dataset=ds).train()
        """,
        id="opt001-hf-trainer",
    ),
    pytest.param(
        "OPT001",
        """
        import torch
        from accelerate import Accelerator
        config = {"lr": 1e-4, "gradient_accumulation_steps": 4}
        accelerator = Accelerator(gradient_accumulation_steps=config["gradient_accumulation_steps"])
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        for batch in loader:
            with accelerator.accumulate(model):
                accelerator.backward(model(batch))
                optimizer.step()
                optimizer.zero_grad()
        """,
        id="opt001-accelerate-accumulate",
    ),
    pytest.param(
        "OPT001",
        """
        import torch
        config = {"lr": 1e-4, "gradient_accumulation_steps": 1}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        id="opt001-accumulation-of-one-claims-nothing",
    ),
    pytest.param(
        "OPT002",
        """
        import torch
        config = {"lr": 1e-4, "max_grad_norm": 1.0}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            model(batch).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["max_grad_norm"])
            optimizer.step()
            optimizer.zero_grad()
        """,
        id="opt002-clip-before-step",
    ),
    pytest.param(
        "OPT002",
        """
        import torch
        grad_clip = 1.0
        scaler = torch.amp.GradScaler()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for batch in loader:
            scaler.scale(model(batch)).backward()
            if grad_clip != 0.0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
        """,
        id="opt002-nanogpt-amp-unscale-then-clip",
    ),
    pytest.param(
        "OPT002",
        """
        import lightning as L
        config = {"gradient_clip_val": 1.0, "max_epochs": 3}
        trainer = L.Trainer(
            gradient_clip_val=config["gradient_clip_val"], max_epochs=config["max_epochs"]
        )
        trainer.fit(module)
        """,
        id="opt002-lightning-trainer-clips",
    ),
    pytest.param(
        "OPT002",
        """
        import torch
        config = {"lr": 1e-4, "grad_clip": 0.0}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        id="opt002-clip-zero-is-off",
    ),
]


@pytest.mark.parametrize(("code", "source"), POSITIVE)
def test_rule_fires(audit, code: str, source: str) -> None:
    found = audit(source, select={code})
    assert [f.code for f in found] == [code], found
    assert found[0].severity == "error" and found[0].fix


@pytest.mark.parametrize(("code", "source"), NEGATIVE)
def test_rule_stays_silent(codes, code: str, source: str) -> None:
    assert codes(source, select={code}) == []


def test_opt002_clip_after_step_points_at_the_clip_call(audit) -> None:
    (finding,) = audit(
        """
        import torch
        for batch in loader:
            loss.backward()
            optimizer.step()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """,
        select={"OPT002"},
    )
    assert (finding.line, finding.col) == (6, 5)
    assert finding.related == ((5, 5),)
