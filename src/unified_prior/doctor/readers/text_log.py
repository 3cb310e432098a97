"""Plain-text training logs in the styles people actually print.

Understood, per line (a leading timestamp and ``name - LEVEL -`` prefix are ignored):

- ``Step 24,500: Loss = 0.070587`` and ``Validation Loss: 0.0612`` (the original run; a line
  without a step belongs to the last step seen),
- ``iter 100: loss 2.31, time 12ms`` (nanoGPT), ``step 100 | loss 2.31 | lr 1.0e-04``,
- ``key=value`` pairs, ``key: value`` pairs,
- HF Trainer console dicts ``{'loss': 2.31, 'learning_rate': 1e-4, 'epoch': 0.5}`` (parsed
  with ``ast.literal_eval``, never ``eval``); they carry no step, so their order is used.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from unified_prior.doctor.evidence import Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, register, text_lines
from unified_prior.doctor.readers.keys import normalise_key, pick_from_mapping, pick_metrics

_PREFIX = re.compile(
    r"^\s*\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?\]?"
    r"(?:\s*-\s*[\w.<>]+\s*-\s*[A-Z]+\s*-)?"
)
_NUMBER = (
    r"[-+]?(?:\d{1,3}(?:,\d{3})+(?![\d.])|\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
    r"|[-+]?(?:nan|NaN|NAN|inf|Inf|INF|Infinity|infinity)\b"
)
_PAIR = re.compile(
    r"(?P<key>[A-Za-z_][A-Za-z0-9_/.\-]*(?: [A-Za-z_][A-Za-z0-9_/.\-]*){0,3}?)"
    r"\s*(?:=|:|\s)\s*(?P<num>" + _NUMBER + r")"
)
_DICT = re.compile(r"\{.*\}")
#: Lines longer than this are not logs anyone wrote by hand: skip rather than regex them.
MAX_LINE_CHARS = 20_000


def _metric_key(key: str) -> str | None:
    """Try the key, then drop leading words: ``INFO Training Loss`` → ``Training Loss``."""
    words = key.split()
    for start in range(len(words)):
        name = normalise_key(" ".join(words[start:]))
        if name is not None:
            return " ".join(words[start:])
    return None


@register
class TextLogReader(Reader):
    name = "text-log"
    priority = 90

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in (".log", ".txt", ".out", ".err", "") or ".log" in path.name

    def read(self, path: Path, sink: Sink) -> ReadStats:
        records = skipped = dict_ordinal = 0
        last_step: int | None = None
        stream = str(path)
        used_order = False
        for raw in text_lines(path):
            line = raw.strip()
            if not line:
                continue
            if len(line) > MAX_LINE_CHARS:
                skipped += 1
                continue
            step, metrics, from_dict = self._parse(line)
            if not metrics:
                skipped += 1
                continue
            if step is None and from_dict and "loss" in metrics:
                # HF console dicts have no step; each training dict is one logging interval.
                dict_ordinal += 1
                step, used_order = dict_ordinal, True
            if step is None:
                step = last_step
            if step is None:
                skipped += 1
                continue
            last_step = step
            for metric, value in metrics.items():
                sink.point(metric, step, value, stream)
            records += 1
        note = "HF console dicts carry no step: their order is used" if used_order else ""
        return ReadStats(records, skipped, note)

    @staticmethod
    def _parse(line: str) -> tuple[int | None, dict[str, float], bool]:
        match = _DICT.search(line)
        if match is not None and len(match.group(0)) < 4096:
            try:
                value = ast.literal_eval(match.group(0))
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                value = None
            if isinstance(value, dict):
                step, metrics = pick_from_mapping(value)
                if metrics:
                    return step, metrics, True
        body = _PREFIX.sub("", line, count=1)
        pairs: list[tuple[str, str]] = []
        for pair in _PAIR.finditer(body):
            key = _metric_key(pair.group("key"))
            if key is not None:
                pairs.append((key, pair.group("num")))
        step, metrics = pick_metrics(pairs)
        return step, metrics, False
