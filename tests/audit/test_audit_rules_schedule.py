"""SCH001–SCH005: schedules configured, built, stepped and sized — positive and negative."""

from __future__ import annotations

import pytest

LOOP = """
for batch in loader:
    optimizer.zero_grad()
    loss = model(batch).mean()
    loss.backward()
    optimizer.step()
"""

POSITIVE = [
    # SCH001: a schedule is claimed, nothing builds or writes the LR.
    pytest.param(
        "SCH001",
        """
        import torch
        config = {"lr": 1e-4, "lr_scheduler": "cosine", "warmup_steps": 500}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            optimizer.zero_grad()
            model(batch).mean().backward()
            optimizer.step()
        """,
        id="sch001-dict-cosine",
    ),
    pytest.param(
        "SCH001",
        """
        import argparse
        import torch
        parser = argparse.ArgumentParser()
        parser.add_argument("--lr", type=float, default=3e-4)
        parser.add_argument("--warmup-steps", type=int, default=1000)
        args = parser.parse_args()
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
        print(f"warmup for {args.warmup_steps} steps")
        while True:
            opt.zero_grad()
            model().backward()
            opt.step()
        """,
        id="sch001-argparse-warmup-only-printed",
    ),
    # SCH002: a scheduler that nothing steps.
    pytest.param(
        "SCH002",
        """
        import torch
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=100)
        for batch in loader:
            optimizer.zero_grad()
            model(batch).backward()
            optimizer.step()
        """,
        id="sch002-torch-cosine-unstepped",
    ),
    pytest.param(
        "SCH002",
        """
        from transformers import get_cosine_schedule_with_warmup
        from torch.optim import AdamW
        opt = AdamW(model.parameters(), lr=5e-5)
        sched = get_cosine_schedule_with_warmup(opt, 100, 1000)
        for batch in loader:
            model(**batch).loss.backward()
            opt.step()
            opt.zero_grad()
        """,
        id="sch002-hf-schedule-unstepped",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        import lightning as L

        class Module(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                opt = self.optimizers()
                opt.zero_grad()
                self.manual_backward(self.model(batch))
                opt.step()

            def configure_optimizers(self):
                opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
                sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=1000)
                return [opt], [sched]
        """,
        id="sch002-lightning-manual-optimization",
    ),
    # SCH003: stepped per micro-batch under accumulation.
    pytest.param(
        "SCH003",
        """
        import torch
        accum = 4
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, 1.0, 100)
        for i, batch in enumerate(loader):
            (model(batch) / accum).backward()
            if (i + 1) % accum == 0:
                optimizer.step()
                optimizer.zero_grad()
            scheduler.step()
        """,
        id="sch003-step-outside-accumulation-branch",
    ),
    pytest.param(
        "SCH003",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
        for step in range(1000):
            for micro in range(4):
                model(next(data)).backward()
                scheduler.step()
            optimizer.step()
            optimizer.zero_grad()
        """,
        id="sch003-step-inside-micro-batch-loop",
    ),
    # SCH004: two chainable schedulers on one optimizer.
    pytest.param(
        "SCH004",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=100)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            warmup.step()
            cosine.step()
        """,
        id="sch004-both-stepped-every-iteration",
    ),
    pytest.param(
        "SCH004",
        """
        from torch.optim import SGD
        from torch.optim.lr_scheduler import ExponentialLR, StepLR
        def train(model, loader):
            opt = SGD(model.parameters(), lr=0.1)
            s1 = ExponentialLR(opt, gamma=0.99)
            s2 = StepLR(opt, step_size=30)
            for epoch in range(90):
                for batch in loader:
                    model(batch).backward()
                    opt.step()
                s1.step()
                s2.step()
        """,
        id="sch004-two-epoch-schedulers-in-a-function",
    ),
    # SCH005: epoch-sized schedule stepped per iteration, and the reverse.
    pytest.param(
        "SCH005",
        """
        import torch
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        for epoch in range(args.epochs):
            for images, labels in train_loader:
                loss_fn(model(images), labels).backward()
                optimizer.step()
                scheduler.step()
        """,
        id="sch005-epochs-stepped-per-batch",
    ),
    pytest.param(
        "SCH005",
        """
        from transformers import get_linear_schedule_with_warmup
        total_steps = len(train_loader) * num_epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, total_steps)
        for epoch in range(num_epochs):
            for batch in train_loader:
                model(**batch).loss.backward()
                optimizer.step()
            scheduler.step()
        """,
        id="sch005-iterations-stepped-per-epoch",
    ),
]

NEGATIVE = [
    pytest.param(
        "SCH001",
        """
        import math
        import torch
        warmup_iters = 2000
        lr_decay_iters = 600000
        learning_rate = 6e-4
        min_lr = 6e-5
        config = {"learning_rate": learning_rate, "warmup_iters": warmup_iters, "decay_lr": True}

        def get_lr(it):
            if it < config["warmup_iters"]:
                return learning_rate * (it + 1) / (warmup_iters + 1)
            ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
            return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - min_lr)

        optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"])
        for it in range(lr_decay_iters):
            lr = get_lr(it) if config["decay_lr"] else learning_rate
            for param_group in optimizer.param_groups:
                param_group["lr"] = lr
            model(next(data)).backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        """,
        id="sch001-nanogpt-lr-written-into-param-groups",
    ),
    pytest.param(
        "SCH001",
        """
        from transformers import Trainer, TrainingArguments
        config = {"lr_scheduler": "cosine", "warmup_steps": 500}
        args = TrainingArguments(
            "out", lr_scheduler_type=config["lr_scheduler"], warmup_steps=config["warmup_steps"]
        )
        Trainer(model=model, args=args, train_dataset=ds).train()
        """,
        id="sch001-hf-trainer-applies-it",
    ),
    pytest.param(
        "SCH001",
        """
        import torch
        config = {"lr": 1e-4, "lr_scheduler": "constant"}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        id="sch001-constant-schedule-claims-nothing",
    ),
    pytest.param(
        "SCH001",
        """
        import torch
        from mylib import attach_schedule
        config = {"lr": 1e-4, "lr_scheduler": "cosine", "warmup_steps": 100}
        optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        attach_schedule(optimizer, config["lr_scheduler"], config["warmup_steps"])
        for batch in loader:
            model(batch).backward()
            optimizer.step()
        """,
        id="sch001-optimizer-handed-to-unseen-code",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=100)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=900)
        scheduler = torch.optim.lr_scheduler.SequentialLR(
            optimizer, schedulers=[warmup, cosine], milestones=[100]
        )
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            scheduler.step()
        """,
        id="sch002-sequentiallr-children",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        from torch.optim.lr_scheduler import ChainedScheduler, ConstantLR, ExponentialLR
        opt = torch.optim.SGD(model.parameters(), lr=1.0)
        sched = ChainedScheduler([ConstantLR(opt, factor=0.1), ExponentialLR(opt, gamma=0.9)])
        for epoch in range(10):
            train_epoch(model, opt)
            sched.step()
        """,
        id="sch002-chainedscheduler-inline-children",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        from transformers import Trainer, get_cosine_schedule_with_warmup
        opt = torch.optim.AdamW(model.parameters(), lr=5e-5)
        sched = get_cosine_schedule_with_warmup(opt, 100, 1000)
        Trainer(model=model, args=args, optimizers=(opt, sched)).train()
        """,
        id="sch002-hf-trainer-steps-it",
    ),
    pytest.param(
        "SCH002",
        """
        import torch
        import lightning as L

        class Module(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False

            def training_step(self, batch, batch_idx):
                opt = self.optimizers()
                sch = self.lr_schedulers()
                opt.zero_grad()
                self.manual_backward(self.model(batch))
                opt.step()
                sch.step()

            def configure_optimizers(self):
                opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
                return [opt], [torch.optim.lr_scheduler.StepLR(opt, step_size=10)]
        """,
        id="sch002-lightning-manual-steps-lr-schedulers",
    ),
    pytest.param(
        "SCH003",
        """
        import torch
        accum = 4
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.LinearLR(optimizer, 0.1, 1.0, 100)
        for i, batch in enumerate(loader):
            (model(batch) / accum).backward()
            if (i + 1) % accum == 0:
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        """,
        id="sch003-step-inside-the-branch",
    ),
    pytest.param(
        "SCH003",
        """
        from accelerate import Accelerator
        accelerator = Accelerator(gradient_accumulation_steps=4)
        model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, sched)
        for i, batch in enumerate(loader):
            with accelerator.accumulate(model):
                accelerator.backward(model(batch))
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
        """,
        id="sch003-accelerate-prepared-scheduler",
    ),
    pytest.param(
        "SCH003",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=1000)
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
        """,
        id="sch003-no-accumulation",
    ),
    pytest.param(
        "SCH004",
        """
        import torch
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        scheduler = torch.optim.lr_scheduler.SequentialLR(
            optimizer,
            [
                torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.01, total_iters=100),
                torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=900),
            ],
            milestones=[100],
        )
        for batch in loader:
            model(batch).backward()
            optimizer.step()
            scheduler.step()
        """,
        id="sch004-sequentiallr-owns-both",
    ),
    pytest.param(
        "SCH004",
        """
        import torch
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        if args.sched == "cosine":
            cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        else:
            step = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
        for epoch in range(args.epochs):
            train_one_epoch(model, optimizer)
            if args.sched == "cosine":
                cosine.step()
            else:
                step.step()
        """,
        id="sch004-one-or-the-other-branch",
    ),
    pytest.param(
        "SCH004",
        """
        import torch
        opt_g = torch.optim.Adam(gen.parameters(), lr=2e-4)
        opt_d = torch.optim.Adam(disc.parameters(), lr=2e-4)
        sched_g = torch.optim.lr_scheduler.StepLR(opt_g, step_size=30)
        sched_d = torch.optim.lr_scheduler.StepLR(opt_d, step_size=30)
        for epoch in range(100):
            for batch in loader:
                opt_d.step()
                opt_g.step()
            sched_g.step()
            sched_d.step()
        """,
        id="sch004-gan-two-optimizers",
    ),
    pytest.param(
        "SCH005",
        """
        import torch
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
        for epoch in range(args.epochs):
            for images, labels in train_loader:
                loss_fn(model(images), labels).backward()
                optimizer.step()
            scheduler.step()
        """,
        id="sch005-epochs-stepped-per-epoch",
    ),
    pytest.param(
        "SCH005",
        """
        from transformers import get_linear_schedule_with_warmup
        total_steps = len(train_loader) * num_epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, total_steps)
        for epoch in range(num_epochs):
            for batch in train_loader:
                model(**batch).loss.backward()
                optimizer.step()
                scheduler.step()
        """,
        id="sch005-iterations-stepped-per-batch",
    ),
    pytest.param(
        "SCH005",
        """
        import torch
        # torchvision classification reference: StepLR counts epochs in step_size.
        main_lr_scheduler = torch.optim.lr_scheduler.StepLR(
            optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma
        )
        for epoch in range(args.start_epoch, args.epochs):
            train_one_epoch(model, criterion, optimizer, data_loader, device, epoch, args)
            main_lr_scheduler.step()
        """,
        id="sch005-torchvision-steplr-step-size-in-epochs",
    ),
    pytest.param(
        "SCH005",
        """
        import torch
        # torchvision detection reference: milestones are epochs (--lr-steps 16 22).
        lr_scheduler = torch.optim.lr_scheduler.MultiStepLR(
            optimizer, milestones=args.lr_steps, gamma=args.lr_gamma
        )
        for epoch in range(args.start_epoch, args.epochs):
            train_one_epoch(model, optimizer, data_loader, device, epoch, args.print_freq)
            lr_scheduler.step()
        """,
        id="sch005-torchvision-multisteplr-lr-steps-in-epochs",
    ),
    pytest.param(
        "SCH005",
        """
        import torch
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=0.1, epochs=args.epochs, steps_per_epoch=len(train_loader)
        )
        for epoch in range(args.epochs):
            for batch in train_loader:
                model(batch).backward()
                optimizer.step()
                scheduler.step()
        """,
        id="sch005-onecycle-epochs-times-steps-per-epoch",
    ),
]


@pytest.mark.parametrize(("code", "source"), POSITIVE)
def test_rule_fires(audit, code: str, source: str) -> None:
    found = audit(source, select={code})
    assert [f.code for f in found] == [code], found
    assert all(f.fix and f.severity == "error" for f in found)


@pytest.mark.parametrize(("code", "source"), NEGATIVE)
def test_rule_stays_silent(codes, code: str, source: str) -> None:
    assert codes(source, select={code}) == []


def test_sch001_points_at_the_claim_and_names_the_step(audit) -> None:
    found = audit(
        """
        import torch
        config = {"lr": 1e-4, "lr_scheduler": "cosine"}
        optimizer = torch.optim.AdamW(params, lr=config["lr"])
        for batch in loader:
            optimizer.step()
        """,
        select={"SCH001"},
    )
    (finding,) = found
    assert (finding.line, finding.col) == (3, 23)
    assert "'cosine'" in finding.message and "optimizer.step()" in finding.message
    # related: the optimizer construction (line 4) and the step (line 6)
    assert {line for line, _ in finding.related} >= {4, 6}


CLASS_TRAINER = """
import torch


class Trainer:
    def __init__(self, config, model):
        self.config = config
        self.model = model
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
        self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            self.optimizer, T_max=config["max_steps"]
        )

    def train_step(self, batch):
        loss = self.model(batch)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()

    def save(self, path):
        torch.save(
            {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}, path
        )


if __name__ == "__main__":
    trainer = Trainer({"lr": 1e-4, "max_steps": 1000}, build_model())
    for batch in loader:
        trainer.train_step(batch)
    trainer.save("last.pt")
"""


def test_class_based_trainer_unstepped_scheduler_then_unsaved_scheduler(codes) -> None:
    """The same trainer class, before and after adding ``self.scheduler.step()``: first the
    scheduler is never stepped; once it is, the checkpoint lacks its state."""
    assert codes(CLASS_TRAINER) == ["SCH002"]
    stepped = CLASS_TRAINER.replace(
        "        self.optimizer.step()\n",
        "        self.optimizer.step()\n        self.scheduler.step()\n",
    )
    assert stepped != CLASS_TRAINER
    assert codes(stepped) == ["CKP001"]
