"""Stage 1: read a file safely and parse it; nothing in it is imported, compiled or run.

Every way a file can fail to become a syntax tree is one finding for that file, never an
exception that stops the audit of the others:

* ``E902``: not read. Only regular files are opened (a ``.py`` that is a FIFO, a device or a
  symlink to one, e.g. ``/dev/zero``, would block or never end), files over
  :data:`MAX_BYTES` are skipped, and the text is decoded with its PEP 263 declaration
  (``# -*- coding: latin-1 -*-``) or a BOM, as Python itself would;
* ``E999``: a syntax error, with its line and column;
* ``E998``: valid code too deeply nested to analyse (``a+a+…`` 3,000 terms long, a 3,000-branch
  ``elif`` chain, nested lambdas): CPython's parser itself raises ``RecursionError`` or
  ``MemoryError`` on those, and so may the model's walks over a tree that just fits.
"""

from __future__ import annotations

import ast
import io
import os
import stat
import tokenize
from dataclasses import dataclass
from pathlib import Path

from unified_prior.audit.finding import Finding

SYNTAX_ERROR = "E999"
TOO_DEEP = "E998"
READ_ERROR = "E902"
#: Larger "scripts" are generated or data: reading them would cost more than auditing the rest.
MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Parsed:
    """A file's decoded text and syntax tree."""

    path: str
    source: str
    tree: ast.Module


def problem(path: str, code: str, message: str, line: int = 1, col: int = 1) -> Finding:
    return Finding(path, line, col, code, "error", message)


def read_source(path: Path) -> str | Finding:
    """The decoded text of a regular file, or the ``E902`` finding that says why not."""
    try:
        info = os.stat(path)  # follows symlinks: a link to /dev/zero is a device here
    except OSError as err:
        return problem(str(path), READ_ERROR, f"cannot read: {err.strerror or err}")
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "not a regular file"
        return problem(str(path), READ_ERROR, f"skipped: {kind} (only regular files are read)")
    if info.st_size > MAX_BYTES:
        return problem(
            str(path),
            READ_ERROR,
            f"skipped: {info.st_size:,} bytes, over the {MAX_BYTES:,}-byte limit for a script",
        )
    try:
        # O_NONBLOCK: should the file be swapped for a FIFO after the stat, open() returns
        # at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as err:
        return problem(str(path), READ_ERROR, f"cannot read: {err.strerror or err}")
    return decode(data, str(path))


def decode(data: bytes, path: str) -> str | Finding:
    """Decode like Python does: a BOM or a PEP 263 coding line, else UTF-8."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as err:
        return problem(path, READ_ERROR, f"cannot decode: {err}")


def parse_source(source: str, path: str) -> Parsed | Finding:
    """The syntax tree, or the ``E999``/``E998`` finding for this file."""
    try:
        return Parsed(path, source, ast.parse(source, filename=path))
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None) or 1
        col = getattr(err, "offset", None) or 1
        msg = getattr(err, "msg", str(err))
        return problem(path, SYNTAX_ERROR, f"SyntaxError: {msg}; file not audited", line, col)
    except (RecursionError, MemoryError):
        return too_deep(path)


def too_deep(path: str) -> Finding:
    return problem(
        path,
        TOO_DEEP,
        "too deep to analyse: expressions or blocks nested beyond what the parser and the "
        "analysis can follow; file not audited (the other files are)",
    )
