"""SARIF 2.1.0, the format code-scanning tools (GitHub, GitLab, VS Code) ingest."""

from __future__ import annotations

import json
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from unified_prior.audit.finding import Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _uri(path: str) -> str:
    p = Path(path)
    return p.as_posix() if not p.is_absolute() else p.as_uri()


def _tool_version() -> str:
    try:
        return metadata.version("unified-prior")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def sarif_log(findings: Sequence[Finding]) -> dict[str, Any]:
    """The SARIF log object: one run, every rule described, one result per finding."""
    from unified_prior.audit.rules import RULES

    codes = list(RULES)
    extra = sorted({f.code for f in findings} - set(codes))  # E999 / E902
    rules = [
        {
            "id": code,
            "name": rule.name,
            "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": rule.description},
            "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        }
        for code, rule in RULES.items()
    ] + [
        {
            "id": code,
            "name": {"E999": "syntax-error", "E998": "too-deep-to-analyse"}.get(
                code, "unreadable-file"
            ),
            "shortDescription": {"text": "file could not be parsed or read; not audited"},
            "defaultConfiguration": {"level": "error"},
        }
        for code in extra
    ]
    index = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in findings:
        result: dict[str, Any] = {
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message + (f" Fix: {f.fix}" if f.fix else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": f.line, "startColumn": f.col},
                    }
                }
            ],
        }
        if f.related:
            result["relatedLocations"] = [
                {
                    "id": i,
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(f.path)},
                        "region": {"startLine": line, "startColumn": col},
                    },
                }
                for i, (line, col) in enumerate(f.related)
            ]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "uprior-audit",
                        "version": _tool_version(),
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render_sarif(findings: Sequence[Finding]) -> str:
    return json.dumps(sarif_log(findings), indent=2) + "\n"
