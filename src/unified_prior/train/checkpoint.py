"""Checkpoints: complete state, written atomically, loaded without unpickling.

A checkpoint is a plain dict of tensors and JSON-like values (DESIGN §5), so it loads with
``torch.load(weights_only=True)``. It is written to a temp file in the same folder, fsynced
and renamed, so a crash leaves the previous checkpoint intact and never a half-written one
under the final name. ``--resume auto`` skips anything that does not load, by name.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from unified_prior.errors import InputError, load_error_reason

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
    """Write ``state`` to ``path`` so that ``path`` is always either old or complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    # The rename is durable only once the directory entry is.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return path


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
    if state["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format {state['format_version']} is newer than this uprior "
            f"({FORMAT_VERSION}); upgrade unified-prior"
        )
    return state


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


def find_latest(directory: Path) -> AutoResume:
    """``--resume auto``: newest checkpoint that loads; corrupt ones are reported and skipped."""
    skipped: list[str] = []
    for _, path in reversed(list_checkpoints(directory)):
        try:
            return AutoResume(path, load_checkpoint(path), skipped)
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
