"""Readers, one per input format, and ``read_inputs``: paths in, ``Evidence`` out.

Readers are asked to claim a path in ``priority`` order: the most specific formats first
(``trainer_state.json``, event files, checkpoints), then JSON Lines and CSV, then config
files, free text last.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from unified_prior.doctor.evidence import Evidence, InputSummary, Sink
from unified_prior.doctor.readers import (  # noqa: F401  (importing registers each reader)
    checkpoints,
    config_file,
    csv_log,
    hf_trainer_state,
    jsonl,
    run_dir,
    tensorboard,
    text_log,
)
from unified_prior.doctor.readers.base import READERS, Reader, ReadStats
from unified_prior.doctor.readers.tensorboard import event_file_order
from unified_prior.errors import InputError

#: Suffixes a folder walk picks up; other files are read only when named on the command line.
WALKED_SUFFIXES = (
    ".jsonl",
    ".ndjson",
    ".json",
    ".csv",
    ".tsv",
    ".log",
    ".txt",
    ".out",
    ".pt",
    ".pth",
    ".ckpt",
    ".toml",
    ".yaml",
    ".yml",
)
MAX_WALK_DEPTH = 6

__all__ = ["READERS", "ReadStats", "Reader", "read_inputs", "reader_for"]


def reader_for(path: Path) -> Reader | None:
    """The first registered reader that claims ``path``."""
    for cls in READERS:
        if cls.reads_directories != path.is_dir():
            continue
        if cls.claims(path):
            return cls()
    return None


def _walk(folder: Path, depth: int = 0) -> list[Path]:
    """Files worth reading under ``folder``; our run directories stay whole."""
    if run_dir.is_run_dir(folder):
        return [folder]
    found: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise InputError(
            f"{folder}: cannot list it ({err.strerror or err}); check its permissions"
        ) from None
    events = sorted(
        (p for p in entries if p.is_file() and "tfevents" in p.name), key=event_file_order
    )
    found.extend(events)
    for entry in entries:
        if entry.is_file() and entry.suffix.lower() in WALKED_SUFFIXES:
            found.append(entry)
        elif entry.is_dir() and depth < MAX_WALK_DEPTH and not entry.name.startswith("."):
            found.extend(_walk(entry, depth + 1))
    return found


def read_inputs(paths: Sequence[Path]) -> Evidence:
    """Read every path (files, our run directories, folders of logs/checkpoints).

    A path that is missing or cannot be read (permissions, a folder that cannot be listed)
    is an ``InputError`` naming it; content is never an error.
    """
    sink = Sink()
    for given in paths:
        try:
            _read_path(Path(given), sink)
        except OSError as err:
            # stat() on a path below a folder we may not enter raises here, not in a reader.
            name = err.filename or given
            raise InputError(
                f"{name}: cannot read it ({err.strerror or err}); check the path and its "
                "permissions"
            ) from None
    return sink.finish()


def _read_path(path: Path, sink: Sink) -> None:
    """Read one command-line path into ``sink``."""
    if not path.exists():
        raise InputError(f"{path}: no such file or directory; pass a log, run or checkpoint")
    targets = _walk(path) if path.is_dir() else [path]
    for target in targets:
        reader = reader_for(target)
        if reader is None:
            sink.inputs.append(InputSummary(str(target), "none", 0, 0, "format not known"))
            continue
        stats = reader.read(target, sink)
        if not reader.reads_directories:
            sink.inputs.append(
                InputSummary(str(target), reader.name, stats.records, stats.skipped, stats.note)
            )
        if target == path and reader.name == "checkpoint" and stats.records == 0:
            # A checkpoint named on the command line that cannot be loaded is an input error.
            error = sink.checkpoints[-1].error if sink.checkpoints else "unreadable"
            raise InputError(f"{path}: not a loadable checkpoint ({error})")
