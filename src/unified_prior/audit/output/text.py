"""``path:line:col: CODE message`` lines, like ruff and flake8, plus a one-line summary."""

from __future__ import annotations

from collections.abc import Sequence

from unified_prior.audit.finding import Finding


def render_text(findings: Sequence[Finding]) -> str:
    """One line per finding (``fix:`` appended), then ``Found N problems.`` or ``All clear.``"""
    lines = [
        f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}" + (f" (fix: {f.fix})" if f.fix else "")
        for f in findings
    ]
    n = len(findings)
    lines.append(f"Found {n} problem{'s' if n != 1 else ''}." if n else "All checks passed.")
    return "\n".join(lines) + "\n"
