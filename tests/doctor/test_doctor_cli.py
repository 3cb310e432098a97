"""``uprior doctor`` as a user runs it: a subprocess on files written here; exit codes 0/1/2,
the JSON report's DESIGN §7 shape, ``--out`` and ``--script``."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from doctor_builders import cosine_plan, write_run_dir

pytestmark = pytest.mark.slow  # each test launches the CLI


def uprior(*args: str | Path, without_dac: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "unified_prior", "doctor", *map(str, args)]
    if without_dac:
        # Root reads anything: drop the capabilities that override file permissions (and
        # stay root, so the checkout and its venv, wherever they are, remain readable).
        command = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_original_run_json_report_has_the_design_shape(original_run) -> None:
    result = uprior(original_run.root, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    assert {"version", "inputs", "declared_schedule", "series", "best", "findings"} <= set(data)
    assert set(data["recommendation"]) >= {"summary", "commands"}
    assert data["series"]["loss"] == 181 and data["series"]["val_loss"] == 18
    assert data["series"]["lr"] == 0 and data["series"]["checkpoints"] == 18
    assert data["declared_schedule"]["kind"] == "cosine"
    assert data["declared_schedule"]["plan"][0]["total_steps"] == 450_000
    assert set(data["best"]) >= {"step", "loss", "checkpoint"}
    assert data["best"]["checkpoint"].endswith("checkpoint_step_025000.pth")
    assert all(
        set(f) == {"code", "severity", "title", "message", "evidence", "steps", "action"}
        and f["severity"] in ("error", "warning", "info")
        for f in data["findings"]
    )
    # Every warning and error says what to do, and its message ends with it.
    for f in data["findings"]:
        if f["severity"] != "info":
            assert f["action"] and f["message"].endswith(f["action"][1:]), f["code"]
            assert "What to do: " in f["message"]
    assert data["status"] == "problems"
    codes = [f["code"] for f in data["findings"]]
    assert {"LR001", "RUN001", "INF001", "INF002"} <= set(codes)
    # Errors first: the report is read top down.
    severities = [f["severity"] for f in data["findings"]]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    inputs = {Path(i["path"]).name: i for i in data["inputs"]}
    assert inputs["train.log"]["reader"] == "text-log" and inputs["train.log"]["skipped"] == 19


def test_out_writes_every_format(original_run, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = uprior(original_run.log, original_run.checkpoints, "--format", "md", "--out", out)
    assert result.returncode == 1, result.stderr
    assert result.stdout.startswith("# uprior doctor report")
    files = sorted(p.name for p in out.iterdir())
    assert files == ["report.html", "report.json", "report.md", "report.txt"]
    assert json.loads((out / "report.json").read_text())["exit_code"] == 1
    assert (out / "report.md").read_text() == result.stdout
    assert "LR001" in (out / "report.txt").read_text()
    assert (out / "report.html").read_text().lstrip().lower().startswith("<!doctype html>")
    assert str(out / "report.html") in result.stderr


def test_healthy_run_exits_0_with_a_text_report(tmp_path: Path) -> None:
    plan = cosine_plan(1e-3, warmup=100, max_steps=1000)
    run = write_run_dir(tmp_path / "run", plan, last_step=1000)
    result = uprior(run)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Healthy: no warning or error." in result.stdout
    assert "follows the declared schedule" in result.stdout


def test_missing_path_exits_2_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_run"
    result = uprior(missing)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"uprior: error: {missing}: no such file or directory; pass a log, run or checkpoint"
    )
    assert result.stdout == ""


def test_a_log_with_no_metric_says_what_was_tried_and_expected(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text("starting the run\nloading data from /data/imagenet\n")
    result = uprior(log)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert str(log) in line
    assert "tried 2 lines" in line
    assert "'starting the run'" in line  # the first line tried, to compare with the log
    assert "expected lines like" in line


def test_corrupt_checkpoint_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "checkpoint_step_001000.pt"
    bad.write_bytes(b"PK\x03\x04 this is not a torch zip file")
    result = uprior(bad)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"uprior: error: {bad}: not a loadable checkpoint")


def test_unreadable_file_exits_2_naming_it() -> None:
    root = os.geteuid() == 0
    if root and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    folder = Path(tempfile.mkdtemp(prefix="uprior-doctor-"))
    try:
        log = folder / "train.log"
        log.write_text("step 1 | loss 2.0\n")
        log.chmod(0o000)
        locked = folder / "locked"
        (locked / "inner").mkdir(parents=True)
        locked.chmod(0o000)
        result = uprior(log, without_dac=root)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"uprior: error: {log}: cannot read it (Permission denied); check the path"
        )
        result = uprior(folder, without_dac=root)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (
            f"uprior: error: {locked}: cannot list it (Permission denied); check its permissions"
        )
    finally:
        locked.chmod(0o755)
        shutil.rmtree(folder)


def test_socket_in_place_of_a_log_exits_2_naming_it(tmp_path: Path) -> None:
    """A path that exists but that nobody, root included, can open as a file."""
    path = tmp_path / "train.log"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        result = uprior(path)
    finally:
        server.close()
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"uprior: error: {path}: cannot read it (")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--format", "pdf"), "--format 'pdf': choose one of text, md, html, json"),
        (("--expect", "sawtooth lr=1"), "--expect: unknown schedule kind 'sawtooth'"),
        (("--script", "nope.py"), "--script nope.py: no such file"),
    ],
)
def test_bad_options_exit_2(original_run, args: tuple[str, ...], says: str) -> None:
    result = uprior(original_run.log, *args)
    assert result.returncode == 2
    assert says in result.stderr and "Traceback" not in result.stderr


def test_expect_on_the_command_line_declares_the_schedule(original_run) -> None:
    result = uprior(
        original_run.checkpoints / "checkpoint_step_090000.pth",
        "--expect",
        "cosine lr=1e-4 warmup=20000 max_steps=450000",
        "--format",
        "json",
    )
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["declared_schedule"]["source"] == "--expect"
    lr001 = next(f for f in data["findings"] if f["code"] == "LR001")
    assert lr001["evidence"]["plan_at"]["90000"] == pytest.approx(9.3666e-5, rel=1e-4)


ORIGINAL_SCRIPT = """
import torch

config = {
    "learning_rate": 1e-4,
    "max_steps": 450000,
    "lr_scheduler": "cosine",
    "warmup_steps": 20000,
}


def train(model, loader):
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["learning_rate"])
    step = 0
    for batch in loader:
        optimizer.zero_grad()
        loss = model(batch).mean()
        loss.backward()
        optimizer.step()
        step += 1
        if step % 5000 == 0:
            torch.save({"model_state_dict": model.state_dict(), "step": step}, f"ck_{step}.pth")


if __name__ == "__main__":
    train(torch.nn.Linear(4, 1), [torch.randn(2, 4)])
"""


def test_script_adds_the_audit_findings(original_run, tmp_path: Path) -> None:
    script = tmp_path / "train_unified_prior_clean.py"
    script.write_text(ORIGINAL_SCRIPT)
    result = uprior(original_run.root, "--script", script, "--format", "json")
    assert result.returncode == 1, result.stderr
    data = json.loads(result.stdout)
    by_code = {f["code"]: f for f in data["findings"]}
    assert "LR001" in by_code and "SCH001" in by_code
    sch = by_code["SCH001"]
    assert sch["evidence"]["source"] == "uprior audit"
    assert sch["evidence"]["path"] == str(script)
    where = f"{script}:{sch['evidence']['line']}:{sch['evidence']['col']}: "
    assert sch["message"].startswith(where) and ". Fix: " in sch["message"]
    assert sch["severity"] == "error"
    text = uprior(original_run.root, "--script", script).stdout
    assert "SCH001" in text and "LR001" in text
