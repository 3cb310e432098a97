"""The reader base class and registry: one input format per module.

A reader claims a path (by name, and if needed by its first bytes), streams it record by
record into a ``Sink`` and returns how many records it gave and how many lines or entries
it had to skip. Readers never raise on bad content: junk is counted, not fatal. Only a path
that cannot be opened at all is an ``InputError`` (exit 2, naming the path).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from unified_prior.doctor.evidence import Sink
from unified_prior.errors import InputError


@dataclass(frozen=True)
class ReadStats:
    """What one read gave: records, skipped lines/entries, a note for the report, and the
    clock its steps count (``step``, ``epoch`` or ``record`` order)."""

    records: int
    skipped: int
    note: str = ""
    clock: str = "step"


class Reader(ABC):
    """Reads one input format into a ``Sink``."""

    #: Name shown in reports (``inputs[].reader``).
    name: ClassVar[str]
    #: Directory readers claim folders; the rest claim files.
    reads_directories: ClassVar[bool] = False
    #: Lower is asked first: a specific format (``trainer_state.json``) must be asked before
    #: a general one that would also claim its suffix (any ``.json`` config), and free text
    #: last. Import order cannot express this once imports are sorted.
    priority: ClassVar[int] = 50

    @classmethod
    @abstractmethod
    def claims(cls, path: Path) -> bool:
        """Whether this reader understands ``path``."""

    @abstractmethod
    def read(self, path: Path, sink: Sink) -> ReadStats:
        """Stream ``path`` into ``sink``; never raise on bad content."""


READERS: list[type[Reader]] = []


def register(cls: type[Reader]) -> type[Reader]:
    """Class decorator: add a reader; lower ``priority`` is asked first, then registration
    order."""
    READERS.append(cls)
    READERS.sort(key=lambda reader: reader.priority)  # stable: ties keep registration order
    return cls


def head_bytes(path: Path, size: int = 512) -> bytes:
    """The first bytes of a file, to sniff its format; unreadable → InputError."""
    try:
        with path.open("rb") as handle:
            return handle.read(size)
    except OSError as err:
        raise InputError(
            f"{path}: cannot read it ({err.strerror or err}); check the path"
        ) from None


def text_lines(path: Path) -> Iterator[str]:
    """The lines of a text file, decoded leniently (a log cut mid-character is still a log)."""
    try:
        handle = path.open("r", encoding="utf-8", errors="replace", newline=None)
    except OSError as err:
        raise InputError(
            f"{path}: cannot read it ({err.strerror or err}); check the path"
        ) from None
    with handle:
        yield from handle
