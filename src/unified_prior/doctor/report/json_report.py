"""JSON report (DESIGN §7): NaN and infinities become null so any JSON parser reads it."""

from __future__ import annotations

import json
import math
from typing import Any

from unified_prior.doctor.diagnose import Report


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    return value


def render_json(report: Report) -> str:
    return json.dumps(_clean(report.to_dict()), indent=2, allow_nan=False)
