"""JSON Lines: one object per line (our ``metrics.jsonl``, detectron2 ``metrics.json``, DETR
``log.txt``, wandb/Accelerate/custom loggers).

Read with ``pyarrow.json`` (a columnar C++ parser, several times faster than ``json.loads``
per line, which is the floor any pure-Python reader pays); nested objects are flattened to
``outer.inner`` names. A file pyarrow refuses (a junk line, a crash-cut last line, ``NaN``,
an integer past 64 bits, a key whose type changes) is read line by line with ``json.loads``
instead, counting what it skips.

Our own header lines (``{"kind": "header", "plan": [...]}``) start a new session and carry
the declared plan; they are cut out before pyarrow sees the rest.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from unified_prior.doctor.evidence import Header, Resume, Sink, as_step
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register
from unified_prior.doctor.readers.columns import (
    Column,
    arrow_columns,
    flatten,
    python_columns,
    read_bytes,
)
from unified_prior.doctor.readers.table import emit_table

_HEADER = re.compile(rb'^[ \t]*\{.*"kind"\s*:\s*"header"')


_NONFINITE = re.compile(
    rb'(?<=[:\[,])(\s*)(?:"([-+]?(?:nan|inf|infinity))"|([-+]?(?:NaN|Infinity)))(?=\s*[,}\]])',
    re.IGNORECASE,
)
_MAX = np.finfo(np.float64).max
_NAN_STAND_IN = float(np.nextafter(_MAX, 0))


def _stand_in(match: re.Match[bytes]) -> bytes:
    token = (match.group(2) or match.group(3)).lower()
    signed = -_MAX if token.startswith(b"-") else _MAX
    number = _NAN_STAND_IN if token.endswith(b"nan") else signed
    return match.group(1) + repr(number).encode()


def _restore_nonfinite(values: np.ndarray) -> None:
    values[values == _MAX] = np.inf
    values[values == -_MAX] = -np.inf
    values[values == _NAN_STAND_IN] = np.nan


#: mmdet/MMEngine ``*.log.json`` rows with ``"mode": "val"`` are evaluations.
_EVAL_MODES = frozenset({"val", "eval", "test"})


def _eval_modes(table: Any) -> np.ndarray | None:
    """Which rows are evaluations, from a string ``mode`` column; None without one."""
    import pyarrow as pa

    if "mode" not in table.column_names:
        return None
    column = table.column("mode")
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return None
    modes = np.array([str(m).lower() in _EVAL_MODES for m in column.to_pylist()])
    return modes if modes.any() else None


def _header_lines(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of our header lines: only lines holding the word are looked at (a regex
    over every line of a 100 MB log costs more than parsing it)."""
    found: list[tuple[int, int]] = []
    at = data.find(b'"header"')
    while at >= 0:
        start = data.rfind(b"\n", 0, at) + 1
        end = data.find(b"\n", at)
        end = len(data) if end < 0 else end
        if _HEADER.match(data, start, end):
            found.append((start, end))
        at = data.find(b'"header"', end)
    return found


@register
class JsonlReader(Reader):
    name = "jsonl"
    priority = 30

    @classmethod
    def claims(cls, path: Path) -> bool:
        if path.suffix.lower() in (".jsonl", ".ndjson"):
            return True
        if path.suffix.lower() not in (".json", ".log", ".txt", ""):
            return False
        # A .json/.log file holding one JSON object per line is JSON Lines too; a line that
        # only looks like one (HF's console dicts are Python reprs, single-quoted) is text.
        head = head_bytes(path, 65536).strip()
        first_line = head.split(b"\n", 1)[0].strip()
        # One object on one line is a config document (config_file.py), not a log.
        if not (first_line.startswith(b"{") and first_line.endswith(b"}") and b"\n" in head):
            return False
        try:
            return isinstance(json.loads(first_line), dict)
        except (ValueError, RecursionError):
            return False

    def read(self, path: Path, sink: Sink) -> ReadStats:
        data = read_bytes(path)
        stream = str(path)
        records = skipped = 0
        clock = "step"
        note = ""
        start = 0
        offset = 0
        chunks: list[tuple[bytes, dict[str, Any] | None]] = []
        for line_start, line_end in _header_lines(data):
            chunks.append((data[start:line_start], None))
            try:
                header = json.loads(data[line_start:line_end])
            except (ValueError, RecursionError):
                header = None
            chunks.append((b"", header if isinstance(header, dict) else None))
            if not isinstance(header, dict):
                skipped += 1
            start = line_end
        chunks.append((data[start:], None))
        for body, header in chunks:
            if header is not None:
                self._header(header, stream, sink)
                records += 1
                continue
            if not body.strip():
                continue
            names, columns, bad, modes = self._columns(body)
            skipped += bad
            if not columns:
                continue
            result = emit_table(sink, stream, names, columns, rows_offset=offset, eval_rows=modes)
            note = result.note or note
            offset += columns[0].values.size
            records += result.records
            skipped += result.skipped
            clock = result.clock if result.records else clock
        notes = {"epoch": "no step key: the epoch used as the step",
                 "record": "no step key: record order used as the step"}  # fmt: skip
        return ReadStats(records, skipped, note or notes.get(clock, ""), clock)

    @staticmethod
    def _columns(body: bytes) -> tuple[list[str], list[Column], int, np.ndarray | None]:
        """(names, columns, lines skipped, evaluation rows) of one run of JSON lines."""
        import pyarrow as pa
        import pyarrow.json as pj

        options = pj.ReadOptions(block_size=max(1 << 20, min(len(body), 64 << 20)))
        try:
            table = pj.read_json(io.BytesIO(body), read_options=options)
            return (*arrow_columns(table), 0, _eval_modes(table))
        except (pa.ArrowException, OverflowError, ValueError, MemoryError):
            pass
        if _NONFINITE.search(body):
            # A diverged run logs "nan"/"inf" (strings: JSON has no such numbers) or NaN:
            # stand-ins pyarrow can parse keep the columnar path for the whole file.
            try:
                table = pj.read_json(
                    io.BytesIO(_NONFINITE.sub(_stand_in, body)), read_options=options
                )
                names, columns = arrow_columns(table)
                for column in columns:
                    _restore_nonfinite(column.values)
                return names, columns, 0, _eval_modes(table)
            except (pa.ArrowException, OverflowError, ValueError, MemoryError):
                pass
        # The tolerant path: one line at a time.
        records: list[dict[str, Any]] = []
        bad = 0
        for line in body.decode("utf-8", errors="replace").splitlines():
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except (ValueError, RecursionError):
                bad += 1
                continue
            if not isinstance(record, dict):
                bad += 1
                continue
            records.append(flatten(record))
        if not records:
            return [], [], bad, None
        names, columns = python_columns(records)
        modes = np.array([str(r.get("mode", "")).lower() in _EVAL_MODES for r in records])
        return names, columns, bad, modes if modes.any() else None

    @staticmethod
    def _header(record: dict[str, Any], stream: str, sink: Sink) -> None:
        plan = record.get("plan")
        config = record.get("config")
        resume = record.get("resume")
        sink.headers.append(
            Header(
                source=stream,
                plan=plan if isinstance(plan, list) else None,
                config=config if isinstance(config, dict) else None,
                resume=resume if isinstance(resume, dict) else None,
            )
        )
        if isinstance(resume, dict):
            step = as_step(resume.get("from_step"))
            if step is not None:
                policy = resume.get("policy")
                sink.resumes.append(
                    Resume(step, stream, policy if isinstance(policy, str) else None)
                )
        sink.new_session(stream)
