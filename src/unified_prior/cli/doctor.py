"""``uprior doctor``: read any run (logs, checkpoints, our run directory) and print the analysis."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from unified_prior.errors import InputError

_FORMATS = ("text", "md", "html", "json")


def doctor(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Run directories, log files (text, CSV, JSONL, TensorBoard, "
            "trainer_state.json), checkpoints or folders of them.",
            # The doctor names an unreadable path in one line itself (exit 2).
            readable=False,
        ),
    ],
    script: Annotated[
        Path | None,
        typer.Option(
            "--script", help="The training script: add `uprior audit`'s findings.", readable=False
        ),
    ] = None,
    expect: Annotated[
        str | None,
        typer.Option(
            "--expect",
            help='The declared schedule, e.g. "cosine lr=1e-4 warmup=20000 max_steps=450000".',
        ),
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="Printed report: text | md | html | json.")
    ] = "text",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Also write report.txt/.md/.html/.json into this folder."),
    ] = None,
) -> None:
    """Compare the LR a run applied with the one it declared; find the best checkpoint.

    Exit 1 when a finding is at error severity, 2 on unreadable input.
    """
    from unified_prior.doctor import diagnose, render, write_reports

    if output_format not in _FORMATS:
        raise InputError(f"--format {output_format!r}: choose one of {', '.join(_FORMATS)}")
    report = diagnose(paths, script=script, expect=expect)
    if output_format == "text" and sys.stdout.isatty():
        # Colour on a terminal; render() gives the same report as plain text otherwise.
        from rich.console import Console

        from unified_prior.doctor.report.text import print_text

        print_text(report, Console())
    else:
        sys.stdout.write(render(report, output_format))
        sys.stdout.flush()
    if out is not None:
        written = write_reports(report, out)
        print(f"reports written: {', '.join(str(p) for p in written.values())}", file=sys.stderr)
    if report.exit_code:
        raise typer.Exit(report.exit_code)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
