"""The original script itself (issue 10's "Must show"), when the development corpus has been
materialized (never committed: third-party code). Point ``UPRIOR_AUDIT_CORPUS`` at the folder
``bench/materialize_corpus.py ../shared/corpus/audit-dev.tsv OUT`` wrote; default
``.corpus/audit-dev`` of the repository. Skipped when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from unified_prior.audit import audit_paths

ROOT = Path(
    os.environ.get(
        "UPRIOR_AUDIT_CORPUS", Path(__file__).resolve().parents[2] / ".corpus" / "audit-dev"
    )
)
SCRIPT = "train_unified_prior_clean.py"


def codes_of(case: str) -> set[str]:
    path = ROOT / case / SCRIPT
    if not path.is_file():
        pytest.skip(f"{path} not materialized")
    return {f.code for f in audit_paths([path])}


def test_original_at_c95a071_gives_sch001_opt001_opt002_cfg002() -> None:
    assert {"SCH001", "OPT001", "OPT002", "CFG002"} <= codes_of("S1")


def test_its_fix_at_5230ade_gives_opt001_opt002_and_no_sch() -> None:
    found = codes_of("S2")
    assert {"OPT001", "OPT002"} <= found
    assert not {c for c in found if c.startswith("SCH")}
