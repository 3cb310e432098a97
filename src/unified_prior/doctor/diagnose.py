"""``diagnose``: read the inputs, find the declared schedule, run every check, recommend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from unified_prior.doctor.actions import with_actions
from unified_prior.doctor.analysis import Trajectory
from unified_prior.doctor.checks import Context, run_checks
from unified_prior.doctor.checks.checkpoints import best_checkpoint
from unified_prior.doctor.checks.inferred import describe as describe_inferred
from unified_prior.doctor.checks.lr import lr_verdict
from unified_prior.doctor.declared import Declared, find_declared
from unified_prior.doctor.evidence import METRICS, MIN_POINTS, Evidence
from unified_prior.doctor.findings import SEVERITY_ORDER, Finding
from unified_prior.doctor.readers import explain_unreadable, read_inputs
from unified_prior.doctor.recommend import Recommendation, recommend
from unified_prior.errors import InputError

REPORT_VERSION = "1"


@dataclass
class Report:
    """The doctor's analysis of one run; rendered by ``doctor.report``."""

    paths: list[Path]
    evidence: Evidence
    declared: Declared | None
    trajectory: Trajectory | None
    findings: list[Finding]
    recommendation: Recommendation
    best: dict[str, Any]
    lr_verdict: str
    script: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``problems`` (a warning or error), ``not enough data`` (too few loss points to
        judge a trajectory: never called healthy), else ``healthy``."""
        if any(f.severity in ("error", "warning") for f in self.findings):
            return "problems"
        if self.loss_points < MIN_POINTS:
            return "not enough data"
        return "healthy"

    @property
    def loss_points(self) -> int:
        """Finite points of the best-covered loss: the trajectory may be judged on a short
        eval loss while the train loss has enough points to call the run healthy."""
        counts = [
            len(s.finite()) for n in ("loss", "val_loss") if (s := self.evidence.get(n)) is not None
        ]
        if self.trajectory is not None:
            counts.append(len(self.trajectory.raw))
        return max(counts, default=0)

    @property
    def exit_code(self) -> int:
        """1 when any finding is an error, else 0."""
        return 1 if any(f.severity == "error" for f in self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON report of DESIGN §7."""
        ev = self.evidence
        series = {name: len(ev.series[name]) if name in ev.series else 0 for name in METRICS}
        series["checkpoints"] = len(ev.usable_checkpoints)
        return {
            "version": REPORT_VERSION,
            "inputs": [i.to_dict() for i in ev.inputs],
            "declared_schedule": self.declared.to_dict() if self.declared else None,
            "series": series,
            "best": self.best,
            "status": self.status,
            "loss_points": self.loss_points,
            "lr_verdict": self.lr_verdict,
            "inferred_schedule": self.extras.get("inferred_schedule"),
            "resumes": [
                {"step": r.step, "source": r.source, "policy": r.policy} for r in ev.resumes
            ],
            "findings": [f.to_dict() for f in self.findings],
            "recommendation": self.recommendation.to_dict(),
            "exit_code": self.exit_code,
        }


def diagnose(
    paths: Sequence[Path], *, script: Path | None = None, expect: str | None = None
) -> Report:
    """Analyse the run(s) at ``paths``; ``script`` adds ``uprior audit``'s static findings."""
    if not paths:
        raise InputError("doctor: give at least one PATH (a run directory, log or checkpoint)")
    paths = [Path(p) for p in paths]
    evidence = read_inputs(paths)
    if not evidence.series and not evidence.usable_checkpoints:
        names = ", ".join(str(p) for p in paths)
        raise InputError(f"{names}: {explain_unreadable(evidence)}")
    declared = find_declared(evidence, expect)
    ctx = Context(evidence, declared)
    findings = run_checks(ctx)
    if script is not None:
        findings.extend(audit_script(script))
    findings = with_actions(ctx, findings)
    findings.sort(key=lambda f: (SEVERITY_ORDER[f.severity], f.code))
    traj = ctx.trajectory
    chosen, why = best_checkpoint(ctx)
    best: dict[str, Any] = {
        "step": traj.best_step if traj else None,
        "loss": traj.best_loss if traj else None,
        "metric": traj.metric if traj else None,
        "checkpoint": str(chosen.path) if chosen is not None else None,
        "checkpoint_step": chosen.step if chosen is not None else None,
        "checkpoint_reason": why,
    }
    return Report(
        paths,
        evidence,
        ctx.declared,
        traj,
        findings,
        recommend(ctx, findings),
        best,
        lr_verdict(ctx).kind,
        script,
        extras={"inferred_schedule": describe_inferred(ctx)},
    )


def audit_script(script: Path) -> list[Finding]:
    """``uprior audit``'s findings on the training script, as doctor findings."""
    if not script.is_file():
        raise InputError(f"--script {script}: no such file; pass the training script")
    try:
        from unified_prior.audit import audit_paths
    except ImportError:
        raise InputError(
            "--script needs the audit package (unified_prior.audit), which this install lacks"
        ) from None
    found = []
    for item in audit_paths([script]):
        data = item.to_dict()
        where = f"{data.get('path')}:{data.get('line')}:{data.get('col')}"
        text = str(data.get("message", "")).strip()
        if data.get("fix"):
            text = text.rstrip(".") + f". Fix: {data['fix']}"
        found.append(
            Finding(
                code=str(data["code"]),
                severity=data.get("severity", "warning"),
                title=f"{where}: {text.splitlines()[0][:120] if text else ''}",
                message=f"{where}: {text}",
                evidence={"source": "uprior audit", **data},
            )
        )
    return found
