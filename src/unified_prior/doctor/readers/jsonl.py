"""JSON Lines: one object per line (our ``metrics.jsonl``, wandb/Accelerate/custom loggers).

Our own header lines (``{"kind": "header", "plan": [...]}``) start a new session and carry
the declared plan; other objects are flat ``{key: number}`` records whose keys go through the
shared key table. Records without a step counter get their line order as the step, and the
input's note says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from unified_prior.doctor.evidence import Header, Resume, Sink, as_step
from unified_prior.doctor.readers.base import Reader, ReadStats, head_bytes, register, text_lines
from unified_prior.doctor.readers.keys import pick_from_mapping


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
        records = skipped = ordinal = 0
        stream = str(path)
        unstepped = False
        for line in text_lines(path):
            text = line.strip()
            if not text:
                continue
            try:
                record = json.loads(text)
            except (ValueError, RecursionError):
                skipped += 1
                continue
            if not isinstance(record, dict):
                skipped += 1
                continue
            if record.get("kind") == "header":
                self._header(record, stream, sink)
                records += 1
                continue
            step, metrics = pick_from_mapping(record)
            if not metrics:
                skipped += 1
                continue
            if step is None:
                unstepped = True
                step = ordinal
            ordinal += 1
            for metric, value in metrics.items():
                sink.point(metric, step, value, stream)
            records += 1
        note = "no step key: record order used as the step" if unstepped else ""
        return ReadStats(records, skipped, note)

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
