"""Checkpoint files (``*.pt``, ``*.pth``, ``*.ckpt``), loaded with ``weights_only=True``.

A checkpoint is evidence even when no log survives: its step, the losses it stored, the
config it carried, and above all its optimizer's param groups. torch's LR schedulers write
``initial_lr`` into every group when they are built, so groups that all hold the peak LR and
no ``initial_lr``, in a checkpoint with no scheduler state, show that no scheduler ever ran.

Understood layouts: ours (``format_version, step, model, ema, optimizer, plan, config,
metrics``), the original run's (``model_state_dict, optimizer_state_dict, step, config,
train_loss``), Lightning (``state_dict, optimizer_states, lr_schedulers, global_step,
hyper_parameters``) and plain dicts with similar keys. Tensors are memory-mapped, not read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unified_prior.doctor.evidence import CheckpointInfo, Sink, as_float, as_step
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register
from unified_prior.errors import load_error_reason

SUFFIXES = (".pt", ".pth", ".ckpt")
_STEP_KEYS = ("step", "global_step", "iteration", "iter", "num_updates", "steps")
_TRAIN_LOSS_KEYS = ("train_loss", "loss", "training_loss", "last_loss")
_VAL_LOSS_KEYS = ("val_loss", "best_val_loss", "eval_loss", "validation_loss", "valid_loss")
_CONFIG_KEYS = ("config", "hyper_parameters", "hparams", "args", "cfg", "training_args")
_OPTIMIZER_KEYS = (
    "optimizer",
    "optimizer_state_dict",
    "optimizer_state",
    "optim",
    "optimizer_states",
)
_SCHEDULER_KEYS = (
    "scheduler",
    "lr_scheduler",
    "scheduler_state_dict",
    "lr_scheduler_state_dict",
    "lr_schedulers",
    "sched",
    "schedulers",
)
_NAME_STEP = re.compile(r"(?:step|iter|it|global_step)[=_\-]?(\d+)", re.IGNORECASE)
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def step_from_name(path: Path) -> int | None:
    """``checkpoint_step_0025000.pt`` → 25000; ``epoch=3-step=1200.ckpt`` → 1200."""
    match = _NAME_STEP.search(path.stem) or _LAST_NUMBER.search(path.stem)
    return int(match.group(1)) if match else None


def load_checkpoint(path: Path) -> Any:
    """``torch.load`` with ``weights_only=True``; memory-mapped when the format allows."""
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as err:
        if "mmap" not in str(err):  # legacy (non-zip) files cannot be mapped; others are bad
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def describe_checkpoint(path: Path, data: Any) -> CheckpointInfo:
    """Pull the facts the doctor needs out of a loaded checkpoint object."""
    info = CheckpointInfo(path=path, step=None)
    if not isinstance(data, Mapping):
        info.step = step_from_name(path)
        info.layout = "weights only"
        return info
    if "format_version" in data and "plan" in data:
        info.layout = "unified-prior"
    elif "model_state_dict" in data:
        info.layout = "model_state_dict/optimizer_state_dict"
    elif "optimizer_states" in data or "pytorch-lightning_version" in data:
        info.layout = "lightning"
    else:
        info.layout = "plain dict"
    metrics = data.get("metrics") if isinstance(data.get("metrics"), Mapping) else {}
    info.step = _first(data, _STEP_KEYS, as_step)
    if info.step is None:
        info.step = step_from_name(path)
    info.train_loss = _first(data, _TRAIN_LOSS_KEYS, as_float)
    if info.train_loss is None and metrics:
        info.train_loss = _first(metrics, _TRAIN_LOSS_KEYS, as_float)
    info.val_loss = _first(data, _VAL_LOSS_KEYS, as_float)
    if info.val_loss is None and metrics:
        info.val_loss = _first(metrics, _VAL_LOSS_KEYS, as_float)
    for key in _CONFIG_KEYS:
        config = data.get(key)
        if isinstance(config, Mapping) and config:
            info.config = _plain(config)
            break
    optimizer = next((data[k] for k in _OPTIMIZER_KEYS if data.get(k) is not None), None)
    if isinstance(optimizer, list | tuple) and optimizer:
        optimizer = optimizer[0]  # Lightning keeps one state per optimizer
    if isinstance(optimizer, Mapping):
        groups = optimizer.get("param_groups")
        if isinstance(groups, list):
            info.has_optimizer = True
            for group in groups:
                if not isinstance(group, Mapping):
                    continue
                lr = as_float(group.get("lr"))
                if lr is not None:
                    info.group_lrs.append(lr)
                    info.group_initial_lrs.append(as_float(group.get("initial_lr")))
    info.has_scheduler_state = any(_non_empty(data.get(k)) for k in _SCHEDULER_KEYS)
    plan = data.get("plan")
    if isinstance(plan, list) and all(isinstance(s, Mapping) for s in plan):
        info.plan = [_plain(s) for s in plan]
    return info


def _first(data: Mapping[str, Any], keys: tuple[str, ...], convert: Any) -> Any:
    for key in keys:
        if key in data:
            value = convert(data[key])
            if value is not None:
                return value
    return None


def _non_empty(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, Mapping | list | tuple):
        return len(value) > 0
    return True


def _plain(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of a config-like object (tensors become numbers, the rest strings)."""
    if depth > 8:
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    number = as_float(value)
    return number if number is not None else str(value)


@register
class CheckpointReader(Reader):
    name = "checkpoint"
    priority = 20

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in SUFFIXES

    def read(self, path: Path, sink: Sink) -> ReadStats:
        head_bytes(path, 1)  # unreadable → InputError naming the file
        try:
            data = load_checkpoint(path)
        except Exception as err:  # torch raises many types for a corrupt or unsafe file
            sink.checkpoints.append(
                CheckpointInfo(path=path, step=step_from_name(path), error=load_error_reason(err))
            )
            return ReadStats(0, 1, "could not be loaded with weights_only=True")
        info = describe_checkpoint(path, data)
        sink.checkpoints.append(info)
        if info.config:
            sink.configs.append((str(path), info.config))
        return ReadStats(1, 0)
