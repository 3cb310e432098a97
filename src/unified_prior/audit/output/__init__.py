"""Output formats for audit findings: ``text`` (ruff-like), ``json`` (DESIGN §7), ``sarif``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from unified_prior.audit.finding import Finding
from unified_prior.audit.output.json_format import render_json
from unified_prior.audit.output.sarif import render_sarif
from unified_prior.audit.output.text import render_text

#: Renderers keyed by the ``--format`` value.
FORMATS: dict[str, Callable[[Sequence[Finding]], str]] = {
    "text": render_text,
    "json": render_json,
    "sarif": render_sarif,
}

__all__ = ["FORMATS", "render_json", "render_sarif", "render_text"]
