"""Terminal report with rich: colour on a terminal, plain text in ``report.txt``."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from unified_prior.doctor.diagnose import Report
from unified_prior.doctor.report.sections import build_sections, headline

_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def print_text(report: Report, console: Console) -> None:
    """Print the report to ``console``."""
    worst = (
        "error"
        if report.exit_code
        else ("warning" if any(f.severity == "warning" for f in report.findings) else "info")
    )
    console.rule("[bold]uprior doctor")
    console.print(f"[{_STYLE[worst]}]{escape(headline(report))}")
    for section in build_sections(report):
        console.rule(escape(section.title), align="left")
        for block in section.blocks:
            if block.kind == "p":
                console.print(escape(block.text), highlight=False)
            elif block.kind == "list":
                for item in block.items:
                    console.print(f" • {escape(item)}", highlight=False)
            elif block.kind == "code":
                console.print(escape(block.text.rstrip("\n")), highlight=False, soft_wrap=True)
            elif block.kind == "table":
                table = Table(show_lines=False)
                for name in block.header:
                    table.add_column(escape(name), overflow="fold")
                for row in block.rows:
                    cells = [escape(c) for c in row]
                    if block.header[:1] == ["severity"] and cells:
                        cells[0] = f"[{_STYLE.get(row[0], '')}]{cells[0]}"
                    table.add_row(*cells)
                console.print(table)
        console.print()


def render_text(report: Report, width: int = 120) -> str:
    """The report as plain text (no colour codes)."""
    buffer = io.StringIO()
    print_text(
        report,
        Console(file=buffer, width=width, color_system=None, no_color=True, force_terminal=False),
    )
    return buffer.getvalue()
