"""CSV/TSV metrics: Lightning's ``metrics.csv``, YOLOv5/v8 ``results.csv``, timm's
``summary.csv``, W&B's CSV export, any header with step/loss/lr-like columns.

Read with ``pyarrow.csv`` (columnar, C++); a file it refuses (ragged rows, a broken quote,
lines before the header) is read with Python's ``csv`` instead. Lightning writes train and
validation rows apart with empty cells: empty cells are absent values. YOLO pads every cell
with spaces. Which column is what is decided by the shared ``keys.layout``; the clock
(step, else epoch, else row order) by ``table.emit_table``.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from unified_prior.doctor.evidence import Sink, as_float
from unified_prior.doctor.readers.base import Reader, ReadStats, register
from unified_prior.doctor.readers.columns import arrow_columns, read_bytes
from unified_prior.doctor.readers.keys import classify
from unified_prior.doctor.readers.table import Column, emit_table

CLOCK_NOTES = {
    "epoch": "no step column: the epoch used as the step",
    "record": "no step column: row order used as the step",
}


def is_header(cells: list[str]) -> bool:
    """Whether a row names at least one metric (not just a step)."""
    return any(classify(c).metric not in (None, "step", "epoch") for c in cells)


def sniff_delimiter(first_line: str, default: str = ",") -> str:
    return "\t" if "\t" in first_line else default


def read_table_text(text: str, delimiter: str) -> tuple[list[str], list[Column], int]:
    """A delimited table from text, with Python's csv (tolerant): (names, columns, rows
    skipped). Rows before the first header naming a metric are skipped."""
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    rows = csv.reader(io.StringIO(text.replace("\0", "")), delimiter=delimiter)
    header: list[str] | None = None
    body: list[list[str]] = []
    skipped = 0
    try:
        for row in rows:
            if header is None:
                if is_header(row):
                    header = [c.strip() for c in row]
                else:
                    skipped += 1
                continue
            if any(cell.strip() for cell in row):
                body.append(row)
    except csv.Error:
        skipped += 1  # a broken quote swallows the rest of the file: count it, keep the rows
    if header is None:
        return [], [], skipped
    n = len(body)
    columns = []
    for i in range(len(header)):
        values = np.full(n, np.nan)
        present = np.zeros(n, bool)
        for r, row in enumerate(body):
            if i < len(row) and row[i].strip():
                number = as_float(row[i])
                if number is not None:
                    values[r], present[r] = number, True
        columns.append(Column(values, present))
    return header, columns, skipped


def _exported_tag(path: Path) -> str | None:
    """The tag of a CSV downloaded from TensorBoard's UI (``run-NAME-tag-train_loss.csv``,
    columns ``Wall time,Step,Value``); the tag is only in the file name."""
    name = path.stem
    return name.rsplit("-tag-", 1)[1] if "-tag-" in name else None


def _wandb_runs(names: list[str]) -> dict[str, set[int]]:
    """W&B chart exports name columns ``RUN - metric``: the columns of each run (with the
    shared step column), by run name."""
    runs: dict[str, set[int]] = {}
    shared = set()
    for i, name in enumerate(names):
        if " - " in name:
            runs.setdefault(name.split(" - ", 1)[0].strip(), set()).add(i)
        else:
            shared.add(i)
    return {run: cols | shared for run, cols in runs.items()}


#: TensorBoard's "download CSV": one tag per file.
TB_EXPORT_HEADER = ["wall time", "step", "value"]


def read_table_bytes(
    data: bytes, delimiter: str, tag: str | None = None
) -> tuple[list[str], list[Column], int]:
    """pyarrow first, Python's csv when pyarrow refuses the file. ``tag`` names the
    ``Value`` column of a TensorBoard CSV download."""
    first_line = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip().lower()
    if [c.strip().strip('"') for c in first_line.split(",")] == TB_EXPORT_HEADER:
        tag = tag or "value"
        data = data.replace(data.split(b"\n", 1)[0], f"wall_time,step,{tag}".encode(), 1)
    import pyarrow as pa
    import pyarrow.csv as pcsv

    first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip("\r\n")
    try:
        cells = next(
            csv.reader([first.replace("\r", "").replace("\0", "")], delimiter=delimiter), []
        )
    except csv.Error:
        cells = []
    if is_header(cells):
        try:
            table = pcsv.read_csv(
                io.BytesIO(data),
                parse_options=pcsv.ParseOptions(delimiter=delimiter),
                convert_options=pcsv.ConvertOptions(null_values=[""], strings_can_be_null=True),
            )
            names, columns = arrow_columns(table)
            return [n.strip() for n in names], columns, 0
        except (pa.ArrowException, ValueError, OverflowError, MemoryError):
            pass
    return read_table_text(data.decode("utf-8", errors="replace"), delimiter)


@register
class CsvReader(Reader):
    name = "csv"
    priority = 30

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in (".csv", ".tsv")

    def read(self, path: Path, sink: Sink) -> ReadStats:
        data = read_bytes(path)
        first = data.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        delimiter = "\t" if default == "\t" else sniff_delimiter(first, ",")
        names, columns, skipped = read_table_bytes(data, delimiter, tag=_exported_tag(path))
        if not columns:
            return ReadStats(0, skipped, "no header row naming a loss, LR or step column")
        runs = _wandb_runs(names)
        if len(runs) > 1:
            # A W&B chart export with one column group per run: each run is its own stream,
            # so two runs are never coalesced into one series.
            records = bad = 0
            for run, keep in runs.items():
                chosen = [i for i, n in enumerate(names) if i in keep]
                part = emit_table(
                    sink,
                    f"{path} [{run}]",
                    [names[i] for i in chosen],
                    [columns[i] for i in chosen],
                )
                records, bad = records + part.records, bad + part.skipped
            note = f"W&B export of {len(runs)} runs: {', '.join(runs)}"
            return ReadStats(records, skipped + bad, note)
        result = emit_table(sink, str(path), names, columns)
        return ReadStats(
            result.records,
            skipped + result.skipped,
            CLOCK_NOTES.get(result.clock, ""),
            result.clock,
        )
