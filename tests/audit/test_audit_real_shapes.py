"""The shapes real training scripts use (issue 10), each as a minimal snippet of our own:
the rule must see through them. Each row: a snippet and the codes it must (and must not) give.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEADER = (
    "import torch\nfrom torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, LRScheduler\n"
)

SHAPES = [
    pytest.param(
        """
        class Manager:
            def create_config(self, **config_kwargs):
                config = {"lr_scheduler": config_kwargs.get("lr_scheduler", "cosine"),
                          "warmup_steps": config_kwargs.get("warmup_steps", 1000)}
                return config

        def main():
            mgr = Manager()
            config = mgr.create_config()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            for batch in loader:
                model(batch).backward()
                optimizer.step()
        """,
        {"SCH001"},
        set(),
        id="config-returned-by-a-manager-method",
    ),
    pytest.param(
        """
        class Manager:
            def save_checkpoint(self, model, optimizer, step):
                torch.save({"model": model.state_dict(), "opt": optimizer.state_dict()}, "c.pt")

        config = {"max_grad_norm": 1.0}
        mgr = Manager()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for step, batch in enumerate(loader):
            model(batch).backward()
            optimizer.step()
            mgr.save_checkpoint(model, optimizer, step)
        """,
        {"OPT002"},
        set(),
        id="optimizer-stored-by-a-same-file-save-method",
    ),
    pytest.param(
        """
        def make_config(gpu, **config_kwargs):
            if gpu:
                config = {"gradient_clip_norm": config_kwargs.get("gradient_clip_norm", 1.0)}
            else:
                config = {"gradient_clip_norm": config_kwargs.get("gradient_clip_norm", 0.5)}
            return config

        config = make_config(True)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        {"OPT002"},
        set(),
        id="twin-dicts-do-not-read-each-other",
    ),
    pytest.param(
        """
        from tqdm import tqdm
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = CosineAnnealingLR(optimizer, T_max=args.epochs)
        for epoch in range(args.epochs):
            for batch in tqdm(train_loader):
                model(batch).backward()
                optimizer.step()
                scheduler.step()
        """,
        {"SCH005"},
        set(),
        id="tqdm-wrapped-loader-is-a-batch-loop",
    ),
    pytest.param(
        """
        def train(model, loader, optimizer, max_grad_norm=None):
            for batch in loader:
                optimizer.zero_grad()
                model(batch).backward()
                optimizer.step()
                if max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        """,
        {"OPT002"},
        set(),
        id="guarded-clip-after-the-step",
    ),
    pytest.param(
        """
        def train(model, loader, optimizer, scheduler, accum):
            for i, batch in enumerate(loader):
                (model(batch) / accum).backward()
                if (i + 1) % accum == 0:
                    optimizer.step()
                    optimizer.zero_grad()
                if scheduler is not None:
                    scheduler.step()

        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        train(model, loader, opt, CosineAnnealingLR(opt, T_max=1000), 4)
        """,
        {"SCH003"},
        set(),
        id="scheduler-under-is-not-none-per-micro-batch",
    ),
    pytest.param(
        """
        from accelerate import Accelerator
        accelerator = Accelerator(gradient_accumulation_steps=4)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = CosineAnnealingLR(optimizer, T_max=1000)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
        for batch in loader:
            with accelerator.accumulate(model):
                accelerator.backward(model(batch))
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        """,
        {"SCH003"},
        set(),
        id="unprepared-scheduler-inside-accelerate-accumulate",
    ),
    pytest.param(
        """
        from accelerate import Accelerator
        accelerator = Accelerator(gradient_accumulation_steps=4)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = CosineAnnealingLR(optimizer, T_max=1000)
        model, optimizer, loader, scheduler = accelerator.prepare(
            model, optimizer, loader, scheduler
        )
        for batch in loader:
            with accelerator.accumulate(model):
                accelerator.backward(model(batch))
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        """,
        set(),
        {"SCH003"},
        id="prepared-scheduler-inside-accelerate-accumulate-is-correct",
    ),
    pytest.param(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        def lr_lambda(epoch):
            return 0.5 * (1 + math.cos(math.pi * epoch / args.epochs))
        scheduler = LambdaLR(optimizer, lr_lambda=lr_lambda)
        for epoch in range(args.epochs):
            for images, targets in train_loader:
                model(images).backward()
                optimizer.step()
                scheduler.step()
        """,
        {"SCH005"},
        set(),
        id="lambdalr-counting-epochs-stepped-per-batch",
    ),
    pytest.param(
        """
        class WarmupPoly(LRScheduler):
            def get_lr(self):
                return [base for base in self.base_lrs]

        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = WarmupPoly(optimizer)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        {"SCH002"},
        set(),
        id="custom-lrscheduler-subclass-never-stepped",
    ),
    pytest.param(
        """
        from myproject.optim import get_scheduler
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = get_scheduler(cfg=cfg, optimizer=optimizer)
        for i, batch in enumerate(loader):
            (model(batch) / 4).backward()
            if (i + 1) % 4 == 0:
                optimizer.step()
                optimizer.zero_grad()
            scheduler.step()
        """,
        {"SCH003"},
        set(),
        id="scheduler-from-a-project-factory",
    ),
    pytest.param(
        """
        class LoopTrainer:
            def __init__(self, model):
                self.model = model

        config = {"gradient_accumulation_steps": 8}
        trainer = LoopTrainer(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        {"OPT001"},
        set(),
        id="a-call-ending-in-trainer-does-not-switch-rules-off",
    ),
    pytest.param(
        """
        import lightning as L

        class Module(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def configure_optimizers(self):
                opt = torch.optim.AdamW(self.parameters(), lr=1e-4)
                return [opt], [CosineAnnealingLR(opt, T_max=100)]

            def training_step(self, batch, batch_idx):
                opt = self.optimizers()
                self.manual_backward(self(batch).mean())
                opt.step()
        """,
        {"SCH002"},
        set(),
        id="lightning-manual-optimization-is-judged",
    ),
    pytest.param(
        """
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for i, batch in enumerate(loader):
            optimizer.zero_grad()
            (model(batch) / args.accum_steps).backward()
            if (i + 1) % args.accum_steps == 0:
                optimizer.step()
        """,
        {"OPT001"},
        set(),
        id="zero-grad-on-every-micro-batch",
    ),
    pytest.param(
        """
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for it, batch in enumerate(loader):
            update = it % args.grad_cum == args.grad_cum - 1
            if update:
                optimizer.zero_grad()
            (model(batch) / args.grad_cum).backward()
            if update:
                optimizer.step()
        """,
        {"OPT001"},
        set(),
        id="zero-grad-at-the-boundary-before-the-last-backward",
    ),
    pytest.param(
        """
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        for it, batch in enumerate(loader):
            (model(batch) / args.grad_cum).backward()
            if it % args.grad_cum == args.grad_cum - 1:
                optimizer.step()
                optimizer.zero_grad()
        """,
        set(),
        {"OPT001"},
        id="zero-grad-after-the-gated-step-is-correct",
    ),
    pytest.param(
        """
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        gradient_accumulation_steps = 4
        for step, batch in enumerate(loader):
            model(batch).backward()
            if step % gradient_accumulation_steps == 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            if optimizer is not None:
                optimizer.step()
                optimizer.zero_grad()
        """,
        {"OPT001"},
        set(),
        id="step-outside-the-accumulation-test",
    ),
    pytest.param(
        """
        import lightning as L

        class Module(L.LightningModule):
            def __init__(self, accumulate_grad_batches=4):
                super().__init__()
                self.automatic_optimization = False
                self.accumulate_grad_batches = accumulate_grad_batches

            def configure_optimizers(self):
                opt = torch.optim.AdamW(self.parameters(), lr=1e-4)
                sched = CosineAnnealingLR(opt, T_max=100)
                config = {"scheduler": sched, "interval": "step"}
                return [{"optimizer": opt, "lr_scheduler": config}]

            def training_step(self, batch, batch_idx):
                g_opt = self.optimizers()
                g_sch = self.lr_schedulers()
                g_opt.zero_grad()
                self.manual_backward(self(batch).mean())
                if (batch_idx + 1) % self.accumulate_grad_batches == 0:
                    g_opt.step()
                    g_sch.step()
        """,
        {"OPT001"},
        {"SCH002"},
        id="lightning-manual-zero-grad-every-micro-batch-scheduler-in-a-dict",
    ),
    pytest.param(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = LambdaLR(optimizer, lr_lambda=lambda e: 0.95**e)
        start_epoch = 0
        if args.resume:
            ckpt = torch.load(args.resume, weights_only=True)
            optimizer.load_state_dict(ckpt["optimizer"])
            start_epoch = ckpt["epoch"] + 1
        scheduler.last_epoch = start_epoch - 1
        for epoch in range(start_epoch, args.epochs):
            for batch in loader:
                model(batch).backward()
                optimizer.step()
            scheduler.step()
            torch.save({"optimizer": optimizer.state_dict(), "epoch": epoch}, "last.pt")
        """,
        set(),
        {"CKP001", "CKP002"},
        id="scheduler-repositioned-by-last-epoch-on-resume",
    ),
    pytest.param(
        """
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        start_epoch = 0
        if args.resume:
            checkpoint = torch.load("ckpt.pth", weights_only=True)
            model.load_state_dict(checkpoint["net"])
            start_epoch = checkpoint["epoch"]
        scheduler = CosineAnnealingLR(optimizer, T_max=200)
        for epoch in range(start_epoch, start_epoch + 200):
            for batch in loader:
                model(batch).backward()
                optimizer.step()
            torch.save({"net": model.state_dict(), "epoch": epoch}, "ckpt.pth")
            scheduler.step()
        """,
        {"CKP001"},
        set(),
        id="checkpoint-with-the-epoch-it-resumes-from-omits-the-scheduler",
    ),
    pytest.param(
        """
        from accelerate import Accelerator
        accelerator = Accelerator(gradient_accumulation_steps=8)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-5)
        policy, optimizer, loader = accelerator.prepare(policy, optimizer, loader)
        for batch in loader:
            with accelerator.accumulate(policy):
                accelerator.backward(policy(batch))
                optimizer.step()
                policy.zero_grad(set_to_none=True)
        """,
        {"OPT001"},
        set(),
        id="module-zero-grad-inside-accelerate-accumulate",
    ),
    pytest.param(
        """
        def train(model, loader, grad_accum_steps=4):
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
            for batch in loader:
                model(batch).backward()
                optimizer.step()
        """,
        {"OPT001"},
        {"CFG001"},
        id="claim-in-a-function-parameter-default",
    ),
]


@pytest.mark.parametrize(("snippet", "must", "must_not"), SHAPES)
def test_real_shape(codes, snippet: str, must: set[str], must_not: set[str]) -> None:
    found = set(codes(HEADER + textwrap.dedent(snippet)))
    assert must <= found, f"missing {must - found}; got {sorted(found)}"
    assert not (must_not & found), f"unexpected {must_not & found}"


def audit_dir(folder: Path) -> list[dict]:
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", "--format", "json", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in {0, 1}, result.stderr
    return json.loads(result.stdout)


def test_two_file_project_scheduler_built_in_one_module(tmp_path: Path) -> None:
    """``schedules.make(opt)`` (a name no heuristic knows) returns a CosineAnnealingLR: the
    project resolves the import, so the never-stepped scheduler in train.py is found."""
    (tmp_path / "schedules.py").write_text(
        "from torch.optim.lr_scheduler import CosineAnnealingLR\n\n"
        "def make(opt, total):\n"
        "    sched = CosineAnnealingLR(opt, T_max=total)\n"
        "    return sched\n"
    )
    (tmp_path / "train.py").write_text(
        "import torch\n"
        "from schedules import make\n\n"
        "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)\n"
        "lr_plan = make(optimizer, 1000)\n"
        "for batch in loader:\n"
        "    model(batch).backward()\n"
        "    optimizer.step()\n"
    )
    found = audit_dir(tmp_path)
    assert [(Path(f["path"]).name, f["code"], f["line"]) for f in found] == [
        ("train.py", "SCH002", 5)
    ]
    # Audited alone, train.py cannot see the factory: silence, not a guess.
    alone = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", str(tmp_path / "train.py")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert alone.returncode == 0, alone.stdout


def test_yaml_claims_are_judged_and_reported_in_the_yaml(tmp_path: Path) -> None:
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "train.yaml").write_text(
        "optim:\n  lr: 0.0001\n  max_grad_norm: 1.0\nschedule:\n  lr_scheduler: cosine\n"
        "  warmup_steps: 2000\n"
    )
    (tmp_path / "train.py").write_text(
        "import torch\nimport yaml\n\n"
        'with open("configs/train.yaml") as f:\n'
        "    cfg = yaml.safe_load(f)\n"
        'optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["optim"]["lr"])\n'
        "for batch in loader:\n"
        "    model(batch).backward()\n"
        "    optimizer.step()\n"
    )
    found = audit_dir(tmp_path)
    where = {(f["code"], Path(f["path"]).name, f["line"]) for f in found}
    assert ("SCH001", "train.yaml", 5) in where
    assert ("OPT002", "train.yaml", 3) in where
    # Handing the loaded config to code we cannot see suspends judgement of its keys.
    script = tmp_path / "train.py"
    script.write_text(script.read_text() + "run_framework(cfg)\n")
    assert audit_dir(tmp_path) == []
