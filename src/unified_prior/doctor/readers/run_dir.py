"""Our own run directory: ``metrics.jsonl`` (header with the plan, train and val records),
``config.toml`` and ``checkpoints/``.

``tb/`` holds the same scalars as ``metrics.jsonl`` and ``train.log`` the same lines for
people, so neither is read twice; the metrics file is the record of truth.
"""

from __future__ import annotations

import json
from pathlib import Path

from unified_prior.doctor.evidence import InputSummary, Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register
from unified_prior.doctor.readers.checkpoints import SUFFIXES, CheckpointReader
from unified_prior.doctor.readers.config_file import ConfigFileReader
from unified_prior.doctor.readers.jsonl import JsonlReader


def is_run_dir(path: Path) -> bool:
    """A folder whose ``metrics.jsonl`` starts with our header line."""
    metrics = path / "metrics.jsonl"
    try:
        if not path.is_dir() or not metrics.is_file():
            return False
    except OSError:
        return False  # a folder we may not enter: the walk reports it by its own name
    first = head_bytes(metrics, 65536).split(b"\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:
        return False
    return isinstance(record, dict) and record.get("kind") == "header"


@register
class RunDirReader(Reader):
    name = "unified-prior-run"
    priority = 0
    reads_directories = True

    @classmethod
    def claims(cls, path: Path) -> bool:
        return is_run_dir(path)

    def read(self, path: Path, sink: Sink) -> ReadStats:
        sink.run_dirs.append(path)
        parts: list[tuple[Reader, Path]] = [(JsonlReader(), path / "metrics.jsonl")]
        if (path / "config.toml").is_file():
            parts.append((ConfigFileReader(), path / "config.toml"))
        checkpoints = path / "checkpoints"
        if checkpoints.is_dir():
            for file in sorted(checkpoints.iterdir()):
                if file.suffix.lower() in SUFFIXES and file.is_file():
                    parts.append((CheckpointReader(), file))
        records = skipped = 0
        for reader, file in parts:
            stats = reader.read(file, sink)
            sink.inputs.append(
                InputSummary(str(file), reader.name, stats.records, stats.skipped, stats.note)
            )
            records += stats.records
            skipped += stats.skipped
        return ReadStats(records, skipped, "tb/ and train.log repeat metrics.jsonl: not re-read")
