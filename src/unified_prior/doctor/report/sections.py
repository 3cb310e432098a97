"""The report's content once, as sections of paragraphs, tables and code; the text,
Markdown and HTML renderers only lay it out."""

from __future__ import annotations

from dataclasses import dataclass, field

from unified_prior.doctor.diagnose import Report
from unified_prior.doctor.evidence import MIN_POINTS
from unified_prior.doctor.findings import Finding, fmt_lr, fmt_step


@dataclass
class Block:
    kind: str  # "p", "table", "code", "list"
    text: str = ""
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    lang: str = ""


@dataclass
class Section:
    title: str
    blocks: list[Block]
    anchor: str = ""


def _finding(report: Report, code: str) -> Finding | None:
    return next((f for f in report.findings if f.code == code), None)


VERDICT_WORDS = {
    "applied": "follows the declared schedule",
    "warmup_differs": "follows the declared schedule after its warmup, not during it",
    "constant": "stayed constant while the declared schedule moves",
    "time_factor": "is the declared schedule run at a different speed",
    "value_factor": "is the declared schedule scaled by a constant",
    "restart": "restarted the schedule at a resume",
    "jump": "jumped off the schedule at a resume",
    "mismatch": "does not follow the declared schedule",
    "unknown": "could not be compared (no declared schedule or no LR evidence)",
}


def headline(report: Report) -> str:
    errors = sum(f.severity == "error" for f in report.findings)
    warnings = sum(f.severity == "warning" for f in report.findings)
    if not errors and not warnings:
        if report.status == "not enough data":
            return (
                f"Not enough data: {report.loss_points} finite loss point(s); at least "
                f"{MIN_POINTS} are needed to judge the trajectory, so this run is not called "
                "healthy."
            )
        return "Healthy: no warning or error."
    top = next(f for f in report.findings if f.severity in ("error", "warning"))
    return f"{errors} error(s), {warnings} warning(s). First: {top.code} {top.title}."


def _parts(report: Report, metric: str) -> list[list[str]]:
    """The logged parts of ``metric`` (``val_loss/val/box_loss`` …), each with its own best
    and last value, so several eval losses read the same whatever the format."""
    rows = []
    for name, series in sorted(report.evidence.series.items()):
        if not name.startswith(metric + "/"):
            continue
        finite = series.finite()
        if not len(finite):
            continue
        best = int(finite.values.argmin())
        rows.append(
            [
                name[len(metric) + 1 :],
                fmt_step(finite.steps[best]),
                f"{finite.values[best]:.4g}",
                f"{finite.values[-1]:.4g}",
            ]
        )
    return rows


def build_sections(report: Report) -> list[Section]:
    ev = report.evidence
    sections: list[Section] = []

    # Configuration claims vs reality.
    blocks: list[Block] = []
    declared = report.declared
    if declared is None:
        blocks.append(
            Block(
                "p",
                "No declared schedule was found (no metrics header, no framework config "
                "with schedule keys, no --expect).",
            )
        )
    else:
        claim = (
            declared.plan.describe() if declared.plan else f"{declared.kind} ({declared.problem})"
        )
        blocks.append(Block("p", f"Declared ({declared.source}): {claim}."))
        if declared.assumed:
            blocks.append(
                Block(
                    "p", "Assumed where the config is silent: " + "; ".join(declared.assumed) + "."
                )
            )
    inferred = report.extras.get("inferred_schedule")
    if inferred and (declared is None or declared.plan is None):
        verdict = "it looks intended" if inferred["looks_intended"] else "it does not look intended"
        blocks.append(
            Block(
                "p",
                f"What the LR did ({inferred.get('source') or 'logged LR'}): "
                f"{inferred['summary']}. Read off the series alone, {verdict}"
                + (f": {inferred['why']}." if inferred.get("why") else "."),
            )
        )
    lr_f = report.lr_verdict
    lr_series = ev.get("lr")
    sources = []
    if lr_series is not None:
        sources.append(f"{len(lr_series)} logged LR points")
    ck = [c for c in ev.usable_checkpoints if c.lr is not None]
    if ck:
        sources.append(f"{len(ck)} checkpoint optimizer states")
    blocks.append(
        Block(
            "p",
            f"Applied LR ({', '.join(sources) or 'no evidence'}): {VERDICT_WORDS.get(lr_f, lr_f)}.",
        )
    )
    if ck:
        rows = [
            [
                c.path.name,
                fmt_step(c.step or 0),
                ", ".join(fmt_lr(v) for v in c.group_lrs[:3]),
                "yes" if any(v is not None for v in c.group_initial_lrs) else "no",
                "yes" if c.has_scheduler_state else "no",
                "yes" if c.plan else "no",
                fmt_lr(declared.plan.lr_at(c.lr_step or 0)) if declared and declared.plan else "–",
            ]
            for c in ck[:40]
        ]
        blocks.append(
            Block(
                "table",
                header=[
                    "checkpoint",
                    "step",
                    "group lr",
                    "initial_lr",
                    "scheduler state",
                    "plan",
                    "declared lr",
                ],
                rows=rows,
            )
        )
    for code in ("LR001", "LR002", "LR003", "LR004", "CKP101"):
        f = _finding(report, code)
        if f is not None:
            blocks.append(Block("p", f"{f.code} ({f.severity}): {f.message}"))
    script_findings = [f for f in report.findings if f.evidence.get("source") == "uprior audit"]
    if script_findings:
        blocks.append(
            Block("list", items=[f"{f.code} ({f.severity}): {f.message}" for f in script_findings])
        )
    sections.append(Section("Configuration claims vs reality", blocks, "claims"))

    # Trajectory.
    blocks = []
    traj = report.trajectory
    if traj is None:
        blocks.append(Block("p", "No loss series with at least 3 finite points was found."))
    else:
        rows = [
            ["first", fmt_step(traj.raw.steps[0]), f"{traj.first_loss:.4g}"],
            ["best", fmt_step(traj.best_step), f"{traj.best_loss:.4g}"],
        ]
        if traj.diverged and traj.onset_step is not None:
            rows.append(
                [
                    f"divergence onset ({traj.onset_level[1]})",
                    fmt_step(traj.onset_step),
                    f"{traj.value_at(traj.onset_step):.4g}",
                ]
            )
        rows.append(["last", fmt_step(traj.final_step), f"{traj.final_loss:.4g}"])
        blocks.append(
            Block(
                "p",
                f"{traj.metric}: {len(traj.raw)} finite points, smoothed with "
                "bin medians and a running median.",
            )
        )
        clock = getattr(report.evidence, "step_unit", "step")
        blocks.append(
            Block(
                "table",
                header=[
                    "point",
                    "epoch" if clock == "epoch" else "step",
                    f"smoothed {traj.metric}",
                ],
                rows=rows,
            )
        )
        parts = _parts(report, traj.metric)
        if parts:
            blocks.append(
                Block(
                    "table",
                    header=[f"part of {traj.metric}", "best step", "best", "last"],
                    rows=parts,
                )
            )
    for code in ("RUN001", "RUN002", "RUN003", "RUN004"):
        f = _finding(report, code)
        if f is not None:
            blocks.append(Block("p", f"{f.code} ({f.severity}): {f.message}"))
    if ev.resumes:
        blocks.append(
            Block(
                "p",
                "Resumes: "
                + ", ".join(
                    f"step {fmt_step(r.step)}" + (f" ({r.policy})" if r.policy else "")
                    for r in ev.resumes
                )
                + ".",
            )
        )
    sections.append(Section("Trajectory", blocks, "trajectory"))

    # Counterfactual.
    blocks = []
    f = _finding(report, "INF002")
    if f is None:
        blocks.append(
            Block(
                "p",
                "Nothing to compare: "
                + (
                    "the run applied its declared schedule and shows no failure."
                    if lr_f == "applied"
                    else "a declared plan and applied-LR evidence are both needed."
                ),
            )
        )
    else:
        rows = [
            [
                fmt_step(r["step"]),
                r["label"],
                fmt_lr(r["declared_lr"]),
                fmt_lr(r["applied_lr"]),
                f"{r['ratio']:.4g}" if r["ratio"] is not None else "–",
            ]
            for r in f.evidence["key_steps"]
        ]
        blocks.append(
            Block(
                "table",
                header=["step", "what", "declared LR", "applied LR", "declared / applied"],
                rows=rows,
            )
        )
        blocks.append(Block("p", str(f.evidence["statement"])))
    sections.append(Section("What the declared schedule would have done", blocks, "counterfactual"))

    # Best checkpoint.
    f = _finding(report, "INF001")
    blocks = [
        Block(
            "p",
            f.message
            if f is not None
            else f"No best checkpoint: {report.best.get('checkpoint_reason')}.",
        )
    ]
    sections.append(Section("Best checkpoint", blocks, "best"))

    # Recommendation.
    rec = report.recommendation
    blocks = [Block("p", rec.summary)]
    if rec.options:
        blocks.append(
            Block(
                "table",
                header=["option", "supported", "why"],
                rows=[
                    [o["name"], "yes" if o["supported"] else "no", o["why"]] for o in rec.options
                ],
            )
        )
    if rec.commands:
        blocks.append(Block("code", "\n".join(rec.commands), lang="bash"))
    if rec.snippet:
        blocks.append(Block("code", rec.snippet, lang="python"))
    sections.append(Section("Recommendation", blocks, "recommendation"))

    # Findings and inputs.
    rows = [[f.severity, f.code, f.title] for f in report.findings]
    sections.append(
        Section(
            "Findings",
            [Block("table", header=["severity", "code", "title"], rows=rows)]
            if rows
            else [Block("p", "No findings.")],
            "findings",
        )
    )
    rows = [[i.path, i.reader, str(i.records), str(i.skipped), i.note] for i in ev.inputs]
    sections.append(
        Section(
            "Inputs",
            [Block("table", header=["path", "reader", "records", "skipped", "note"], rows=rows)],
            "inputs",
        )
    )
    return sections
