"""Issue 6 point 3: whole scripts written the known-correct ways give no finding at all.

Each is a re-creation, in our own code, of a widely copied pattern: nanoGPT's LR written into
``param_groups``, ``SequentialLR``/``ChainedScheduler``, torchvision's detection reference
(warmup built only for the first epoch), Lightning automatic optimisation, HF ``Trainer`` and
``accelerate``. Every rule runs: a false alarm on any of them would cost more trust than a miss.
"""

from __future__ import annotations

import pytest

NANOGPT = """
import math
import torch

out_dir = "out"
gradient_accumulation_steps = 5 * 8
batch_size = 12
learning_rate = 6e-4
max_iters = 600000
weight_decay = 1e-1
grad_clip = 1.0
decay_lr = True
warmup_iters = 2000
lr_decay_iters = 600000
min_lr = 6e-5
config = {"learning_rate": learning_rate, "max_iters": max_iters, "grad_clip": grad_clip}


def get_lr(it):
    if it < warmup_iters:
        return learning_rate * (it + 1) / (warmup_iters + 1)
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"], weight_decay=0.1)
scaler = torch.amp.GradScaler(enabled=False)
iter_num = 0
while True:
    lr = get_lr(iter_num) if decay_lr else learning_rate
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr
    if iter_num % 2000 == 0:
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "iter_num": iter_num,
            "config": config,
        }
        torch.save(checkpoint, "ckpt.pt")
    for micro_step in range(gradient_accumulation_steps):
        loss = model(get_batch("train")) / gradient_accumulation_steps
        scaler.scale(loss).backward()
    if config["grad_clip"] != 0.0:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    iter_num += 1
    if iter_num > config["max_iters"]:
        break
"""

SEQUENTIAL = """
import torch

config = {
    "learning_rate": 1e-4,
    "lr_scheduler": "cosine",
    "warmup_steps": 20000,
    "max_steps": 450000,
    "gradient_accumulation_steps": 2,
    "gradient_clip_norm": 1.0,
}


def build_scheduler(optimizer, config):
    warmup = torch.optim.lr_scheduler.LinearLR(
        optimizer, start_factor=0.01, total_iters=config["warmup_steps"]
    )
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config["max_steps"] - config["warmup_steps"], eta_min=1e-6
    )
    return torch.optim.lr_scheduler.SequentialLR(
        optimizer, [warmup, cosine], milestones=[config["warmup_steps"]]
    )


def train(model, loader):
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"])
    if config["lr_scheduler"] == "cosine":
        scheduler = build_scheduler(optimizer, config)
    step = 0
    accum = config["gradient_accumulation_steps"]
    for i, batch in enumerate(loader):
        loss = model(batch).mean() / accum
        loss.backward()
        if (i + 1) % accum == 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config["gradient_clip_norm"])
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            if step % 5000 == 0:
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "step": step,
                    },
                    f"checkpoint_step_{step:07d}.pt",
                )
        if step >= config["max_steps"]:
            break
"""

CHAINED = """
import torch
from torch.optim.lr_scheduler import ChainedScheduler, ConstantLR, ExponentialLR

optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
scheduler = ChainedScheduler(
    [ConstantLR(optimizer, factor=0.1, total_iters=2), ExponentialLR(optimizer, gamma=0.9)]
)
for epoch in range(20):
    for batch in loader:
        optimizer.zero_grad()
        model(batch).backward()
        optimizer.step()
    scheduler.step()
"""

TORCHVISION_DETECTION = """
import argparse
import torch


def get_args_parser():
    parser = argparse.ArgumentParser(description="Detection Training")
    parser.add_argument("--epochs", default=26, type=int)
    parser.add_argument("--lr", default=0.02, type=float)
    parser.add_argument("--momentum", default=0.9, type=float)
    parser.add_argument("--lr-steps", default=[16, 22], nargs="+", type=int)
    parser.add_argument("--lr-gamma", default=0.1, type=float)
    parser.add_argument("--resume", default="", type=str)
    parser.add_argument("--print-freq", default=20, type=int)
    return parser


def train_one_epoch(model, optimizer, data_loader, device, epoch, print_freq):
    model.train()
    lr_scheduler = None
    if epoch == 0:
        warmup_factor = 1.0 / 1000
        warmup_iters = min(1000, len(data_loader) - 1)
        lr_scheduler = torch.optim.lr_scheduler.LinearLR(
            optimizer, start_factor=warmup_factor, total_iters=warmup_iters
        )
    for i, (images, targets) in enumerate(data_loader):
        loss_dict = model(images, targets)
        losses = sum(loss for loss in loss_dict.values())
        optimizer.zero_grad()
        losses.backward()
        optimizer.step()
        if lr_scheduler is not None:
            lr_scheduler.step()
        if i % print_freq == 0:
            print(f"epoch {epoch} iter {i} loss {losses.item():.4f}")


def main(args):
    model = build_model()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=args.lr, momentum=args.momentum)
    lr_scheduler = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=args.lr_steps, gamma=args.lr_gamma
    )
    if args.resume:
        checkpoint = torch.load(args.resume, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        lr_scheduler.load_state_dict(checkpoint["lr_scheduler"])
    for epoch in range(args.epochs):
        train_one_epoch(model, optimizer, data_loader, "cpu", epoch, args.print_freq)
        lr_scheduler.step()
        checkpoint = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": lr_scheduler.state_dict(),
            "epoch": epoch,
        }
        torch.save(checkpoint, f"model_{epoch}.pth")


if __name__ == "__main__":
    main(get_args_parser().parse_args())
"""

LIGHTNING_AUTOMATIC = """
import torch
import lightning as L

config = {"lr": 1e-3, "lr_scheduler": "cosine", "warmup_steps": 100, "max_epochs": 10}


class LitModel(L.LightningModule):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def training_step(self, batch, batch_idx):
        loss = self.net(batch).mean()
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=config["lr"])
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config["lr"], total_steps=self.trainer.estimated_stepping_batches,
            pct_start=config["warmup_steps"] / 1000,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }


trainer = L.Trainer(max_epochs=config["max_epochs"], gradient_clip_val=1.0)
trainer.fit(LitModel(net), train_loader)
"""

HF_TRAINER = """
from transformers import Trainer, TrainingArguments

config = {
    "learning_rate": 5e-5,
    "lr_scheduler": "cosine",
    "warmup_steps": 500,
    "gradient_accumulation_steps": 4,
    "max_grad_norm": 1.0,
}
training_args = TrainingArguments(
    output_dir="out",
    learning_rate=config["learning_rate"],
    lr_scheduler_type=config["lr_scheduler"],
    warmup_steps=config["warmup_steps"],
    gradient_accumulation_steps=config["gradient_accumulation_steps"],
    max_grad_norm=config["max_grad_norm"],
)
trainer = Trainer(model=model, args=training_args, train_dataset=train_ds)
trainer.train()
"""

ACCELERATE = """
import torch
from accelerate import Accelerator
from transformers import get_linear_schedule_with_warmup

config = {"lr": 2e-5, "num_epochs": 3, "gradient_accumulation_steps": 2, "max_grad_norm": 1.0}


def training_function(config, model, train_dataloader):
    accelerator = Accelerator(gradient_accumulation_steps=config["gradient_accumulation_steps"])
    optimizer = torch.optim.AdamW(params=model.parameters(), lr=config["lr"])
    lr_scheduler = get_linear_schedule_with_warmup(
        optimizer=optimizer,
        num_warmup_steps=100,
        num_training_steps=len(train_dataloader) * config["num_epochs"],
    )
    model, optimizer, train_dataloader, lr_scheduler = accelerator.prepare(
        model, optimizer, train_dataloader, lr_scheduler
    )
    for epoch in range(config["num_epochs"]):
        model.train()
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(model):
                outputs = model(**batch)
                accelerator.backward(outputs.loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), config["max_grad_norm"])
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()


training_function(config, model, train_dataloader)
"""

TIMM = """
import argparse
import torch
from timm.scheduler import create_scheduler_v2
from timm.optim import create_optimizer_v2

parser = argparse.ArgumentParser()
parser.add_argument("--sched", default="cosine", type=str)
parser.add_argument("--epochs", default=300, type=int)
parser.add_argument("--warmup-epochs", default=5, type=int)
parser.add_argument("--lr", default=None, type=float)
parser.add_argument("--clip-grad", default=None, type=float)
parser.add_argument("--grad-accum-steps", default=1, type=int)
parser.add_argument("--resume", default="", type=str)


def train_one_epoch(epoch, model, loader, optimizer, lr_scheduler, args):
    num_updates = epoch * len(loader) // args.grad_accum_steps
    for batch_idx, (input, target) in enumerate(loader):
        need_update = (batch_idx + 1) % args.grad_accum_steps == 0
        loss = model(input, target) / args.grad_accum_steps
        loss.backward()
        if not need_update:
            continue
        if args.clip_grad is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
        optimizer.step()
        optimizer.zero_grad()
        num_updates += 1
        lr_scheduler.step_update(num_updates=num_updates)


def main():
    args = parser.parse_args()
    model = create_model()
    optimizer = create_optimizer_v2(model, opt="adamw", lr=args.lr)
    lr_scheduler, num_epochs = create_scheduler_v2(
        optimizer, sched=args.sched, num_epochs=args.epochs, warmup_epochs=args.warmup_epochs
    )
    if args.resume:
        checkpoint = torch.load(args.resume, map_location="cpu", weights_only=True)
        model.load_state_dict(checkpoint["state_dict"])
        optimizer.load_state_dict(checkpoint["optimizer"])
    for epoch in range(num_epochs):
        train_one_epoch(epoch, model, loader, optimizer, lr_scheduler, args)
        lr_scheduler.step(epoch + 1)
        torch.save({"epoch": epoch, "state_dict": model.state_dict(),
                    "optimizer": optimizer.state_dict()}, "last.pth.tar")


if __name__ == "__main__":
    main()
"""

DDP_NO_SYNC = """
import argparse
import math
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--min_lr", type=float, default=3e-5)
    p.add_argument("--warmup_steps", type=int, default=1000)
    p.add_argument("--max_steps", type=int, default=100000)
    p.add_argument("--grad_accum", type=int, default=4)
    p.add_argument("--grad_clip", type=float, default=1.0)
    p.add_argument("--out", type=str, default="out")
    return p.parse_args()


def lr_at(step, args):
    if step < args.warmup_steps:
        return args.lr * step / args.warmup_steps
    progress = (step - args.warmup_steps) / (args.max_steps - args.warmup_steps)
    return args.min_lr + 0.5 * (args.lr - args.min_lr) * (1 + math.cos(math.pi * progress))


def main():
    args = parse_args()
    dist.init_process_group("nccl")
    model = DDP(build_model().cuda())
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95))
    data = iter(loader)
    for step in range(args.max_steps):
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, args)
        for micro in range(args.grad_accum):
            x, y = next(data)
            with model.no_sync() if micro < args.grad_accum - 1 else nullcontext():
                loss = model(x, y) / args.grad_accum
                loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), args.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if dist.get_rank() == 0 and step % 1000 == 0:
            torch.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(),
                        "step": step}, os.path.join(args.out, f"ckpt_{step:07d}.pt"))


if __name__ == "__main__":
    main()
"""

DIFFUSERS = """
import argparse
import math
import torch
from accelerate import Accelerator
from diffusers.optimization import get_scheduler


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--learning_rate", type=float, default=1e-4)
    parser.add_argument("--lr_scheduler", type=str, default="constant")
    parser.add_argument("--lr_warmup_steps", type=int, default=500)
    parser.add_argument("--gradient_accumulation_steps", type=int, default=1)
    parser.add_argument("--max_grad_norm", default=1.0, type=float)
    parser.add_argument("--num_train_epochs", type=int, default=100)
    parser.add_argument("--max_train_steps", type=int, default=None)
    parser.add_argument("--resume_from_checkpoint", type=str, default=None)
    return parser.parse_args()


def main(args):
    accelerator = Accelerator(gradient_accumulation_steps=args.gradient_accumulation_steps)
    optimizer = torch.optim.AdamW(unet.parameters(), lr=args.learning_rate)
    num_update_steps_per_epoch = math.ceil(len(train_dataloader) / args.gradient_accumulation_steps)
    if args.max_train_steps is None:
        args.max_train_steps = args.num_train_epochs * num_update_steps_per_epoch
    lr_scheduler = get_scheduler(
        args.lr_scheduler,
        optimizer=optimizer,
        num_warmup_steps=args.lr_warmup_steps * accelerator.num_processes,
        num_training_steps=args.max_train_steps * accelerator.num_processes,
    )
    unet, optimizer, train_dataloader, lr_scheduler = accelerator.prepare(
        unet, optimizer, train_dataloader, lr_scheduler
    )
    if args.resume_from_checkpoint:
        accelerator.load_state(args.resume_from_checkpoint)
    for epoch in range(args.num_train_epochs):
        for step, batch in enumerate(train_dataloader):
            with accelerator.accumulate(unet):
                loss = unet(batch).loss
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(unet.parameters(), args.max_grad_norm)
                optimizer.step()
                lr_scheduler.step()
                optimizer.zero_grad()


if __name__ == "__main__":
    main(parse_args())
"""


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(NANOGPT, id="nanogpt-lr-into-param-groups"),
        pytest.param(SEQUENTIAL, id="sequentiallr-with-accumulation-clip-and-checkpoint"),
        pytest.param(CHAINED, id="chainedscheduler"),
        pytest.param(LIGHTNING_AUTOMATIC, id="lightning-automatic-optimization"),
        pytest.param(HF_TRAINER, id="hf-trainer"),
        pytest.param(ACCELERATE, id="accelerate-prepared-scheduler"),
        pytest.param(TIMM, id="timm-scheduler-told-the-count-each-step"),
        pytest.param(DDP_NO_SYNC, id="ddp-no-sync-micro-batches-lr-function"),
        pytest.param(DIFFUSERS, id="diffusers-get-scheduler-accelerate"),
    ],
)
def test_known_correct_script_is_clean(audit, source: str) -> None:
    assert audit(source) == []


def test_lightning_manual_optimization_without_stepping_is_sch002(audit) -> None:
    """The same module as the automatic one, switched to manual optimisation: Lightning no
    longer steps the scheduler, and nothing else does."""
    manual = LIGHTNING_AUTOMATIC.replace(
        "        self.net = net\n",
        "        self.net = net\n        self.automatic_optimization = False\n",
    ).replace(
        "        loss = self.net(batch).mean()\n",
        "        opt = self.optimizers()\n        loss = self.net(batch).mean()\n"
        "        self.manual_backward(loss)\n        opt.step()\n",
    )
    assert manual != LIGHTNING_AUTOMATIC
    found = audit(manual)
    assert [f.code for f in found] == ["SCH002"]
    assert "automatic_optimization = False" in found[0].message


def test_torchvision_first_epoch_warmup_is_not_a_scheduler_problem(audit) -> None:
    """The warmup ``LinearLR`` lives inside ``train_one_epoch`` for epoch 0 only: it neither
    compounds with the epoch ``MultiStepLR`` (SCH004), nor needs saving (CKP001) or restoring
    (CKP002); ``milestones=args.lr_steps`` counts epochs (no SCH005). Its resume is an
    ordinary exact resume (the saved LR is the one wanted), so no CKP003 either."""
    assert audit(TORCHVISION_DETECTION) == []
