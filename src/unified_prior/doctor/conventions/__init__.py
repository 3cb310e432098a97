"""Framework conventions, one per module: where each framework keeps its run's
hyperparameters and how its schedules behave where a config is silent.

``declared_from_conventions(evidence)`` asks each in turn (the most specific files first);
``detected(evidence)`` names the framework whose defaults ``--expect`` should use.
"""

from __future__ import annotations

from unified_prior.doctor.conventions import (  # noqa: F401  (importing registers each)
    detectron2,
    detr,
    hf,
    lightning,
    yolo,
)
from unified_prior.doctor.conventions.base import CONVENTIONS, Convention, Found
from unified_prior.doctor.declared import Declared
from unified_prior.doctor.evidence import Evidence

__all__ = ["CONVENTIONS", "Convention", "Found", "declared_from_conventions", "detected"]


def declared_from_conventions(evidence: Evidence, found: Found | None = None) -> Declared | None:
    """The first complete plan a framework's files declare, else the first partial one."""
    found = found or Found(evidence)
    partial: Declared | None = None
    for convention in CONVENTIONS:
        declared = convention.declared(found)
        if declared is None:
            continue
        if declared.plan is not None:
            return declared
        partial = partial or declared
    return partial


def detected(evidence: Evidence, found: Found | None = None) -> Convention | None:
    """The framework the inputs look like, if any."""
    found = found or Found(evidence)
    return next((c for c in CONVENTIONS if c.detect(found)), None)
