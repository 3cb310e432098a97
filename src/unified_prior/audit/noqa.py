"""``# noqa`` / ``# noqa: CODE[, CODE]`` comments, read with :mod:`tokenize` (not regexes,
so a ``"# noqa"`` inside a string suppresses nothing)."""

from __future__ import annotations

import io
import re
import tokenize

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*))?", re.I)

#: Per line: None = suppress everything, else the set of suppressed codes.
NoqaMap = dict[int, "frozenset[str] | None"]


def noqa_lines(source: str) -> NoqaMap:
    """Map each line carrying a noqa comment to the codes it suppresses."""
    out: NoqaMap = {}
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            match = _NOQA.search(tok.string)
            if match is None:
                continue
            codes = match.group("codes")
            out[tok.start[0]] = (
                None
                if codes is None
                else frozenset(c.upper() for c in re.split(r"[\s,]+", codes) if c)
            )
    except (tokenize.TokenError, SyntaxError):
        pass  # the file already parsed with ast; an odd tokenizer edge case suppresses nothing
    return out


def suppressed(noqa: NoqaMap, line: int, code: str) -> bool:
    if line not in noqa:
        return False
    codes = noqa[line]
    return codes is None or code in codes
