"""HF Trainer's ``trainer_state.json``: ``log_history`` entries with ``step``, ``loss``,
``learning_rate``, ``grad_norm``, ``eval_loss``.

It is one JSON document (HF rewrites it whole at every save), so it is parsed at once; it
holds one entry per logging interval, which keeps it small.
"""

from __future__ import annotations

import json
from pathlib import Path

from unified_prior.doctor.evidence import Sink, as_step
from unified_prior.doctor.readers.base import Reader, ReadStats, register, text_lines
from unified_prior.doctor.readers.keys import pick_from_mapping


@register
class HfTrainerStateReader(Reader):
    name = "hf-trainer-state"
    priority = 10

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.name == "trainer_state.json"

    def read(self, path: Path, sink: Sink) -> ReadStats:
        try:
            state = json.loads("".join(text_lines(path)))
        except (ValueError, RecursionError):
            return ReadStats(0, 1, "not valid JSON")
        if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
            return ReadStats(0, 1, "no log_history list")
        records = skipped = 0
        stream = str(path)
        for entry in state["log_history"]:
            if not isinstance(entry, dict):
                skipped += 1
                continue
            step, metrics = pick_from_mapping(entry)
            if step is None or not metrics:
                skipped += 1
                continue
            for metric, value in metrics.items():
                sink.point(metric, step, value, stream)
            records += 1
        # HF keeps its schedule inputs out of trainer_state; max_steps is the one it records.
        max_steps = as_step(state.get("max_steps"))
        if max_steps:
            sink.configs.append((stream, {"max_steps": max_steps}))
        return ReadStats(records, skipped)
