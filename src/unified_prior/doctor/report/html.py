"""Self-contained HTML report: one file, inline CSS, plots embedded as ``data:`` PNGs, no
script, and a Content-Security-Policy that forbids loading anything from anywhere else, so it
can be mailed, attached to an issue or opened offline and look the same.

The content comes from ``sections.build_sections`` (shared with the text and Markdown
reports); this module adds the layout: a summary strip, the findings up front, each
finding's paragraph as a call-out, and the plots beside the section they illustrate.
"""

from __future__ import annotations

import base64
import re
from html import escape

from unified_prior.doctor.diagnose import Report
from unified_prior.doctor.findings import Finding, fmt_step
from unified_prior.doctor.report.plots import loss_plot, lr_plot
from unified_prior.doctor.report.sections import VERDICT_WORDS, Block, build_sections, headline

#: Tables longer than this scroll inside their box instead of pushing the plots down a page.
SCROLL_ROWS = 12

_CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

_CSS = """
:root{--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--soft:#f6f8fa;--accent:#0969da;
--err:#cf222e;--err-bg:#ffebe9;--warn:#9a6700;--warn-bg:#fff8c5;--info:#0969da;--info-bg:#ddf4ff;
--ok:#1a7f37;--ok-bg:#dafbe1}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#eef1f4;color:var(--fg);
font:15px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:1.5rem 1rem 3rem}
.page{background:#fff;border:1px solid var(--line);border-radius:10px;padding:1.75rem 2rem}
header.top{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;
flex-wrap:wrap;border-bottom:1px solid var(--line);padding-bottom:.9rem;margin-bottom:1rem}
.brand{font-size:.8rem;letter-spacing:.08em;text-transform:uppercase;color:var(--muted);
font-weight:600}
h1{font-size:1.55rem;margin:.1rem 0 0;line-height:1.25}
h2{font-size:1.2rem;margin:2.2rem 0 .8rem;padding-bottom:.35rem;border-bottom:1px solid var(--line)}
h2 a{color:inherit;text-decoration:none}
.inputs{color:var(--muted);font-size:.85rem;margin:.2rem 0 0;word-break:break-all}
code{font:.86em/1.4 ui-monospace,SFMono-Regular,'SF Mono',Menlo,Consolas,monospace;
background:var(--soft);border-radius:4px;padding:.08em .3em}
.banner{display:flex;gap:.7rem;align-items:center;border-radius:8px;padding:.75rem 1rem;
font-weight:600;margin:0 0 1.1rem;border:1px solid}
.banner.error{background:var(--err-bg);color:#82071e;border-color:#ffcecb}
.banner.warning{background:var(--warn-bg);color:#4d2d00;border-color:#f5e0a0}
.banner.info{background:var(--ok-bg);color:#116329;border-color:#aceebb}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(190px,1fr));gap:.75rem;
margin:0 0 1.2rem}
.card{border:1px solid var(--line);border-radius:8px;padding:.65rem .85rem;background:#fff;
min-width:0;overflow-wrap:anywhere}
.card .k{font-size:.72rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
font-weight:600}
.card .v{font-size:1.15rem;font-weight:650;margin-top:.15rem;line-height:1.3}
.card .v.long{font-size:.95rem}
.card .s{font-size:.8rem;color:var(--muted);margin-top:.15rem;word-break:break-word}
.card.bad{border-left:4px solid var(--err)}.card.warn{border-left:4px solid #d4a72c}
.card.good{border-left:4px solid var(--ok)}
nav.toc{font-size:.85rem;color:var(--muted);margin:.2rem 0 0}
nav.toc a{color:var(--accent);text-decoration:none;margin-right:1rem;white-space:nowrap}
.badge{display:inline-block;font-size:.72rem;font-weight:700;letter-spacing:.04em;
text-transform:uppercase;border-radius:999px;padding:.12em .6em;line-height:1.5;
vertical-align:.08em;white-space:nowrap}
.badge.error{background:var(--err-bg);color:var(--err)}
.badge.warning{background:var(--warn-bg);color:var(--warn)}
.badge.info{background:var(--info-bg);color:var(--info)}
.badge.healthy{background:#fff;color:var(--ok);border:1px solid #aceebb}
.code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-weight:600}
.callout{border:1px solid var(--line);border-left-width:4px;border-radius:6px;
padding:.6rem .9rem;margin:.8rem 0;background:#fff}
.callout.error{border-left-color:var(--err)}.callout.warning{border-left-color:#d4a72c}
.callout.info{border-left-color:var(--info)}
.callout .head{display:flex;gap:.55rem;align-items:center;flex-wrap:wrap;margin-bottom:.25rem}
.callout .title{font-weight:600}
.callout p{margin:.2rem 0 0}
.summary{background:#f0f7ff;border:1px solid #b6d7ff;border-radius:8px;padding:.75rem 1rem;
margin:.8rem 0}
.tablewrap{overflow:auto;border:1px solid var(--line);border-radius:6px;margin:.7rem 0;
max-width:100%}
.tablewrap.scroll{max-height:24rem}
table{border-collapse:collapse;width:100%;font-size:.86rem}
th,td{padding:.38rem .65rem;text-align:left;vertical-align:top;border-bottom:1px solid #eaeef2}
th{background:var(--soft);font-weight:600;position:sticky;top:0;z-index:1;
border-bottom:1px solid var(--line);white-space:nowrap}
tbody tr:nth-child(even) td{background:#fbfcfd}
tbody tr:last-child td{border-bottom:0}
table.findings td:nth-child(-n+2),table.findings th:nth-child(-n+2){width:1%;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.path{word-break:break-all}
pre{background:#0d1117;color:#e6edf3;border-radius:8px;padding:.9rem 1rem;overflow-x:auto;
font-size:.82rem;line-height:1.5;margin:.4rem 0 1rem}
pre code{background:none;padding:0;color:inherit;font-size:inherit}
.codehead{font-size:.72rem;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);
font-weight:600;margin-top:.9rem}
figure{margin:1.1rem 0;border:1px solid var(--line);border-radius:8px;padding:.6rem;
background:#fff}
figure img{display:block;max-width:100%;height:auto;margin:0 auto}
figcaption{font-size:.82rem;color:var(--muted);margin:.4rem .2rem 0}
ul{padding-left:1.3rem}
footer{color:var(--muted);font-size:.8rem;margin-top:2.5rem;border-top:1px solid var(--line);
padding-top:.8rem}
@media print{body{background:#fff}main{padding:0}.page{border:0;padding:0}
.tablewrap.scroll{max-height:none;overflow:visible}th{position:static}
figure,.callout,.card{break-inside:avoid}}
"""

#: Plain numbers, steps with thousands separators, LRs, ratios, "–" placeholders.
_NUMERIC = re.compile(r"^(?:[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:e[-+]?\d+)?%?|–|-)$")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")


def _text(value: str) -> str:
    """Escaped text with Markdown-style `code` spans (what the shared sections use) as code."""
    return _INLINE_CODE.sub(r"<code>\1</code>", escape(value))


def _badge(severity: str) -> str:
    return f'<span class="badge {escape(severity)}">{escape(severity)}</span>'


def _img(png: bytes | None, alt: str, caption: str) -> str:
    if png is None:
        return ""
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _callout(finding: Finding, ids: set[str]) -> str:
    # The first call-out of a code gets the anchor; a script can yield one code many times.
    anchor = f"finding-{finding.code}"
    id_attr = "" if anchor in ids else f' id="{escape(anchor)}"'
    ids.add(anchor)
    return (
        f'<div class="callout {escape(finding.severity)}"{id_attr}>'
        f'<div class="head">{_badge(finding.severity)}'
        f'<span class="code">{escape(finding.code)}</span>'
        f'<span class="title">{_text(finding.title)}</span></div>'
        f"<p>{_text(finding.message)}</p></div>"
    )


def _table(block: Block) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in block.header)
    severity_column = block.header[:1] == ["severity"]
    body = []
    for row in block.rows:
        cells = []
        for i, cell in enumerate(row):
            if i == 0 and severity_column:
                cells.append(f"<td>{_badge(cell)}</td>")
            elif _NUMERIC.match(cell.strip()):
                cells.append(f'<td class="num">{escape(cell)}</td>')
            elif "/" in cell and " " not in cell:
                cells.append(f'<td class="path">{escape(cell)}</td>')
            else:
                cells.append(f"<td>{_text(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    wrap = "tablewrap scroll" if len(block.rows) > SCROLL_ROWS else "tablewrap"
    return (
        f'<div class="{wrap}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _block(block: Block, callouts: dict[str, Finding], summary: str, ids: set[str]) -> str:
    if block.kind == "p" and block.text == summary:
        return f'<p class="summary">{_text(block.text)}</p>'
    if block.kind == "p":
        finding = callouts.get(block.text)
        return _callout(finding, ids) if finding is not None else f"<p>{_text(block.text)}</p>"
    if block.kind == "list":
        items = []
        for item in block.items:
            finding = callouts.get(item)
            items.append(
                _callout(finding, ids) if finding is not None else f"<li>{_text(item)}</li>"
            )
        if all(item in callouts for item in block.items):
            return "".join(items)
        return "<ul>" + "".join(items) + "</ul>"
    if block.kind == "code":
        label = f'<div class="codehead">{escape(block.lang)}</div>' if block.lang else ""
        return (
            f'{label}<pre><code class="language-{escape(block.lang)}">'
            f"{escape(block.text)}</code></pre>"
        )
    if block.kind == "table":
        return _table(block)
    return f"<p>{_text(block.text)}</p>"


def _card(key: str, value: str, sub: str = "", tone: str = "") -> str:
    # A file name does not fit a card at the headline size; it wraps anywhere at a smaller one.
    size = " long" if len(value) > 18 else ""
    return (
        f'<div class="card {tone}"><div class="k">{escape(key)}</div>'
        f'<div class="v{size}">{escape(value)}</div>'
        + (f'<div class="s">{escape(sub)}</div>' if sub else "")
        + "</div>"
    )


def _cards(report: Report) -> str:
    counts = {s: sum(f.severity == s for f in report.findings) for s in ("error", "warning")}
    cards = [
        _card(
            "Findings",
            f"{counts['error']} error(s), {counts['warning']} warning(s)",
            f"{len(report.findings)} in all; exit code {report.exit_code}",
            "bad" if counts["error"] else "warn" if counts["warning"] else "good",
        )
    ]
    verdict = report.lr_verdict
    cards.append(
        _card(
            "Applied LR",
            {"applied": "follows the plan", "unknown": "not compared"}.get(verdict, "off the plan"),
            VERDICT_WORDS.get(verdict, verdict),
            "good" if verdict == "applied" else "" if verdict == "unknown" else "bad",
        )
    )
    traj = report.trajectory
    if traj is not None:
        cards.append(
            _card(
                f"Best {traj.metric}",
                f"{traj.best_loss:.4g}",
                f"at step {fmt_step(traj.best_step)} (smoothed); last {traj.final_loss:.4g}",
            )
        )
        if traj.diverged and traj.onset_step is not None:
            cards.append(
                _card(
                    "Divergence",
                    f"from step {fmt_step(traj.onset_step)}",
                    f"{traj.final_loss / traj.best_loss:.3g}× the best by step "
                    f"{fmt_step(traj.final_step)}"
                    if traj.best_loss > 0
                    else f"until step {fmt_step(traj.final_step)}",
                    "bad",
                )
            )
        else:
            cards.append(_card("Divergence", "none", "the loss did not rise after its best"))
    checkpoint = report.best.get("checkpoint")
    if checkpoint:
        name = str(checkpoint).replace("\\", "/").rsplit("/", 1)[-1]
        step = report.best.get("checkpoint_step")
        cards.append(
            _card(
                "Best checkpoint",
                name,
                f"step {fmt_step(step)}" if step is not None else "",
                "good",
            )
        )
    return '<div class="cards">' + "".join(cards) + "</div>"


def _findings_table(report: Report) -> str:
    if not report.findings:
        return "<p>No findings.</p>"
    rows = "".join(
        f"<tr><td>{_badge(f.severity)}</td>"
        f'<td class="code">{escape(f.code)}</td><td>{_text(f.title)}</td></tr>'
        for f in report.findings
    )
    return (
        '<div class="tablewrap"><table class="findings"><thead><tr><th>severity</th><th>code</th>'
        f"<th>finding</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _marks(report: Report) -> list[str]:
    """What both plots mark besides their curves, as caption phrases."""
    marks = []
    traj = report.trajectory
    if traj is not None and traj.diverged and traj.onset_step is not None:
        marks.append(f"the red band is the divergence from step {fmt_step(traj.onset_step)}")
    if report.evidence.resumes:
        marks.append("purple dash-dot lines are resumes")
    if report.evidence.usable_checkpoints:
        marks.append("triangles on the step axis are checkpoints")
    if report.best.get("checkpoint"):
        marks.append("the green line is the best checkpoint on disk")
    return marks


def _sentence(parts: list[str]) -> str:
    """Phrases joined into one caption sentence."""
    text = "; ".join(p for p in parts if p)
    return text[:1].upper() + text[1:] + "." if text else ""


def _lr_caption(report: Report) -> str:
    from unified_prior.doctor.analysis import applied_lr

    curves = []
    if applied_lr(report.evidence) is not None:
        curves.append("applied LR (orange)")
    if report.declared is not None and report.declared.plan is not None:
        curves.append("the declared plan (dashed)")
    marks = _marks(report)
    if report.trajectory is not None:
        marks.insert(0, "the dotted green line is the best loss")
    return _sentence([" against ".join(curves), *marks])


def _loss_caption(report: Report) -> str:
    traj = report.trajectory
    if traj is None:
        return ""
    scale = "log axis" if (traj.raw.values > 0).all() else "linear axis (it reaches ≤ 0)"
    head = f"{traj.metric} on a {scale}: raw (faint) and smoothed (bold), the best point green"
    return _sentence([head, *_marks(report)])


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document."""
    worst = (
        "error"
        if report.exit_code
        else ("warning" if any(f.severity == "warning" for f in report.findings) else "info")
    )
    # The shared sections print each finding as "CODE (severity): message"; those paragraphs
    # become call-outs here. Matching the whole text (not a pattern) keeps any other
    # paragraph that merely starts like one a paragraph.
    callouts = {f"{f.code} ({f.severity}): {f.message}": f for f in report.findings}
    sections = [s for s in build_sections(report) if s.anchor != "findings"]
    plots = {
        "claims": _img(
            lr_plot(report),
            "Applied learning rate against the declared plan",
            _lr_caption(report),
        ),
        "trajectory": _img(
            loss_plot(report),
            "Loss with the best point and the divergence marked",
            _loss_caption(report),
        ),
    }
    toc = [("findings", "Findings")] + [(s.anchor, s.title) for s in sections if s.anchor]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        # Browsers otherwise request /favicon.ico; an empty data: icon keeps the file offline.
        '<link rel="icon" href="data:,">',
        "<title>uprior doctor report</title>",
        f'<style>{_CSS}</style></head><body><main><div class="page">',
        '<header class="top"><div><div class="brand">uprior doctor</div>',
        "<h1>Training-run diagnosis</h1>",
        '<p class="inputs">Inputs: '
        + ", ".join(f"<code>{escape(str(p))}</code>" for p in report.paths)
        + "</p></div>",
        '<nav class="toc">'
        + "".join(f'<a href="#{escape(a)}">{escape(t)}</a>' for a, t in toc)
        + "</nav></header>",
        f'<div class="banner {worst}">{_badge("healthy" if worst == "info" else worst)}'
        f"<span>{_text(headline(report))}</span></div>",
        _cards(report),
        '<h2 id="findings"><a href="#findings">Findings</a></h2>',
        _findings_table(report),
    ]
    summary = report.recommendation.summary
    ids: set[str] = set()
    for section in sections:
        anchor = escape(section.anchor)
        parts.append(f'<h2 id="{anchor}"><a href="#{anchor}">{escape(section.title)}</a></h2>')
        parts.extend(_block(block, callouts, summary, ids) for block in section.blocks)
        parts.append(plots.get(section.anchor, ""))
    parts.append(
        "<footer>Written by <code>uprior doctor</code>. This file is self-contained: "
        "no scripts, no external resources; the plots are embedded PNG images.</footer>"
    )
    parts.append("</div></main></body></html>")
    return "\n".join(parts)
