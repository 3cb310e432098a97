"""Printed training logs, in the forms people publish (a timestamp and logger prefix are
ignored; the forms themselves are parsed in ``text_forms``):

- ``Step 24,500: Loss = 0.070587`` and ``Validation Loss: 0.0612`` (a line without a step
  belongs to the last step seen), ``iter 100: loss 2.31`` (nanoGPT), ``step 100 | loss 2.31``,
  plain ``key=value`` / ``key: value`` pairs, fairseq ``| epoch 001 | loss 9.2 | num_updates 100``
  (``valid on 'valid' subset`` lines are eval losses), llm.c ``s:0 trl:11.0 lr:1e-6 norm:15``
  and ``s:0 tel:11.0``;
- ``Epoch 1/100 - Train Loss: 4.05, Val Loss: 3.25``: no step anywhere, so the epoch is the
  clock;
- torchvision/DETR ``MetricLogger``: ``Epoch: [0] [10/128] lr: … loss: 2.3 (2.4)``;
- HF Trainer console dicts ``{'loss': 2.31, 'learning_rate': 1e-4, 'epoch': 0.5}`` (read with
  ``ast.literal_eval``, never ``eval``): no step, so their order is the clock;
- a TSV/CSV table printed to a ``.log`` (a header line naming the columns);
- ``Namespace(lr=…, lr_drop=…)`` and HF ``TrainingArguments(`` blocks: these are the run's
  configuration, handed to ``Evidence.configs`` as ``PATH:LINE``, never read as metrics.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from unified_prior.doctor.evidence import Sink, as_float
from unified_prior.doctor.readers.base import Reader, ReadStats, register, text_lines
from unified_prior.doctor.readers.csv_log import CLOCK_NOTES, is_header, read_table_text
from unified_prior.doctor.readers.table import emit_table
from unified_prior.doctor.readers.text_forms import (
    ANSI,
    CONFIG_CALL,
    CONFIG_OPEN,
    PREFIX,
    Line,
    MetricLoggerState,
    config_call,
    keyword_line,
    pairs,
    python_dict,
)

#: Lines longer than this are not logs anyone wrote by hand: skip rather than regex them.
MAX_LINE_CHARS = 20_000
#: An arguments block longer than this is not one.
MAX_BLOCK_LINES = 1000
_HF_METRICS_TITLE = re.compile(r"^\*{5}\s.*\bmetrics\s\*{5}$")
_HF_METRICS_ROW = re.compile(r"^\w[\w ]*?\s*=\s*\S+$")


#: detectron2 "Running with full config:", maskrcnn-benchmark "Running with config:", then
#: the whole config as YAML lines without the logger's prefix.
_YAML_INTRO = re.compile(r"\bRunning with (?:full )?config:\s*$")
_YAML_LINE = re.compile(r"^\s*(?:- |[\w.\-/]+:(?:\s|$))")


def _close_yaml(block: tuple[int, list[str]], path: Path, sink: Sink) -> None:
    """A printed YAML config, as data (``yaml.safe_load``); not YAML: nothing."""
    import yaml

    try:
        data = yaml.safe_load("\n".join(block[1]))
    except (yaml.YAMLError, RecursionError, ValueError):
        return
    if isinstance(data, dict) and data:
        sink.configs.append((f"{path}:{block[0]}", data))


_NAME = re.compile(r"^[A-Za-z_][\w/.\-()@:]*$")


def _table_text(path: Path) -> tuple[str, str] | None:
    """(text, delimiter) when the file is a delimited table: a header line of names, one
    of which is a metric, over a row of as many cells, mostly numbers."""
    head: list[str] = []
    for line in text_lines(path):
        if line.strip():
            head.append(line)
            if len(head) == 2:
                break
    if len(head) < 2:
        return None
    for delimiter in ("\t", ","):
        cells = [c.strip() for c in head[0].split(delimiter)]
        row = [c.strip() for c in head[1].split(delimiter)]
        numbers = sum(as_float(c) is not None for c in row)
        if (
            len(cells) >= 2
            and len(row) == len(cells)
            and numbers * 2 >= len(row)
            and all(_NAME.match(c) for c in cells)
            and is_header(cells)
        ):
            return "".join(text_lines(path)), delimiter
    return None


@register
class TextLogReader(Reader):
    name = "text-log"
    priority = 90

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.suffix.lower() in (".log", ".txt", ".out", ".err", "") or ".log" in path.name

    def read(self, path: Path, sink: Sink) -> ReadStats:
        table = _table_text(path)
        if table is not None:
            names, columns, skipped = read_table_text(*table)
            if columns:
                result = emit_table(sink, str(path), names, columns)
                note = CLOCK_NOTES.get(result.clock, "")
                return ReadStats(result.records, skipped + result.skipped, note, result.clock)
        lines: list[tuple[int, Line]] = []
        skipped = tried = 0
        first_unread = ""
        logger = MetricLoggerState()
        block: tuple[int, dict[str, Any]] | None = None
        yaml_block: tuple[int, list[str]] | None = None
        in_summary = False
        epoch_line: float | None = None
        for number, raw in enumerate(text_lines(path), start=1):
            if "\x1b" in raw:
                raw = ANSI.sub("", raw)  # coloured console output saved to a file
            line = raw.strip()
            if not line:
                continue
            tried += 1
            if len(line) > MAX_LINE_CHARS:
                skipped += 1
                continue
            if yaml_block is not None:
                if (
                    not PREFIX.match(line)
                    and _YAML_LINE.match(raw)
                    and len(yaml_block[1]) < MAX_BLOCK_LINES
                ):
                    yaml_block[1].append(raw.rstrip("\r\n"))
                    continue
                _close_yaml(yaml_block, path, sink)
                yaml_block = None
            if block is not None:
                if line.startswith(")") or len(block[1]) >= MAX_BLOCK_LINES:
                    sink.configs.append((f"{path}:{block[0]}", block[1]))
                    block = None
                else:
                    item = keyword_line(line)
                    if item is not None:
                        block[1][item[0]] = item[1]
                continue
            if _HF_METRICS_TITLE.match(line):
                in_summary = True  # HF's closing "***** train metrics *****" table
                continue
            if in_summary and _HF_METRICS_ROW.match(line):
                continue
            in_summary = False
            body = PREFIX.sub("", line, count=1)
            call = CONFIG_CALL.search(body)
            if call is not None:
                found = config_call(body[call.start() :])
                if found:
                    sink.configs.append((f"{path}:{number}", found))
                    continue
            if CONFIG_OPEN.search(body):
                block = (number, {})
                continue
            if _YAML_INTRO.search(body):
                yaml_block = (number, [])  # detectron2/maskrcnn: the config as YAML follows
                continue
            parsed = logger.parse(body) or python_dict(body) or pairs(body)
            if parsed.form == "skip":
                continue
            if not parsed.metrics and not (parsed.form == "dict" and parsed.other):
                if parsed.epoch is not None and parsed.step is None:
                    epoch_line = parsed.epoch  # Keras: "Epoch 3/10" above its progress lines
                else:
                    skipped += 1
                    first_unread = first_unread or line[:80]
                continue
            if parsed.epoch is None and parsed.step is None and parsed.form == "pairs":
                parsed.epoch = epoch_line
            lines.append((number, parsed))
        if block is not None:
            sink.configs.append((f"{path}:{block[0]}", block[1]))
        if yaml_block is not None:
            _close_yaml(yaml_block, path, sink)
        records, clock, note = self._emit(lines, str(path), sink)
        skipped += len(lines) - records
        if not records:
            note = f"tried {tried:,} lines, none with a loss or LR next to a number" + (
                f" (first: {first_unread!r})" if first_unread else ""
            )
        return ReadStats(records, skipped, note, clock)

    @staticmethod
    def _emit(lines: list[tuple[int, Line]], stream: str, sink: Sink) -> tuple[int, str, str]:
        """Choose the clock, then send every line; (records, clock, note)."""
        has_step = any(line.step is not None for _, line in lines)
        # Fractional epochs (HF's 0.91, 1.82) are not a clock: steps would collide.
        epochs = [line.epoch for _, line in lines if line.epoch is not None]
        has_epoch = bool(epochs) and all(float(e).is_integer() for e in epochs)
        clock = "step" if has_step else "epoch" if has_epoch else "record"
        note = ""
        if any(line.form in ("metric-logger", "epoch-step") for _, line in lines):
            note = "step = epoch × iterations per epoch + iteration (the log counts per epoch)"
        elif clock == "epoch":
            note = "no step logged: the epoch used as the step"
        elif clock == "record" and any(line.form == "dict" for _, line in lines):
            note = "HF console dicts carry no step: their order is used"
        elif clock == "record":
            note = "no step or epoch logged: line order used as the step"
        sink.set_clock(stream, clock)
        records = ordinal = 0
        last: int | None = None
        for _, line in lines:
            if clock == "step":
                step = line.step if line.step is not None else last
            elif clock == "epoch":
                step = int(line.epoch) if line.epoch is not None else last
            elif "loss" in line.metrics or "lr" in line.metrics or line.form != "dict":
                # Each training dict (or line) is one logging interval; eval dicts belong to
                # the interval before them.
                ordinal += 1
                step = ordinal
            else:
                step = last
            if line.at_last_step:
                step = last
            if step is None:
                continue
            last = step
            for metric, value in line.metrics.items():
                sink.point(metric, step, value, stream)
            if clock == "step" and line.epoch is not None:
                sink.point("epoch", step, line.epoch, stream)
            for key, value in line.other.items():
                sink.other(key, step, value, stream)
            records += 1
        return records, clock, note
