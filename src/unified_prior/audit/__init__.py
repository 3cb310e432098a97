"""``uprior audit``: find configuration a training script claims but does not apply.

Static only: scripts are parsed with :mod:`ast`, never imported or run. Public API (the
doctor calls it for ``uprior doctor --script``)::

    from unified_prior.audit import audit_paths, Finding, RULES
    findings = audit_paths(["train.py"], select=None, ignore={"SEC001"})
"""

from __future__ import annotations

from unified_prior.audit.engine import audit_paths, audit_source, iter_python_files
from unified_prior.audit.finding import Finding, Severity
from unified_prior.audit.rules import RULES, Rule

__all__ = [
    "RULES",
    "Finding",
    "Rule",
    "Severity",
    "audit_paths",
    "audit_source",
    "iter_python_files",
]
