"""The run that started the project, re-created on disk: the doctor must write the analysis
that was written by hand, and be right where it was wrong (DESIGN §1).

Declared: cosine, 20K warmup, peak 1e-4, 450K steps. Applied: 1e-4 throughout (the loop
never built a scheduler). Loss 6.0 → 0.06 at 25K → 6.74 at 90K. The declared plan gives
9.9967e-5 at 25K and 9.3666e-5 at 90K, so the missing decay alone cannot explain the
divergence.
"""

from __future__ import annotations

import json
import math

import pytest
from doctor_builders import ORIGINAL_CONFIG, tiny_model_and_adamw, write_original_checkpoints

from unified_prior.doctor import diagnose, render
from unified_prior.doctor.report.json_report import render_json


@pytest.fixture(scope="module")
def report(original_run):
    return diagnose([original_run.log, original_run.checkpoints])


def _finding(report, code):
    found = [f for f in report.findings if f.code == code]
    assert found, f"no {code} in {[f.code for f in report.findings]}"
    return found[0]


def test_readers_see_the_whole_original_run(report, original_run) -> None:
    ev = report.evidence
    loss = ev.series["loss"]
    assert len(loss) == 181  # steps 0, 500, …, 90,000
    assert loss.steps[0] == 0 and loss.steps[-1] == 90_000
    assert loss.values[0] == pytest.approx(6.0)
    assert loss.value_at(25_000) == pytest.approx(0.06, rel=1e-5)
    assert loss.values[-1] == pytest.approx(6.74, rel=1e-5)
    # "Validation Loss: …" lines carry no step: they belong to the step logged just before.
    val = ev.series["val_loss"]
    assert val.steps.tolist() == list(range(5000, 90_001, 5000))
    assert val.value_at(25_000) == pytest.approx(1.1 * 0.06, rel=1e-4)
    assert len(ev.usable_checkpoints) == 18
    assert {c.layout for c in ev.usable_checkpoints} == {"model_state_dict/optimizer_state_dict"}
    assert all(c.group_lrs == [1e-4] for c in ev.usable_checkpoints)
    assert report.declared is not None and report.declared.plan is not None
    assert report.declared.source.startswith("config in ")


def test_declared_plan_numbers_match_design(report) -> None:
    plan = report.declared.plan
    assert plan.lr_at(0) == pytest.approx(1e-6)
    assert plan.lr_at(20_000) == pytest.approx(1e-4)
    assert plan.lr_at(25_000) == pytest.approx(9.9967e-5, rel=1e-4)
    assert plan.lr_at(90_000) == pytest.approx(9.3666e-5, rel=1e-4)
    assert plan.lr_at(450_000) == pytest.approx(1e-6)


def test_lr001_schedule_not_applied(report) -> None:
    f = _finding(report, "LR001")
    assert f.severity == "error"
    assert "1e-04" in f.title
    assert "initial_lr" in f.message and "18 checkpoint(s)" in f.message
    assert f.evidence["applied_min"] == f.evidence["applied_max"] == pytest.approx(1e-4)
    assert len(f.evidence["checkpoints_without_scheduler"]) == 18
    assert report.lr_verdict == "constant"


def test_run001_divergence_after_the_best_point_near_25k(report) -> None:
    f = _finding(report, "RUN001")
    assert f.severity == "error"
    best = f.evidence["best_step"]
    assert abs(best - 25_000) <= 0.02 * 25_000
    # Judged on the validation loss the log carries (1.1× the train loss here); the train
    # loss rose as well, so this is a divergence, not overfitting.
    assert f.evidence["metric"] == "val_loss" and f.evidence["kind"] == "divergence"
    assert f.evidence["best_loss"] == pytest.approx(1.1 * 0.06, rel=0.05)
    assert f.evidence["final_step"] == 90_000
    assert f.evidence["final_loss"] == pytest.approx(1.1 * 6.74, rel=0.15)
    assert f.evidence["train_at_best"] == pytest.approx(0.06, rel=0.1)
    assert f.evidence["rise_factor"] > 50
    # 2× the best (0.12) is reached 65K·ln 2/ln(6.74/0.06) ≈ 9.5K steps after 25K.
    assert 32_000 <= f.evidence["onset_step"] <= 37_000
    assert f.evidence["lasted_steps"] == 90_000 - f.evidence["onset_step"]
    assert report.best["step"] == best


def test_inf001_names_the_25k_checkpoint(report) -> None:
    f = _finding(report, "INF001")
    assert f.evidence["step"] == 25_000
    assert f.evidence["path"].endswith("checkpoint_step_025000.pth")
    assert "checkpoint_step_025000.pth" in f.message
    assert report.best["checkpoint"].endswith("checkpoint_step_025000.pth")


def test_inf002_counterfactual_with_the_design_numbers(report) -> None:
    f = _finding(report, "INF002")
    rows = {r["step"]: r for r in f.evidence["key_steps"]}
    assert rows[90_000]["declared_lr"] == pytest.approx(9.3666e-5, rel=1e-4)
    assert rows[90_000]["applied_lr"] == pytest.approx(1e-4)
    assert rows[90_000]["ratio"] == pytest.approx(0.93666, rel=1e-4)
    assert rows[20_000]["ratio"] == pytest.approx(1.0)  # end of declared warmup
    best = report.best["step"]
    assert rows[best]["ratio"] == pytest.approx(report.declared.plan.lr_at(best) / 1e-4, rel=1e-9)
    assert rows[best]["ratio"] > 0.9996
    assert f.evidence["explains"] == "does not explain"
    statement = f.evidence["statement"]
    assert "does NOT explain" in statement
    assert "0.937" in statement
    assert "0.937" in f"{rows[90_000]['ratio']:.3g}"


def test_recommendation_lowers_the_peak_lr(report) -> None:
    rec = report.recommendation
    assert rec.peak_lr is not None and rec.peak_lr < 1e-4
    assert rec.peak_lr == pytest.approx(3e-5)
    assert rec.start_step == 25_000
    assert rec.start_checkpoint.endswith("checkpoint_step_025000.pth")
    declared_option = next(o for o in rec.options if o["name"] == "resume on the declared plan")
    assert declared_option["supported"] is False
    assert declared_option["lr_at_resume"] == pytest.approx(9.9967e-5, rel=1e-4)
    lower = next(o for o in rec.options if o["name"] == "resume with a lower peak LR")
    assert lower["supported"] is True
    assert "3e-05" in rec.summary
    # A foreign run gets a snippet: one closed-form LambdaLR, never two schedulers.
    assert rec.snippet is not None and "LambdaLR" in rec.snippet
    assert "SequentialLR" not in rec.snippet and rec.snippet.count("lr_scheduler.") == 2
    compile(rec.snippet, "snippet.py", "exec")


def test_snippet_lr_at_resume_and_end(report) -> None:
    namespace: dict = {}
    exec(report.recommendation.snippet, namespace)
    factor = namespace["lr_factor"]
    assert factor(25_000) == pytest.approx(1.0)
    assert factor(450_000) == pytest.approx(0.01)


def test_exit_code_and_every_format_renders(report) -> None:
    assert report.exit_code == 1
    text = render(report, "text")
    assert "LR001" in text and "RUN001" in text and "INF002" in text
    md = render(report, "md")
    for title in (
        "## Configuration claims vs reality",
        "## Trajectory",
        "## What the declared schedule would have done",
        "## Best checkpoint",
        "## Recommendation",
    ):
        assert title in md
    data = json.loads(render_json(report))
    assert data["best"]["checkpoint"].endswith("checkpoint_step_025000.pth")


def test_checkpoints_alone_are_evidence_enough(original_run) -> None:
    report = diagnose([original_run.checkpoints])
    assert "loss" not in report.evidence.series
    codes = {f.code for f in report.findings}
    assert "LR001" in codes and "CKP101" in codes
    lr001 = next(f for f in report.findings if f.code == "LR001")
    assert lr001.evidence["observations"] == 18
    assert "optimizer param groups of 18 checkpoint(s)" in lr001.evidence["applied_source"]
    # The stored train_loss is a trajectory too: best at 25K, divergence after it.
    assert report.trajectory is not None and report.trajectory.metric == "checkpoint train_loss"
    assert "RUN001" in codes
    assert report.best["checkpoint"].endswith("checkpoint_step_025000.pth")


def test_single_checkpoint_shows_lr001_from_the_optimizer_state(original_run) -> None:
    report = diagnose([original_run.checkpoints / "checkpoint_step_090000.pth"])
    lr001 = next(f for f in report.findings if f.code == "LR001")
    assert lr001.evidence["observations"] == 1
    assert lr001.evidence["plan_at"]["90000"] == pytest.approx(9.3666e-5, rel=1e-4)
    assert not math.isnan(lr001.evidence["applied_max"])


def test_log_alone_with_expect_gives_the_same_counterfactual(original_run) -> None:
    # No LR evidence in the log: the verdict stays unknown, but the trajectory is read.
    report = diagnose([original_run.log], expect="cosine lr=1e-4 warmup=20000 max_steps=450000")
    codes = {f.code for f in report.findings}
    assert "RUN001" in codes and "LR001" not in codes
    assert report.lr_verdict == "unknown"


def test_lr001_even_when_the_config_gives_no_length(tmp_path) -> None:
    """Without max_steps the plan cannot be evaluated, yet a constant LR in checkpoints with
    no scheduler trace still proves that the declared cosine never ran."""
    config = {k: v for k, v in ORIGINAL_CONFIG.items() if k != "max_steps"}
    write_original_checkpoints(tmp_path / "checkpoints", config)
    report = diagnose([tmp_path / "checkpoints"])
    assert report.declared is not None and report.declared.plan is None
    assert "max_steps" in (report.declared.problem or "")
    lr001 = next(f for f in report.findings if f.code == "LR001")
    assert "a cosine schedule (no max_steps declared" in lr001.message
    assert "INF002" not in {f.code for f in report.findings}  # nothing to compare against


def test_constant_lr_from_checkpoints_that_had_a_scheduler_is_not_lr001(tmp_path) -> None:
    """A torch scheduler writes ``initial_lr`` into the groups: then a constant LR over a few
    checkpoints with an unknown length is not proof that the schedule never ran."""
    import torch

    config = {k: v for k, v in ORIGINAL_CONFIG.items() if k != "max_steps"}
    model, optimizer = tiny_model_and_adamw(1e-4)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    for step in (5000, 10_000, 15_000):
        torch.save(
            {
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "scheduler_state_dict": scheduler.state_dict(),
                "step": step,
                "config": config,
                "train_loss": 1.0,
            },
            tmp_path / f"checkpoint_step_{step:06d}.pth",
        )
    report = diagnose([tmp_path])
    codes = {f.code for f in report.findings}
    assert "LR001" not in codes and "CKP101" not in codes
