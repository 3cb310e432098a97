"""The doctor: reads any run (ours or foreign) and writes the expert's analysis.

``diagnose(paths, script=None, expect=None)`` returns a ``Report``; ``write_reports(report,
out_dir)`` writes it as text, Markdown, self-contained HTML and JSON. The doctor never
imports the trainer (DESIGN §2), so it stays light and works on foreign runs.
"""

from unified_prior.doctor.diagnose import Report, diagnose
from unified_prior.doctor.findings import Finding
from unified_prior.doctor.report import render, write_reports

__all__ = ["Finding", "Report", "diagnose", "render", "write_reports"]
