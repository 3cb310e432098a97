"""CKP001–CKP003 (checkpoint and resume) and SEC001 (unsafe torch.load)."""

from __future__ import annotations

import pytest

STEPPED = """
import torch
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
"""

POSITIVE = [
    pytest.param(
        "CKP001",
        """
        import torch
        def train(model, loader, path):
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
            for step, batch in enumerate(loader):
                model(batch).backward()
                optimizer.step()
                scheduler.step()
                if step % 1000 == 0:
                    torch.save(
                        {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                         "step": step},
                        path,
                    )
        """,
        id="ckp001-dict-literal-payload",
    ),
    pytest.param(
        "CKP001",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        lr_sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)
        for epoch in range(30):
            train_epoch(model, optimizer)
            lr_sched.step()
            ckpt = {"model": model.state_dict()}
            ckpt["opt"] = optimizer.state_dict()
            torch.save(ckpt, f"ckpt_{epoch}.pt")
        """,
        id="ckp001-payload-filled-by-subscript",
    ),
    pytest.param(
        "CKP002",
        STEPPED
        + """
ckpt = torch.load("last.pt", weights_only=True)
model.load_state_dict(ckpt["model"])
optimizer.load_state_dict(ckpt["optimizer"])
for batch in loader:
    model(batch).backward()
    optimizer.step()
    scheduler.step()
""",
        id="ckp002-optimizer-restored-scheduler-not",
    ),
    pytest.param(
        "CKP002",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        ckpt = torch.load("last.pt", weights_only=True)
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
        scheduler.load_state_dict(ckpt["scheduler"])
        for batch in loader:
            optimizer.step()
            scheduler.step()
        """,
        id="ckp002-scheduler-built-after-optimizer-load",
    ),
    pytest.param(
        "CKP003",
        """
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--learning_rate", type=float, default=1e-4)
        parser.add_argument("--resume", default="")
        args = parser.parse_args()
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
        if args.resume:
            state = torch.load(args.resume, weights_only=True)
            optimizer.load_state_dict(state["optimizer"])
            if optimizer.param_groups[0]["lr"] != args.learning_rate:
                print("loaded LR differs from", args.learning_rate)
        """,
        id="ckp003-lr-flag-replaced-by-loaded-state",
    ),
    pytest.param(
        "CKP003",
        """
        import torch
        def resume(model, config, path):
            opt = torch.optim.SGD(model.parameters(), lr=config["learning_rate"], momentum=0.9)
            opt.load_state_dict(torch.load(path, weights_only=True)["opt"])
            expected_lr = config["learning_rate"]
            logger.info("config LR %s, loaded LR %s", expected_lr, opt.param_groups[0]["lr"])
            return opt
        """,
        id="ckp003-config-lr-replaced-in-a-function",
    ),
    pytest.param(
        "SEC001",
        """
        import torch
        state = torch.load("model.pt")
        """,
        id="sec001-no-weights-only",
    ),
    pytest.param(
        "SEC001",
        """
        import torch as T
        state = T.load(path, map_location="cpu", weights_only=False)
        """,
        id="sec001-weights-only-false-aliased-import",
    ),
    pytest.param(
        "SEC001",
        """
        from torch import load
        state = load(path)
        """,
        id="sec001-from-import",
    ),
]

NEGATIVE = [
    pytest.param(
        "CKP001",
        STEPPED
        + """
for step, batch in enumerate(loader):
    optimizer.step()
    scheduler.step()
torch.save(
    {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
     "scheduler": scheduler.state_dict()},
    "last.pt",
)
""",
        id="ckp001-scheduler-saved",
    ),
    pytest.param(
        "CKP001",
        """
        import torch
        # nanoGPT: the LR is a function of the iteration; there is no scheduler state.
        optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4)
        for it in range(1000):
            for group in optimizer.param_groups:
                group["lr"] = get_lr(it)
            optimizer.step()
            checkpoint = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                          "iter_num": it}
            torch.save(checkpoint, "ckpt.pt")
        """,
        id="ckp001-nanogpt-no-scheduler-object",
    ),
    pytest.param(
        "CKP001",
        STEPPED
        + """
for batch in loader:
    optimizer.step()
    scheduler.step()
torch.save(model.state_dict(), "weights.pt")
torch.save({"model": model.state_dict(), "ema": ema.state_dict()}, "export.pt")
""",
        id="ckp001-weights-only-export-is-no-resume-checkpoint",
    ),
    pytest.param(
        "CKP001",
        STEPPED
        + """
for batch in loader:
    optimizer.step()
    scheduler.step()
torch.save({"optimizer": optimizer.state_dict(), **extra_state}, "last.pt")
""",
        id="ckp001-payload-merged-from-elsewhere",
    ),
    pytest.param(
        "CKP002",
        STEPPED
        + """
ckpt = torch.load("last.pt", weights_only=True)
optimizer.load_state_dict(ckpt["optimizer"])
scheduler.load_state_dict(ckpt["scheduler"])
for batch in loader:
    optimizer.step()
    scheduler.step()
""",
        id="ckp002-both-restored",
    ),
    pytest.param(
        "CKP002",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        ckpt = torch.load("last.pt", weights_only=True)
        optimizer.load_state_dict(ckpt["optimizer"])
        for batch in loader:
            for group in optimizer.param_groups:
                group["lr"] = get_lr(ckpt["step"])
            optimizer.step()
        """,
        id="ckp002-no-scheduler-object",
    ),
    pytest.param(
        "CKP003",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        optimizer.load_state_dict(torch.load("last.pt", weights_only=True)["optimizer"])
        """,
        id="ckp003-literal-lr-is-no-claim",
    ),
    pytest.param(
        "CKP003",
        """
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--learning_rate", type=float, default=1e-4)
        parser.add_argument("--resume", default="")
        args = parser.parse_args()
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.learning_rate)
        if args.resume:
            state = torch.load(args.resume, weights_only=True)
            optimizer.load_state_dict(state["optimizer"])
        """,
        id="ckp003-ordinary-exact-resume-is-correct",
    ),
    pytest.param(
        "CKP003",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        optimizer.load_state_dict(torch.load(args.resume, weights_only=True)["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = args.lr
        """,
        id="ckp003-lr-rewritten-after-load",
    ),
    pytest.param(
        "CKP003",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr)
        model.load_state_dict(torch.load(args.weights, weights_only=True))
        """,
        id="ckp003-only-model-loaded",
    ),
    pytest.param(
        "SEC001",
        """
        import torch
        state = torch.load("model.pt", map_location="cpu", weights_only=True)
        """,
        id="sec001-weights-only-true",
    ),
    pytest.param(
        "SEC001",
        """
        import json
        import torch
        from safetensors.torch import load_file
        weights = load_file("model.safetensors")
        meta = json.load(open("meta.json"))
        state = torch.load(path, **load_kwargs)
        other = torch.load(path, weights_only=trusted)
        """,
        id="sec001-other-loaders-and-caller-decided-flags",
    ),
]


@pytest.mark.parametrize(("code", "source"), POSITIVE)
def test_rule_fires(audit, code: str, source: str) -> None:
    found = audit(source, select={code})
    assert [f.code for f in found] == [code], found
    assert found[0].fix


@pytest.mark.parametrize(("code", "source"), NEGATIVE)
def test_rule_stays_silent(codes, code: str, source: str) -> None:
    assert codes(source, select={code}) == []
