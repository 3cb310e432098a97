"""Shared helpers for the audit tests: audit a snippet written in the test, list its codes."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import pytest

from unified_prior.audit import Finding, audit_source

AuditFn = Callable[..., list[Finding]]


def _audit(source: str, select: set[str] | None = None) -> list[Finding]:
    return audit_source(textwrap.dedent(source), "snippet.py", select=select)


@pytest.fixture
def audit() -> AuditFn:
    """``audit(src, select={"SCH001"})``: findings for a dedented snippet (never executed)."""
    return _audit


@pytest.fixture
def codes() -> Callable[..., list[str]]:
    """``codes(src)``: the sorted finding codes of a snippet, for table-driven tests."""

    def run(source: str, select: set[str] | None = None) -> list[str]:
        return sorted(f.code for f in _audit(source, select))

    return run
