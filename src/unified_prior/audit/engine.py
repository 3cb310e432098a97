"""Find the scripts, build each project, run the rules, apply selection and ``# noqa``.

The stages: :mod:`.parse` (safe read, decode, parse) → :mod:`.project` (a folder's modules and
config files) → :mod:`.model` (symbols, calls, flows, objects) → :mod:`.claims` (containers,
config files, keys) → :mod:`.script` (each use of a claim classified) → :mod:`.rules`.

The audited code is only ever *parsed*: :func:`ast.parse` on its text. Nothing in it is
imported, compiled to bytecode or executed.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

from unified_prior.audit.finding import Finding
from unified_prior.audit.noqa import noqa_lines, suppressed
from unified_prior.audit.parse import READ_ERROR, SYNTAX_ERROR, TOO_DEEP, parse_source, too_deep
from unified_prior.audit.rules import RULES
from unified_prior.audit.script import ScriptFacts
from unified_prior.errors import InputError

#: Folders never entered when recursing (virtualenvs are also recognised by ``pyvenv.cfg``).
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", ".venv", "venv", ".tox", ".nox", "__pycache__", "node_modules",
     ".mypy_cache", ".ruff_cache", ".pytest_cache", "site-packages", ".eggs", "build", "dist"}
)  # fmt: skip
__all__ = [
    "READ_ERROR",
    "SYNTAX_ERROR",
    "TOO_DEEP",
    "audit_paths",
    "audit_source",
    "iter_python_files",
    "resolve_codes",
    "run_rules",
]


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
    skipping version-control folders and virtualenvs. Sorted for stable output. Symlinked
    folders are not entered (``os.walk`` default), so a link cycle cannot loop; a ``.py``
    that is not a regular file is yielded and skipped with a note by the reader."""
    for raw in paths:
        path = Path(raw)
        if not path.exists() and not path.is_symlink():
            raise InputError(f"{raw}: no such file or folder; pass a training script or a folder")
        if not path.is_dir():
            yield path
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in SKIP_DIRS
                and not d.endswith(".egg-info")
                and not Path(root, d).is_symlink()
                and not (Path(root, d, "pyvenv.cfg")).exists()
            )
            for name in sorted(files):
                if name.endswith(".py"):
                    yield Path(root, name)


def run_rules(
    facts: ScriptFacts, *, select: Collection[str] | None = None,
    ignore: Collection[str] | None = None,
) -> list[Finding]:  # fmt: skip
    """Run the selected rules on one file's model, then apply ``# noqa``."""
    findings: list[Finding] = []
    for code, rule in RULES.items():
        if (select is not None and code not in select) or (ignore and code in ignore):
            continue
        findings.extend(rule.check(facts))
    if findings and "noqa" in facts.source.lower():
        # Tokenizing costs as much as parsing: do it only when there is something to suppress.
        noqa = noqa_lines(facts.source)
        findings = [
            f for f in findings if f.path != facts.path or not suppressed(noqa, f.line, f.code)
        ]
    return sorted(set(findings), key=Finding.sort_key)


def audit_source(
    source: str, path: str = "<string>", *, select: set[str] | None = None,
    ignore: set[str] | None = None,
) -> list[Finding]:  # fmt: skip
    """Audit one script's text. ``select``/``ignore`` hold exact rule codes."""
    parsed = parse_source(source, path)
    if isinstance(parsed, Finding):
        return [parsed]
    try:
        return run_rules(ScriptFacts(path, source, parsed.tree), select=select, ignore=ignore)
    except (RecursionError, MemoryError):
        return [too_deep(path)]


def audit_paths(
    paths: Sequence[str | Path],
    *,
    select: Collection[str] | None = None,
    ignore: Collection[str] | None = None,
) -> list[Finding]:
    """Audit files and folders; raise :class:`InputError` for a missing path or bad code.

    Each folder is one project (its own imports resolved, its config files read); each file
    named alone is a project of one. A file that cannot be read, decoded, parsed or analysed
    yields one ``E902``/``E999``/``E998`` finding instead of stopping the audit.
    """
    from unified_prior.audit.project import Project

    selected = resolve_codes(select, "--select")
    ignored = resolve_codes(ignore, "--ignore")
    findings: list[Finding] = []
    for raw in paths:
        path = Path(raw)
        files = list(iter_python_files([path]))
        project = Project(path if path.is_dir() else None, files)
        findings.extend(project.audit(selected, ignored))
    return findings
