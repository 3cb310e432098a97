"""One audit finding: where, which rule, what the config claims and what the code does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Finding:
    """A place in a script where configuration is claimed but not applied (or is unsafe).

    ``line`` is 1-based and ``col`` is 1-based (the column ruff and editors print), so
    ``path:line:col`` jumps to the spot. ``related`` holds the (line, col) of the other end
    of the story: the config claim for a code-anchored finding, or the code for a claim.
    """

    path: str
    line: int
    col: int
    code: str
    severity: Severity
    message: str
    fix: str = ""
    related: tuple[tuple[int, int], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """DESIGN §7 audit JSON: path, line, col, code, severity, message (+ fix, related)."""
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "fix": self.fix,
            "related": [{"line": line, "col": col} for line, col in self.related],
        }

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order like ruff: by path, then position, then code."""
        return (self.path, self.line, self.col, self.code)
