"""A finding: one code of DESIGN §7 with its severity, a one-line title, a message with the
numbers, the evidence as data, and the steps it concerns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    title: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    steps: list[int] = field(default_factory=list)
    #: What to do about it (warnings and errors); the message ends with it too.
    action: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "evidence": self.evidence,
            "steps": self.steps,
            "action": self.action,
        }


def fmt_lr(value: float) -> str:
    """An LR for people: ``1e-04``, ``9.3666e-05``."""
    text = f"{value:.4e}"
    mantissa, exponent = text.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def fmt_step(step: float) -> str:
    """``25000`` → ``25,000``."""
    return f"{round(float(step)):,}"
