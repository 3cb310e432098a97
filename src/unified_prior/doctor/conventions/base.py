"""A framework's conventions: which files hold its run's hyperparameters, and how its
schedules behave where a config is silent.

``Found`` is what every convention reads: the config dicts the readers parsed, plus the
framework's own files found *by exact name* beside the inputs (``training_args.json``, the
model card ``README.md``, ``args.yaml`` …). Files are read as data only (``json``,
``yaml.safe_load``), only when they are regular files under ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import json
import math
import stat
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from unified_prior.doctor.declared import Declared, Defaults
from unified_prior.doctor.evidence import Evidence, as_float
from unified_prior.schedules import Plan
from unified_prior.schedules.base import ScheduleSpec

MAX_FILE_BYTES = 4 * 1024 * 1024
#: How far up from an input the framework's files are looked for (``last-checkpoint/`` →
#: the run folder with README.md).
PARENT_LEVELS = 2
#: Lines of a text log scanned for a printed ``Namespace(...)``.
HEAD_LINES = 600


def _regular(path: Path) -> bool:
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_FILE_BYTES


def read_text(path: Path) -> str | None:
    """A small regular file's text, or None (FIFOs, devices, huge or unreadable files)."""
    if not _regular(path):
        return None
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def load_mapping(path: Path) -> dict[str, Any] | None:
    """A JSON or YAML file as a dict, or None."""
    text = read_text(path)
    if text is None:
        return None
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception:
        return None
    return data if isinstance(data, dict) else None


@dataclass
class Found:
    """Config dicts and framework files around the inputs."""

    evidence: Evidence
    _cache: dict[Path, dict[str, Any] | None] = field(default_factory=dict)

    @cached_property
    def input_files(self) -> list[Path]:
        return [Path(i.path) for i in self.evidence.inputs]

    @cached_property
    def dirs(self) -> list[Path]:
        """Folders of the inputs and up to ``PARENT_LEVELS`` above them, nearest first."""
        seen: dict[Path, None] = {}
        for path in self.input_files:
            folder = path if path.is_dir() else path.parent
            for _ in range(PARENT_LEVELS + 1):
                seen.setdefault(folder, None)
                if folder.parent == folder:
                    break
                folder = folder.parent
        for run_dir in self.evidence.run_dirs:
            seen.setdefault(Path(run_dir), None)
        return list(seen)

    def files(self, name: str) -> list[Path]:
        """Regular files called ``name`` in ``dirs`` (nearest first)."""
        return [d / name for d in self.dirs if _regular(d / name)]

    def mapping(self, path: Path) -> dict[str, Any] | None:
        for source, data in self.evidence.configs:
            if Path(source) == path:
                return data
        if path not in self._cache:
            self._cache[path] = load_mapping(path)
        return self._cache[path]

    def mappings(self, name: str) -> list[tuple[Path, dict[str, Any]]]:
        """(path, dict) of every readable file called ``name``, from configs or disk."""
        found = []
        for path in self.files(name):
            data = self.mapping(path)
            if data is not None:
                found.append((path, data))
        seen = {p for p, _ in found}
        for source, data in self.evidence.configs:
            if Path(source).name == name and Path(source) not in seen:
                found.append((Path(source), data))
        return found

    @cached_property
    def text_heads(self) -> list[tuple[Path, list[str]]]:
        """The first lines of every text input (a printed ``Namespace`` sits at the top)."""
        heads = []
        for path in self.input_files:
            if path.suffix.lower() not in (".txt", ".log", ".out", ".err", ""):
                continue
            if not _regular(path):
                continue
            try:
                with path.open("r", encoding="utf-8", errors="replace") as handle:
                    lines = []
                    for i, line in enumerate(handle):
                        if i >= HEAD_LINES:
                            break
                        lines.append(line[:20_000])
            except OSError:
                continue
            heads.append((path, lines))
        return heads


def number(data: Mapping[str, Any], *keys: str) -> float | None:
    """The first of ``keys`` whose value is a finite number."""
    for key in keys:
        value = as_float(data.get(key))
        if value is not None and math.isfinite(value):
            return value
    return None


def whole(data: Mapping[str, Any], *keys: str) -> int | None:
    value = number(data, *keys)
    return round(value) if value is not None and value >= 0 else None


#: More milestones than this is not a real step schedule (and a ``range`` of them could
#: exhaust memory on a hostile config: ``lr_step_size=1, epochs=10**12``).
MAX_MILESTONES = 10_000


def milestones_every(size: int, length: int | None) -> tuple[int, ...] | None:
    """``size, 2·size, …`` up to ``length``; None when that would be absurdly many."""
    if size <= 0:
        return None
    end = length or size
    if end // size > MAX_MILESTONES:
        return None
    return tuple(range(size, end + 1, size))


def whole_numbers(values: Any) -> tuple[int, ...]:
    """The finite, non-negative numbers of a list/tuple as ints (others dropped)."""
    if not isinstance(values, list | tuple):
        return ()
    out = []
    for value in values[:MAX_MILESTONES]:
        number_ = as_float(value)
        if number_ is not None and math.isfinite(number_) and 0 <= number_ < 2**53:
            out.append(int(number_))
    return tuple(sorted(out))


def build(
    declared: Declared,
    spec_values: dict[str, Any],
    spec_cls: type[ScheduleSpec],
    *,
    peak: float | None,
    length: int | None,
) -> Declared:
    """Fill ``declared.plan`` from the spec values, or say in ``problem`` why it cannot be."""
    if peak is None or not (math.isfinite(peak) and peak > 0):
        declared.problem = declared.problem or "no learning rate declared"
        return declared
    if not length:
        declared.problem = declared.problem or (
            f"no run length declared (max {declared.unit}s): the plan's end is unknown"
        )
        return declared
    values = dict(spec_values)
    if values.get("warmup_steps", 0) >= length:
        declared.problem = (
            f"declared warmup ({values['warmup_steps']} {declared.unit}s) is not shorter than the "
            f"run ({length})"
        )
        return declared
    try:
        spec = spec_cls.model_validate(values)
        declared.plan = Plan.single(spec, peak_lr=peak, max_steps=length)
    except ValueError as err:
        declared.problem = f"declared schedule is invalid: {str(err).splitlines()[0]}"
    return declared


class Convention(ABC):
    """One framework: its files, its defaults, and how its config becomes a plan."""

    #: Short name written into ``declared_schedule.convention``.
    name: ClassVar[str]
    #: For people: "Hugging Face Trainer".
    label: ClassVar[str]
    #: What the framework does for schedule keys its config leaves out.
    defaults: ClassVar[Defaults]
    #: How many steps the logged LR may lag the plan (see ``Declared.step_slack``).
    step_slack: ClassVar[int] = 1

    @abstractmethod
    def detect(self, found: Found) -> bool:
        """Whether the inputs look like this framework's run."""

    @abstractmethod
    def declared(self, found: Found) -> Declared | None:
        """The schedule this framework's files declare, or None if they declare none."""


CONVENTIONS: list[Convention] = []


def register(cls: type[Convention]) -> type[Convention]:
    """Class decorator: ask this convention after the ones registered before it."""
    CONVENTIONS.append(cls())
    return cls
