"""DESIGN §7 audit JSON: ``[{"path", "line", "col", "code", "severity", "message", ...}]``."""

from __future__ import annotations

import json
from collections.abc import Sequence

from unified_prior.audit.finding import Finding


def render_json(findings: Sequence[Finding]) -> str:
    return json.dumps([f.to_dict() for f in findings], indent=2) + "\n"
