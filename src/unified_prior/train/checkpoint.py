"""Checkpoints: complete state, written atomically, loaded without unpickling.

A checkpoint is a plain dict of tensors and JSON-like values (DESIGN §5), so it loads with
``torch.load(weights_only=True)``. It is written to a temp file in the same folder, fsynced
and renamed, so a crash leaves the previous checkpoint intact and never a half-written one
under the final name. ``--resume auto`` skips anything that does not load, by name.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from unified_prior.errors import InputError, load_error_reason, nbytes, os_error_in, write_error
from unified_prior.train.checkpoint_check import CheckpointMismatch, check_fits, check_structure

if TYPE_CHECKING:
    from unified_prior.config import RunConfig

FORMAT_VERSION = 1
REQUIRED_KEYS = (
    "format_version", "step", "model", "ema", "optimizer", "plan", "config",
    "data_stats", "rng", "sampler", "metrics",
)  # fmt: skip
CHECKPOINT_RE = re.compile(r"^checkpoint_step_(\d{7})\.pt$")
BEST_NAME = "best.pt"

log = logging.getLogger(__name__)


class CheckpointError(InputError):
    """A checkpoint that is missing, truncated, corrupt or not ours."""


def checkpoint_name(step: int) -> str:
    return f"checkpoint_step_{step:07d}.pt"


def save_atomic(state: dict[str, Any], path: Path) -> Path:
    """Write ``state`` to ``path`` so that ``path`` is always either old or complete.

    An OS error (disk full, quota, permissions) is one ``WriteError`` naming the file and,
    when the disk is full, the space the checkpoint needs: torch's writer reports a failed
    write as a RuntimeError raised while handling it, which would print three tracebacks.
    """
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
        # The rename is durable only once the directory entry is.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException as err:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink(missing_ok=True)
        cause = os_error_in(err)
        if cause is None:
            raise
        raise write_error(cause, path, needed_bytes=nbytes(state)) from None
    return path


#: Temp files of ``save_atomic`` (``.checkpoint_step_0000004.pt.x8k2_a.tmp``, ``.best.pt...``)
STALE_TEMP_RE = re.compile(r"^\.(checkpoint_step_\d{7}|best)\.pt\..+\.tmp$")


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete temp files left by a save that a kill interrupted; return them.

    Only one run writes a run directory, and this runs before its first save, so every temp
    file there is from an earlier, interrupted process.
    """
    removed = []
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if STALE_TEMP_RE.match(path.name) and path.is_file():
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Load one of our checkpoints safely; ``CheckpointError`` names the file on failure."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file; pass checkpoint_step_*.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for truncated or foreign files
        raise CheckpointError(
            f"checkpoint {path}: cannot be loaded ({load_error_reason(err, path)})"
        ) from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path}: not a checkpoint dict")
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise CheckpointError(
            f"checkpoint {path}: not a uprior checkpoint (missing {', '.join(missing)}); "
            "`uprior doctor` reads foreign checkpoints"
        )
    version = state["format_version"]
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format {version} is newer than this uprior "
            f"({FORMAT_VERSION}); upgrade unified-prior"
        )
    try:
        check_structure(state)
    except CheckpointMismatch as err:
        raise CheckpointError(f"checkpoint {path}: {err}") from None
    return state


def check_checkpoint_fits(path: Path | str, state: dict[str, Any], config: RunConfig) -> None:
    """``CheckpointError`` naming the file and the first tensor that does not fit the model,
    EMA or optimizer that ``config`` builds; nothing is restored before this passes."""
    try:
        check_fits(state, config)
    except CheckpointMismatch as err:
        raise CheckpointError(f"checkpoint {path}: does not fit this run: {err}") from None
    except InputError as err:  # the config cannot build a model at all
        raise CheckpointError(f"checkpoint {path}: {err}") from None


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``checkpoint_step_*.pt`` in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_RE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


@dataclass
class AutoResume:
    """The newest loadable checkpoint of a run, and the ones skipped on the way."""

    path: Path | None
    state: dict[str, Any] | None
    skipped: list[str] = field(default_factory=list)


def find_latest(directory: Path, config: RunConfig | None = None) -> AutoResume:
    """``--resume auto``: the newest checkpoint that loads (and fits ``config``'s model when
    one is given); corrupt and misfit ones are reported and skipped."""
    skipped: list[str] = []
    for _, path in reversed(list_checkpoints(directory)):
        try:
            state = load_checkpoint(path)
            if config is not None:
                check_checkpoint_fits(path, state, config)
            return AutoResume(path, state, skipped)
        except CheckpointError as err:
            log.warning("skipping %s", err)
            skipped.append(str(err))
    return AutoResume(None, None, skipped)


def prune(directory: Path, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest step checkpoints (``best.pt`` is never pruned)."""
    removed = []
    for _, path in list_checkpoints(directory)[:-keep_last]:
        path.unlink(missing_ok=True)
        removed.append(path)
    return removed
