"""CSV metrics: Lightning's ``metrics.csv``, timm's ``summary.csv``, any header with
step/loss/lr-like columns.

Lightning writes train and validation rows separately with empty cells; empty cells are
simply absent values. Without a step column the ``epoch`` column is the clock (timm logs per
epoch), and without either the row order is; the input's note says which.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from unified_prior.doctor.evidence import Sink, as_step
from unified_prior.doctor.readers.base import Reader, ReadStats, register, text_lines
from unified_prior.doctor.readers.keys import normalise_key, pick_metrics


@register
class CsvReader(Reader):
    name = "csv"
    priority = 30

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in (".csv", ".tsv")

    def read(self, path: Path, sink: Sink) -> ReadStats:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
        rows = csv.reader(
            (line.replace("\0", "") for line in text_lines(path)), delimiter=delimiter
        )
        records = skipped = 0
        header: list[str] | None = None
        epoch_col: int | None = None
        step_col: int | None = None
        stream = str(path)
        clock = "step"
        try:
            for row_number, row in enumerate(rows):
                if header is None:
                    if any(normalise_key(c) not in (None, "step") for c in row):
                        header = row
                        names = [normalise_key(c) for c in row]
                        step_col = names.index("step") if "step" in names else None
                        lowered = [c.strip().lower() for c in row]
                        epoch_col = lowered.index("epoch") if "epoch" in lowered else None
                        if step_col is None:
                            clock = "epoch" if epoch_col is not None else "row order"
                    else:
                        skipped += 1
                    continue
                cells = [(header[i], v) for i, v in enumerate(row[: len(header)]) if v.strip()]
                step, metrics = pick_metrics(cells)
                if step is None and clock == "epoch" and epoch_col is not None:
                    step = as_step(row[epoch_col]) if epoch_col < len(row) else None
                if step is None and clock == "row order":
                    step = row_number
                if not metrics or step is None:
                    skipped += 1
                    continue
                for metric, value in metrics.items():
                    sink.point(metric, step, value, stream)
                records += 1
        except csv.Error:
            skipped += 1  # a broken quote swallows the rest of the file: count it, keep the rows
        note = "" if clock == "step" else f"no step column: {clock} used as the step"
        return ReadStats(records, skipped, note)
