"""Errors that the command line turns into one line on stderr and exit code 2."""

from __future__ import annotations

import errno
import io
import pickle
import pickletools
import re
import shutil
import zipfile
from pathlib import Path


class InputError(Exception):
    """Bad input (config, path, file): the message names the input and the fix."""


class WriteError(InputError):
    """A file of the run could not be written (disk full, permissions, ...): one line naming
    the file, with the space needed and free when the disk is full."""


#: Modules whose globals torch's weights-only unpickler may accept; anything else in a
#: pickle is what it refused (the fallback when torch's message does not name it).
_TENSOR_MODULES = ("torch", "collections", "_codecs")


def load_error_reason(err: BaseException, path: Path | str | None = None) -> str:
    """One line saying why ``torch.load(weights_only=True)`` failed.

    torch's own messages run to a dozen lines (advice about ``weights_only=False``, which we
    must never follow for data files), and the CLI prints errors as one line. When the file
    holds a global that may not be loaded (``posix.system``...), the line names it: from
    torch's message where it says it (its wording differs between releases), else from the
    pickle's GLOBAL opcodes, read with ``pickletools`` (which never runs them).
    """
    text = str(err)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if isinstance(err, pickle.UnpicklingError):
        named = re.search(r"GLOBAL ([\w.]+)", text)
        forbidden = named.group(1) if named else None
        if forbidden is None and path is not None:
            forbidden = next(iter(foreign_globals(path)), None)
        if forbidden is not None:
            return f"unsafe pickle: it refers to {forbidden}, which weights_only=True never loads"
        # torch puts the actual cause after "WeightsUnpickler error:", often on a later line.
        found = re.search(r"WeightsUnpickler error:\s*(\S[^\n.]*)", text)
        cause = found.group(1).strip() if found else ""
        if cause.startswith("Unsupported operand"):  # not a pickle stream torch can read
            return f"not a torch.save file: {cause}"
        return f"holds more than tensors and plain containers: {cause}" if cause else first[:120]
    if isinstance(err, EOFError) or "zip archive" in text or "central directory" in text:
        return "truncated or not a torch.save file"
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__


def foreign_globals(path: Path | str, limit_bytes: int = 64 << 20) -> list[str]:
    """``module.name`` of each global a pickle (or torch zip file) refers to outside torch,
    in order; read with ``pickletools.genops``, so nothing is imported or called."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit_bytes)
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
                data = archive.read(name) if name else b""
    except (OSError, zipfile.BadZipFile, KeyError, ValueError):
        return []
    found: list[str] = []
    strings: list[str] = []  # strings pushed so far: STACK_GLOBAL takes module and name
    memo: dict[int, str] = {}  # memo slots that hold strings
    slots = 0  # MEMOIZE numbers every memoized object, strings or not
    last: str | None = None  # the string on top of the stack, if the last push was one
    try:
        for opcode, arg, _ in pickletools.genops(data):
            name = opcode.name
            if name in ("BINPUT", "LONG_BINPUT", "PUT", "MEMOIZE"):  # push nothing
                slot = slots if name == "MEMOIZE" else arg
                slots += name == "MEMOIZE"
                if last is not None and isinstance(slot, int):
                    memo[slot] = last
                continue
            last = None
            if name in ("GLOBAL", "INST"):
                module, _, attr = str(arg).partition(" ")
                found.append(f"{module}.{attr}")
            elif name == "STACK_GLOBAL" and len(strings) >= 2:
                found.append(f"{strings[-2]}.{strings[-1]}")
            elif "UNICODE" in name and isinstance(arg, str):
                last = arg
            elif name in ("BINGET", "LONG_BINGET", "GET") and isinstance(arg, int):
                last = memo.get(arg)
            if last is not None:
                strings.append(last)
    except Exception:  # genops stops at junk; what was found until then stands
        pass
    return [g for g in found if g.split(".", 1)[0] not in _TENSOR_MODULES]


def write_error(err: OSError, path: Path | str, needed_bytes: int | None = None) -> WriteError:
    """A one-line ``WriteError`` for an OS error while writing ``path``."""
    reason = err.strerror or type(err).__name__
    message = f"cannot write {path}: {reason}"
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        folder = Path(path).parent
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            free = f"{_size(shutil.disk_usage(folder).free)} free"
        except OSError:
            free = "free space unknown"
        need = f"needs about {_size(needed_bytes)}, " if needed_bytes else ""
        message += f" ({need}{free} on {folder}); free space there or choose another --out"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        message += "; choose an --out you can write to"
    return WriteError(message)


def _size(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


def os_error_in(err: BaseException) -> OSError | None:
    """The first OS error behind ``err``: itself, or one it was raised while handling (torch's
    writer turns a failed ``write`` into a RuntimeError raised while the OSError is handled)."""
    seen: set[int] = set()
    found: OSError | None = None
    node: BaseException | None = err
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError) and node.errno is not None:
            found = node  # keep walking: the innermost is the cause
        node = node.__cause__ or node.__context__
    return found


def nbytes(value: object) -> int:
    """Bytes of the tensors in a nested state (what a ``torch.save`` of it needs, roughly)."""
    import torch

    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(nbytes(v) for v in value)
    return 0
