"""Registry of schedule families, keyed by ``kind``."""

from __future__ import annotations

from typing import Any, TypeVar

from unified_prior.schedules.base import ScheduleSpec

SpecT = TypeVar("SpecT", bound=type[ScheduleSpec])

FAMILIES: dict[str, type[ScheduleSpec]] = {}


def register(cls: SpecT) -> SpecT:
    """Class decorator: make a family available under its ``kind`` literal."""
    family: type[ScheduleSpec] = cls  # mypy cannot read model_fields through the TypeVar
    kind = family.model_fields["kind"].default
    if kind in FAMILIES:
        raise ValueError(f"schedule family {kind!r} registered twice")
    FAMILIES[kind] = cls
    return cls


def spec_from_dict(data: dict[str, Any]) -> ScheduleSpec:
    """Build the spec whose ``kind`` the dict names; pydantic errors name the bad key."""
    kind = data.get("kind")
    if kind not in FAMILIES:
        raise ValueError(f"unknown schedule kind {kind!r}; choose one of {sorted(FAMILIES)}")
    return FAMILIES[kind].model_validate(data)
