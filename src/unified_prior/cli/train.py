"""``uprior train`` and ``uprior resume``: parse, resolve the resume point, call ``train()``."""

from __future__ import annotations

import copy
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from unified_prior.cli.options import ConfigOption, SetOption
from unified_prior.config import (
    RunConfig,
    config_from_dict,
    load_config,
    parse_override,
    set_path,
)
from unified_prior.errors import InputError

OutOption = Annotated[
    Path | None,
    typer.Option(
        "--out", "-o", help="Run directory (default runs/<config name>).", show_default=False
    ),
]


def _finish(result_step: int, stopped_by: str | None, run_dir: Path) -> None:
    if stopped_by:
        typer.echo(
            f"stopped by {stopped_by} at step {result_step}; a complete checkpoint is in "
            f"{run_dir / 'checkpoints'}. Continue with: uprior train ... --resume auto",
            err=True,
        )
        raise SystemExit(128 + signal.Signals[stopped_by].value)
    typer.echo(f"done: {result_step} updates; run directory {run_dir}")


def train_command(
    config: ConfigOption = None,
    set_: SetOption = None,
    out: OutOption = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            "--resume_checkpoint",
            help="auto (newest loadable checkpoint in --out) or a checkpoint path; the plan "
            "must be unchanged (use `uprior resume --policy replan` to change it).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train the unified prior from a TOML config."""
    from unified_prior.train import checkpoint as ckpt
    from unified_prior.train.loop import train
    from unified_prior.train.resume import RunComplete, resolve

    if config is None:
        raise InputError("--config FILE is required, e.g. --config configs/demo.toml")
    cfg = load_config(config, set_)
    run_dir = out or Path("runs") / config.stem
    point = None
    if resume is not None:
        if resume == "auto":
            found = ckpt.find_latest(run_dir / "checkpoints", cfg)
            for reason in found.skipped:
                typer.echo(f"warning: skipped {reason}", err=True)
            if found.path is None or found.state is None:
                typer.echo(
                    f"no loadable checkpoint in {run_dir / 'checkpoints'}; starting fresh", err=True
                )
            else:
                try:
                    point = resolve(
                        found.path, found.state, cfg, policy="continue", world_size=_world_size()
                    )
                except RunComplete as done:
                    # A requeued job rerunning the same command after the run finished:
                    # nothing to do is success, not a failure.
                    typer.echo(f"already complete at step {done.step}: {found.path}")
                    return
        else:
            path = Path(resume)
            point = resolve(
                path, ckpt.load_checkpoint(path), cfg, policy="continue", world_size=_world_size()
            )
    result = _run(train, cfg, run_dir, point)
    _finish(result.step, result.stopped_by, run_dir)


def _run(train: Any, cfg: RunConfig, run_dir: Path, point: Any) -> Any:
    """``train(...)``; an OS error that no writer named (a failed read, a broken folder) is
    still one line, not a traceback."""
    from unified_prior.errors import WriteError, os_error_in

    try:
        return train(cfg, run_dir, point)
    except (InputError, WriteError):
        raise
    except Exception as err:
        cause = os_error_in(err)
        if cause is None:
            raise
        where = cause.filename or run_dir
        raise InputError(f"{where}: {cause.strerror or type(cause).__name__}") from None


def _world_size() -> int:
    import os

    return int(os.environ.get("WORLD_SIZE", "1"))


def resume_command(
    checkpoint: Annotated[
        Path | None, typer.Argument(help="checkpoint_step_*.pt to resume from.", show_default=False)
    ] = None,
    checkpoint_opt: Annotated[
        Path | None,
        typer.Option("--resume_checkpoint", "--checkpoint", hidden=True, show_default=False),
    ] = None,
    policy: Annotated[
        str,
        typer.Option(
            "--policy",
            help="continue: the stored plan exactly; replan: a new plan segment from this step.",
        ),
    ] = "continue",
    learning_rate: Annotated[
        float | None,
        typer.Option(
            "--learning-rate",
            "--learning_rate",
            "--lr",
            help="New peak LR (replan).",
            show_default=False,
        ),
    ] = None,
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps", "--max_steps", help="New total updates (replan).", show_default=False
        ),
    ] = None,
    schedule: Annotated[
        str | None,
        typer.Option("--schedule", help="New schedule kind (replan).", show_default=False),
    ] = None,
    rewarm_steps: Annotated[
        int | None,
        typer.Option(
            "--rewarm-steps",
            "--rewarm_steps",
            help="Bridge from the last LR over N updates (replan; default "
            "none when the LR goes down).",
            show_default=False,
        ),
    ] = None,
    set_: SetOption = None,
    out: OutOption = None,
) -> None:
    """Resume a run from a checkpoint, continuing its plan or re-planning explicitly."""
    from unified_prior.train import checkpoint as ckpt
    from unified_prior.train.loop import train
    from unified_prior.train.resume import resolve

    path = checkpoint or checkpoint_opt
    if path is None:
        raise InputError("give the checkpoint to resume: uprior resume RUN/checkpoints/FILE.pt")
    if policy not in ("continue", "replan"):
        raise InputError(f"--policy {policy!r}: choose continue or replan")
    state = ckpt.load_checkpoint(path)
    cfg = _resume_config(state["config"], path, set_, learning_rate, max_steps, schedule)
    point = resolve(
        path,
        state,
        cfg,
        policy=policy,  # type: ignore[arg-type]
        world_size=_world_size(),
        rewarm_steps=rewarm_steps,
        learning_rate_given=learning_rate is not None,
    )
    run_dir = out or Path(path).resolve().parent.parent
    if policy == "replan":
        typer.echo(f"replanned: {point.plan.describe()}")
    result = _run(train, cfg, run_dir, point)
    _finish(result.step, result.stopped_by, run_dir)


def _resume_config(
    stored: dict[str, Any],
    path: Path,
    overrides: list[str] | None,
    learning_rate: float | None,
    max_steps: int | None,
    schedule: str | None,
) -> RunConfig:
    """The checkpoint's config with ``--set`` and the plan flags applied on top."""
    tree: dict[str, Any] = copy.deepcopy(stored)
    items = list(overrides or [])
    if learning_rate is not None:
        items.append(f"optim.learning_rate={learning_rate!r}")
    if max_steps is not None:
        items.append(f"train.max_steps={max_steps}")
    if schedule is not None:
        items.append(f"schedule.kind={schedule}")
    for item in items:
        keys, value = parse_override(item)
        set_path(tree, keys, value)
    if schedule is not None:
        from unified_prior.schedules import FAMILIES

        if schedule not in FAMILIES:
            raise InputError(f"--schedule {schedule!r}: choose one of {', '.join(FAMILIES)}")
        fields = FAMILIES[schedule].model_fields
        tree["schedule"] = {k: v for k, v in tree["schedule"].items() if k in fields}
    given = [(parse_override(item)[0], item) for item in items]

    def blame(keys: Sequence[str]) -> str:
        for key_path, item in reversed(given):  # the --set or flag that set the bad key
            n = min(len(key_path), len(keys))
            if n and list(keys[:n]) == key_path[:n]:
                return f"--set {item}" if item in (overrides or []) else f"{item} (from a flag)"
        return f"checkpoint {path} config"

    return config_from_dict(tree, source=blame)


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("resume")(resume_command)
