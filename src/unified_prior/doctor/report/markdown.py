"""Markdown report."""

from __future__ import annotations

from unified_prior.doctor.diagnose import Report
from unified_prior.doctor.report.sections import build_sections, headline


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Report) -> str:
    lines = [
        "# uprior doctor report",
        "",
        f"**{headline(report)}**",
        "",
        "Inputs: " + ", ".join(f"`{p}`" for p in report.paths),
        "",
    ]
    for section in build_sections(report):
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if block.kind == "p":
                lines += [block.text, ""]
            elif block.kind == "list":
                lines += [f"- {item}" for item in block.items] + [""]
            elif block.kind == "code":
                lines += [f"```{block.lang}", block.text.rstrip("\n"), "```", ""]
            elif block.kind == "table":
                lines.append("| " + " | ".join(_cell(h) for h in block.header) + " |")
                lines.append("|" + "---|" * len(block.header))
                lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
                lines.append("")
    return "\n".join(lines)
