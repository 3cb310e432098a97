"""HF Trainer's ``trainer_state.json``: ``log_history`` entries with ``step``, ``loss``,
``learning_rate``, ``grad_norm``, ``eval_loss`` and other eval metrics (``eval_wer`` …).

It is one JSON document (HF rewrites it whole at every save), so it is parsed at once. The
closing summary entry (``train_runtime``, the mean ``train_loss`` of the whole run) is not a
logging interval and is left out. The run-level facts (``best_model_checkpoint``,
``best_metric``, ``max_steps``, ``logging_steps`` …) go to ``Evidence.configs`` as read.
"""

from __future__ import annotations

import json
from pathlib import Path

from unified_prior.doctor.evidence import Sink
from unified_prior.doctor.readers.base import Reader, ReadStats, register
from unified_prior.doctor.readers.columns import python_columns, read_bytes
from unified_prior.doctor.readers.keys import SUMMARY_KEYS
from unified_prior.doctor.readers.table import emit_table

#: Run-level fields passed through (names as HF writes them).
STATE_FIELDS = (
    "max_steps",
    "best_model_checkpoint",
    "best_metric",
    "best_global_step",
    "num_train_epochs",
    "logging_steps",
    "eval_steps",
    "save_steps",
    "train_batch_size",
    "global_step",
    "epoch",
)


@register
class HfTrainerStateReader(Reader):
    name = "hf-trainer-state"
    priority = 10

    @classmethod
    def claims(cls, path: Path) -> bool:
        return path.name == "trainer_state.json"

    def read(self, path: Path, sink: Sink) -> ReadStats:
        try:
            state = json.loads(read_bytes(path).decode("utf-8", errors="replace"))
        except (ValueError, RecursionError):
            return ReadStats(0, 1, "not valid JSON")
        if not isinstance(state, dict) or not isinstance(state.get("log_history"), list):
            return ReadStats(0, 1, "no log_history list")
        entries = [e for e in state["log_history"] if isinstance(e, dict)]
        summaries = [e for e in entries if any(k in SUMMARY_KEYS for k in e)]
        rows = [e for e in entries if e not in summaries]
        skipped = len(state["log_history"]) - len(rows)
        records = 0
        if rows:
            names, columns = python_columns(rows)
            result = emit_table(sink, str(path), names, columns)
            records, skipped = result.records, skipped + result.skipped
        facts = {k: state[k] for k in STATE_FIELDS if state.get(k) not in (None, "")}
        if facts:
            sink.configs.append((str(path), facts))
        return ReadStats(records, skipped)
