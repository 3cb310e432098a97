"""Columns from what the format readers parse: a pyarrow table (JSONL, CSV) or a list of
dict records (the tolerant line-by-line path, HF ``log_history``), as float arrays with a
mask of the cells present, for ``table.emit_table``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from unified_prior.doctor.evidence import as_float
from unified_prior.doctor.readers.table import Column
from unified_prior.errors import InputError

#: Nested objects are flattened this many levels deep at most.
MAX_FLATTEN = 4

__all__ = ["Column", "arrow_columns", "flatten", "python_columns", "read_bytes"]


def read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(
            f"{path}: cannot read it ({err.strerror or err}); check the path"
        ) from None


def _numeric_strings(chunked: Any) -> bool:
    """Whether a string column looks numeric (its first values parse), before paying for a
    cast that raises on words."""
    first = chunked.drop_null().slice(0, 5).to_pylist()
    return all(as_float(value) is not None for value in first)


def arrow_columns(table: Any) -> tuple[list[str], list[Column]]:
    """Numeric (or numeric-string) columns of a pyarrow table as ``Column``s."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for _ in range(MAX_FLATTEN):
        if not any(pa.types.is_struct(f.type) for f in table.schema):
            break
        table = table.flatten()
    names: list[str] = []
    columns: list[Column] = []
    for name, chunked in zip(table.column_names, table.columns, strict=True):
        kind = chunked.type
        if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            numbers = chunked.cast(pa.float64(), safe=False)
        elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
            if not _numeric_strings(chunked):
                continue
            try:
                numbers = pc.cast(pc.utf8_trim_whitespace(chunked), pa.float64())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                continue  # words ("train", a date): not a metric
        elif pa.types.is_null(kind):
            continue
        else:
            continue
        present = np.asarray(numbers.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        values = numbers.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        names.append(str(name))
        columns.append(Column(np.where(present, values, np.nan), present))
    return names, columns


def python_columns(records: list[dict[str, Any]]) -> tuple[list[str], list[Column]]:
    """Columns from records parsed one by one (the slow, tolerant path)."""
    names: dict[str, None] = {}
    for record in records:
        for key in record:
            if isinstance(key, str) and key not in names and len(names) < 4096:
                names[key] = None
    columns = []
    n = len(records)
    for name in names:
        values = np.full(n, np.nan)
        present = np.zeros(n, bool)
        for i, record in enumerate(records):
            value = record.get(name)
            if value is None or isinstance(value, dict | list):
                continue
            number = as_float(value)
            if number is not None:
                values[i] = number
                present[i] = True
        columns.append(Column(values, present))
    return list(names), columns


def flatten(record: dict[str, Any], prefix: str = "", depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and depth < MAX_FLATTEN:
            out.update(flatten(value, name + ".", depth + 1))
        else:
            out[name] = value
    return out
