"""Config files beside the logs (JSON, YAML, TOML): where a foreign run declares its schedule.

The doctor only reads them as data (``yaml.safe_load``, ``tomllib``, ``json``); which keys
mean a schedule is decided in ``doctor/declared.py``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from unified_prior.doctor.evidence import Sink, as_float
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register, text_lines
from unified_prior.doctor.readers.keys import classify
from unified_prior.doctor.readers.table import Column, emit_table

#: A config is small; a bigger .json is a metrics dump, not a config.
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def parse_config_text(path: Path, text: str) -> Any:
    """Parse ``text`` by ``path``'s suffix; raises ValueError (or a subclass) when invalid."""
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return tomllib.loads(text)
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ValueError(str(err)) from None
    return json.loads(text)


_HISTORY_NOTE = "a history of lists (one value per record): record order used as the step"


def _history(data: dict[str, Any]) -> tuple[list[str], list[Column]] | None:
    """Columns when ``data`` maps metric names to equally long lists of numbers."""
    lists = {
        k: v
        for k, v in data.items()
        if isinstance(k, str) and isinstance(v, list) and len(v) >= 2
        and all(as_float(x) is not None for x in v)
    }  # fmt: skip
    if not any(classify(k).metric in ("loss", "val_loss") for k in lists):
        return None
    n = max(len(v) for v in lists.values())
    names, columns = [], []
    for key, values in lists.items():
        column = np.full(n, np.nan)
        column[: len(values)] = [as_float(x) for x in values]
        present = np.zeros(n, bool)
        present[: len(values)] = True
        names.append(key)
        columns.append(Column(column, present))
    return names, columns


@register
class ConfigFileReader(Reader):
    name = "config"
    priority = 40

    @classmethod
    def claims(cls, path: Path) -> bool:
        suffix = path.suffix.lower()
        if suffix in (".toml", ".yaml", ".yml"):
            return True
        if suffix != ".json":
            return False
        try:
            if path.stat().st_size > MAX_CONFIG_BYTES:
                return False
        except OSError:
            return True  # let read() report it
        head = head_bytes(path).lstrip()
        first_line = head.split(b"\n", 1)[0].strip()
        # One object per line is JSON Lines (jsonl.py); one document is a config.
        return not (
            first_line.startswith(b"{") and first_line.endswith(b"}") and b"\n" in head.strip()
        )

    def read(self, path: Path, sink: Sink) -> ReadStats:
        text = "".join(text_lines(path))
        try:
            data = parse_config_text(path, text)
        except (ValueError, RecursionError, TypeError):
            return ReadStats(0, 1, "not a valid config file")
        if not isinstance(data, dict):
            return ReadStats(0, 1, "not a mapping")
        history = _history(data) if path.suffix.lower() == ".json" else None
        if history is not None:
            # Keras' json.dump(model.fit(...).history): lists of one value per epoch.
            names, columns = history
            result = emit_table(sink, str(path), names, columns)
            return ReadStats(result.records, result.skipped, _HISTORY_NOTE, result.clock)
        sink.configs.append((str(path), data))
        return ReadStats(1, 0)
