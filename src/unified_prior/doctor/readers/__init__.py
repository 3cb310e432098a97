"""Readers, one per input format, and ``read_inputs``: paths in, ``Evidence`` out.

Readers are asked to claim a path in ``priority`` order: the most specific formats first
(``trainer_state.json``, event files, checkpoints), then JSON Lines and CSV, then config
files, free text last.
"""

from __future__ import annotations

import stat
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
#: A folder walk stops after this many files: a home directory is not a run.
MAX_WALK_FILES = 10_000

__all__ = ["READERS", "ReadStats", "Reader", "explain_unreadable", "read_inputs", "reader_for"]


def reader_for(path: Path) -> Reader | None:
    """The first registered reader that claims ``path``."""
    for cls in READERS:
        if cls.reads_directories != path.is_dir():
            continue
        if cls.claims(path):
            return cls()
    return None


def _kind(path: Path) -> str:
    """``dir``, ``file`` or what else ``path`` is (following symlinks); ``missing`` if
    nothing is there (a dangling link)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def _walk(
    folder: Path,
    depth: int = 0,
    seen: set[tuple[int, int]] | None = None,
    skipped: list[tuple[Path, str]] | None = None,
) -> list[Path]:
    """Files worth reading under ``folder``; our run directories stay whole.

    Only regular files are read (a FIFO would block and a device never end), and a folder
    reached twice (a symlink to itself or to a parent) is walked once.
    """
    seen = set() if seen is None else seen
    skipped = [] if skipped is None else skipped
    try:
        info = folder.stat()
    except OSError:
        return []
    if (info.st_dev, info.st_ino) in seen:
        return []
    seen.add((info.st_dev, info.st_ino))
    if run_dir.is_run_dir(folder):
        return [folder]
    found: list[Path] = []
    try:
        entries = sorted(folder.iterdir())
    except OSError as err:
        raise InputError(
            f"{folder}: cannot list it ({err.strerror or err}); check its permissions"
        ) from None
    kinds = {entry: _kind(entry) for entry in entries}
    events = sorted(
        (p for p in entries if kinds[p] == "file" and "tfevents" in p.name), key=event_file_order
    )
    found.extend(events)
    for entry in entries:
        kind = kinds[entry]
        if kind == "file" and entry.suffix.lower() in WALKED_SUFFIXES:
            found.append(entry)
        elif kind == "dir" and depth < MAX_WALK_DEPTH and not entry.name.startswith("."):
            found.extend(_walk(entry, depth + 1, seen, skipped))
        elif kind not in ("file", "dir", "missing") and entry.suffix.lower() in WALKED_SUFFIXES:
            skipped.append((entry, kind))
        if len(found) >= MAX_WALK_FILES:
            break
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
    special = [i for i in sink.inputs if i.note.startswith("not read: a ")]
    if special and len(special) == len(sink.inputs) and not sink.checkpoints:
        first = special[0]
        raise InputError(
            f"{first.path}: cannot read it ({first.note.removeprefix('not read: ')}); pass a "
            "log file, a run folder or checkpoints (a FIFO blocks and a device never ends)"
        )
    return sink.finish()


def _read_path(path: Path, sink: Sink) -> None:
    """Read one command-line path into ``sink``."""
    kind = _kind(path)
    if kind == "missing":
        raise InputError(f"{path}: no such file or directory; pass a log, run or checkpoint")
    skipped: list[tuple[Path, str]] = []
    if kind == "dir":
        targets = _walk(path, skipped=skipped)
    elif kind == "file":
        targets = [path]
    else:
        targets, skipped = [], [(path, kind)]
    for target, what in skipped:
        # Reading a FIFO blocks until a writer comes and a device never ends: not a log.
        sink.inputs.append(
            InputSummary(str(target), "none", 0, 0, f"not read: a {what}, not a regular file")
        )
    for target in targets:
        reader = reader_for(target)
        if reader is None:
            sink.inputs.append(InputSummary(str(target), "none", 0, 0, "format not known"))
            continue
        stats = reader.read(target, sink)
        if not reader.reads_directories:
            sink.inputs.append(
                InputSummary(
                    str(target), reader.name, stats.records, stats.skipped, stats.note, stats.clock
                )
            )
        if target == path and reader.name == "checkpoint" and stats.records == 0:
            # A checkpoint named on the command line that cannot be loaded is an input error.
            error = sink.checkpoints[-1].error if sink.checkpoints else "unreadable"
            raise InputError(f"{path}: not a loadable checkpoint ({error})")


#: What the text, table and JSON readers understand, for the message when nothing was read.
EXPECTED = (
    "lines like 'step 10 loss 2.31 lr 1e-4', 'Epoch 1/10 - Train Loss: 2.3', "
    "'Epoch: [0] [10/128] lr: 0.1 loss: 2.3', 's:10 trl:2.3 lr:1e-4', one JSON object per "
    "line, a CSV/TSV whose header names loss/lr columns, trainer_state.json, event files "
    "or checkpoints"
)


def explain_unreadable(evidence: Evidence) -> str:
    """One line saying what was tried on inputs that gave nothing, and what was expected."""
    tried = []
    for summary in evidence.inputs:
        if summary.records:
            continue
        what = summary.note or f"{summary.skipped} lines/records, none with a metric"
        tried.append(f"{summary.path} ({summary.reader}: {what})")
    where = "; ".join(tried[:3]) + (f"; and {len(tried) - 3} more" if len(tried) > 3 else "")
    return (
        f"found no loss, LR or loadable checkpoint in {where or 'the inputs'}; expected {EXPECTED}"
    )
