"""HF Trainer runs written the way ``transformers.Trainer`` writes them: ``trainer_state.json``
(``log_history`` entries with ``epoch``, ``grad_norm``, ``learning_rate``, ``loss``, ``step``;
eval entries with ``eval_loss``), ``training_args.json`` (``TrainingArguments.to_json_string``)
and the model card's hyperparameter list. The LR closed forms are transformers'
``get_linear_schedule_with_warmup`` / ``get_cosine_schedule_with_warmup`` lambdas."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any


def hf_linear(warmup: int, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (total - step) / max(1, total - warmup))

    return factor


def hf_cosine(warmup: int, total: int) -> Callable[[int], float]:
    # num_cycles=0.5; past ``total`` the cosine turns back up (no clamp to the end).
    def factor(step: int) -> float:
        if step < warmup:
            return step / max(1, warmup)
        progress = (step - warmup) / max(1, total - warmup)
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * progress)))

    return factor


def write_trainer_state(
    folder: Path,
    *,
    peak: float,
    max_steps: int,
    lr_factor: Callable[[int], float],
    loss: Callable[[int], float],
    eval_loss: Callable[[int], float] | None = None,
    logging_steps: int = 10,
    eval_steps: int = 100,
    steps_per_epoch: int = 100,
    best_model_checkpoint: str | None = None,
    last_step: int | None = None,
) -> Path:
    """``trainer_state.json``: the LR logged at step s is the scheduler's value after s
    updates (``lr_scheduler.get_last_lr()`` at logging time)."""
    folder.mkdir(parents=True, exist_ok=True)
    history: list[dict[str, Any]] = []
    end = last_step or max_steps
    for step in range(logging_steps, end + 1, logging_steps):
        epoch = round(step / steps_per_epoch, 2)
        history.append(
            {
                "epoch": epoch,
                "grad_norm": 1.0,
                "learning_rate": peak * lr_factor(step),
                "loss": round(loss(step), 4),
                "step": step,
            }
        )
        if eval_loss is not None and step % eval_steps == 0:
            history.append(
                {
                    "epoch": epoch,
                    "eval_loss": eval_loss(step),
                    "eval_runtime": 1.5,
                    "eval_samples_per_second": 100.0,
                    "step": step,
                }
            )
    state = {
        "best_metric": None,
        "best_model_checkpoint": best_model_checkpoint,
        "epoch": end / steps_per_epoch,
        "eval_steps": eval_steps,
        "global_step": end,
        "is_hyper_param_search": False,
        "is_local_process_zero": True,
        "is_world_process_zero": True,
        "log_history": history,
        "logging_steps": logging_steps,
        "max_steps": max_steps,
        "num_train_epochs": math.ceil(max_steps / steps_per_epoch),
        "save_steps": eval_steps,
        "total_flos": 1.0e15,
        "train_batch_size": 8,
        "trial_name": None,
        "trial_params": None,
    }
    path = folder / "trainer_state.json"
    path.write_text(json.dumps(state, indent=2), encoding="utf-8")
    return path


def write_training_args(folder: Path, **values: Any) -> Path:
    """``training_args.json`` with TrainingArguments' defaults and ``values`` on top."""
    args: dict[str, Any] = {
        "output_dir": "out",
        "learning_rate": 5e-05,
        "lr_scheduler_type": "linear",
        "lr_scheduler_kwargs": {},
        "warmup_ratio": 0.0,
        "warmup_steps": 0,
        "max_steps": -1,
        "num_train_epochs": 3.0,
        "gradient_accumulation_steps": 1,
        "per_device_train_batch_size": 8,
        "weight_decay": 0.0,
        "logging_steps": 10,
        "fp16": False,
        "seed": 42,
    }
    args.update(values)
    path = folder / "training_args.json"
    path.write_text(json.dumps(args, indent=2), encoding="utf-8")
    return path


def write_model_card(folder: Path, values: dict[str, Any]) -> Path:
    """The README.md that ``Trainer.create_model_card`` writes."""
    lines = [
        "---",
        "license: apache-2.0",
        "tags:",
        "- generated_from_trainer",
        "---",
        "",
        "# my-model",
        "",
        "## Training procedure",
        "",
        "### Training hyperparameters",
        "",
        "The following hyperparameters were used during training:",
        *[f"- {k}: {v}" for k, v in values.items()],
        "",
        "### Training results",
        "",
    ]
    path = folder / "README.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
