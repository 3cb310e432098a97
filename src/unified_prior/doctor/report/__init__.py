"""Report renderers: text (rich), Markdown, self-contained HTML, JSON (DESIGN §7)."""

from __future__ import annotations

from pathlib import Path

from unified_prior.doctor.diagnose import Report
from unified_prior.errors import InputError

FORMATS = ("text", "md", "html", "json")
FILE_NAMES = {"text": "report.txt", "md": "report.md", "html": "report.html", "json": "report.json"}


def render(report: Report, fmt: str) -> str:
    """The report in ``fmt`` (one of ``FORMATS``)."""
    if fmt == "text":
        from unified_prior.doctor.report.text import render_text

        return render_text(report)
    if fmt == "md":
        from unified_prior.doctor.report.markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from unified_prior.doctor.report.html import render_html

        return render_html(report)
    if fmt == "json":
        from unified_prior.doctor.report.json_report import render_json

        return render_json(report)
    raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")


def write_reports(report: Report, out_dir: Path) -> dict[str, Path]:
    """Write all four formats into ``out_dir``; returns format → path."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--out {out_dir}: cannot create it ({err.strerror or err})") from None
    written = {}
    for fmt in FORMATS:
        path = out_dir / FILE_NAMES[fmt]
        path.write_text(render(report, fmt), encoding="utf-8")
        written[fmt] = path
    return written
