"""Errors that the command line turns into one line on stderr and exit code 2."""

from __future__ import annotations

import pickle
import re


class InputError(Exception):
    """Bad input (config, path, file): the message names the input and the fix."""


def load_error_reason(err: BaseException) -> str:
    """One line saying why ``torch.load(weights_only=True)`` failed.

    torch's own messages run to a dozen lines (advice about ``weights_only=False``, which we
    must never follow for data files), and the CLI prints errors as one line.
    """
    text = str(err)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if isinstance(err, pickle.UnpicklingError):
        # torch puts the actual cause after "WeightsUnpickler error:", often on a later line.
        found = re.search(r"WeightsUnpickler error:\s*(\S[^\n.]*)", text)
        cause = found.group(1).strip() if found else ""
        if cause.startswith("Unsupported operand"):  # not a pickle stream at all
            return f"not a torch.save file: {cause}"
        return f"holds more than tensors and plain containers: {cause}" if cause else first[:120]
    if isinstance(err, EOFError) or "zip archive" in text or "central directory" in text:
        return "truncated or not a torch.save file"
    return f"{type(err).__name__}: {first[:200]}" if first else type(err).__name__
