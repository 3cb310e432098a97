"""Find the scripts, parse them, run the rules, apply selection and ``# noqa``.

The audited code is only ever *parsed*: :func:`ast.parse` on its text. Nothing in it is
imported, compiled to bytecode or executed.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from unified_prior.audit.finding import Finding
from unified_prior.audit.noqa import noqa_lines, suppressed
from unified_prior.audit.rules import RULES
from unified_prior.audit.script import ScriptFacts
from unified_prior.errors import InputError

#: Folders never entered when recursing (virtualenvs are also recognised by ``pyvenv.cfg``).
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "site-packages", ".eggs", "build", "dist"}
)  # fmt: skip
#: Not rules: a file that cannot be read or parsed is reported under these codes.
SYNTAX_ERROR = "E999"
READ_ERROR = "E902"


def resolve_codes(codes: Collection[str] | None, option: str) -> set[str] | None:
    """Expand ``SCH`` / ``SCH00`` prefixes to rule codes; unknown ones are input errors."""
    if codes is None:
        return None
    out: set[str] = set()
    for raw in codes:
        code = raw.strip().upper()
        if not code:
            continue
        if code == "ALL":
            out.update(RULES)
            continue
        matched = {c for c in RULES if c.startswith(code)}
        if not matched:
            raise InputError(
                f"{option} {raw!r}: no audit rule has that code or prefix; "
                f"choose from {', '.join(sorted(RULES))}"
            )
        out.update(matched)
    return out


def iter_python_files(paths: Sequence[str | Path]) -> Iterator[Path]:
    """Files named on the command line as given; folders recursively, ``*.py`` only,
    skipping version-control folders and virtualenvs. Sorted for stable output."""
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputError(f"{raw}: no such file or folder; pass a training script or a folder")
        if path.is_file():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in SKIP_DIRS
                and not d.endswith(".egg-info")
                and not (Path(root, d, "pyvenv.cfg")).exists()
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    yield Path(root, name)


def audit_source(
    source: str, path: str = "<string>", *, select: set[str] | None = None,
    ignore: set[str] | None = None,
) -> list[Finding]:  # fmt: skip
    """Audit one script's text. ``select``/``ignore`` hold exact rule codes."""
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as err:
        line = getattr(err, "lineno", None) or 1
        col = getattr(err, "offset", None) or 1
        msg = getattr(err, "msg", str(err))
        return [
            Finding(path, line, col, SYNTAX_ERROR, "error", f"SyntaxError: {msg}; file not audited")
        ]
    facts = ScriptFacts(path, source, tree)
    findings: list[Finding] = []
    for code, rule in RULES.items():
        if (select is not None and code not in select) or (ignore and code in ignore):
            continue
        findings.extend(rule.check(facts))
    if findings and "noqa" in source.lower():
        # Tokenizing costs as much as parsing: do it only when there is something to suppress.
        noqa = noqa_lines(source)
        findings = [f for f in findings if not suppressed(noqa, f.line, f.code)]
    return sorted(set(findings), key=Finding.sort_key)


def audit_paths(
    paths: Sequence[str | Path],
    *,
    select: Collection[str] | None = None,
    ignore: Collection[str] | None = None,
) -> list[Finding]:
    """Audit files and folders; raise :class:`InputError` for a missing path or bad code.

    A file that cannot be decoded or parsed yields one ``E902``/``E999`` finding for that
    file instead of stopping the audit.
    """
    selected = resolve_codes(select, "--select")
    ignored = resolve_codes(ignore, "--ignore")
    findings: list[Finding] = []
    for file in iter_python_files(paths):
        try:
            source = file.read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            findings.append(Finding(str(file), 1, 1, READ_ERROR, "error", f"cannot read: {err}"))
            continue
        findings.extend(audit_source(source, str(file), select=selected, ignore=ignored))
    return findings
