"""``uprior audit``: statically find configuration a training script claims but does not apply."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from unified_prior.errors import InputError

_FORMATS = ("text", "json", "sarif")


def _codes(values: list[str] | None) -> list[str] | None:
    """``--select SCH001,OPT`` and repeated ``--select`` both work."""
    if values is None:
        return None
    return [code for value in values for code in value.split(",") if code.strip()]


def audit(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Training scripts or folders; a folder is audited as one project (its own "
            "imports resolved, the YAML/JSON/TOML configs its scripts load read as claims)."
        ),
    ],
    output_format: Annotated[
        str, typer.Option("--format", help="Output: text | json | sarif (SARIF 2.1.0).")
    ] = "text",
    select: Annotated[
        list[str] | None,
        typer.Option("--select", help="Only these codes or prefixes, e.g. SCH,OPT001."),
    ] = None,
    ignore: Annotated[
        list[str] | None, typer.Option("--ignore", help="Skip these codes or prefixes.")
    ] = None,
) -> None:
    """Find configuration that training scripts claim but never apply.

    Static: scripts are parsed with ast, never imported or run. A file that cannot be read
    (E902: not a regular file, undecodable), parsed (E999) or analysed (E998: nested too
    deep) is one finding; the others are still audited. Exit 1 when anything is found, 2 on
    bad input.
    """
    from unified_prior.audit import audit_paths
    from unified_prior.audit.output import FORMATS

    if output_format not in FORMATS:
        raise InputError(f"--format {output_format!r}: choose one of {', '.join(_FORMATS)}")
    findings = audit_paths(paths, select=_codes(select), ignore=_codes(ignore))
    sys.stdout.write(FORMATS[output_format](findings))
    sys.stdout.flush()
    if findings:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
