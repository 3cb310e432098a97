"""Config files beside the logs (JSON, YAML, TOML): where a foreign run declares its schedule.

The doctor only reads them as data (``yaml.safe_load``, ``tomllib``, ``json``); which keys
mean a schedule is decided in ``doctor/declared.py``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from unified_prior.doctor.evidence import Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register, text_lines

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
        sink.configs.append((str(path), data))
        return ReadStats(1, 0)
