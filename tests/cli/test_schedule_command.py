"""``uprior schedule`` as a user runs it: a real subprocess, its stdout, exit code and PNG."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ORIGINAL = [
    "--set", "schedule.kind=cosine",
    "--set", "optim.learning_rate=1e-4",
    "--set", "schedule.warmup_steps=20000",
    "--set", "schedule.warmup_start_factor=0.01",
    "--set", "schedule.min_lr_ratio=0.01",
    "--set", "train.max_steps=450000",
]  # fmt: skip


def uprior(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unified_prior", *args], capture_output=True, text=True, timeout=120
    )


def design_formula(step: int) -> float:
    """DESIGN §3 written out independently of the package."""
    w, t, f0, r, peak = 20_000, 450_000, 0.01, 0.01, 1e-4
    if step < w:
        return peak * (f0 + (1 - f0) * step / w)
    return peak * (r + (1 - r) * 0.5 * (1 + math.cos(math.pi * (step - w) / (t - w))))


def test_json_prints_the_designs_numbers() -> None:
    steps = [0, 10_000, 20_000, 25_000, 90_000, 225_000, 450_000]
    result = uprior("schedule", *ORIGINAL, "--at", ",".join(map(str, steps)), "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["step"] for r in rows] == steps
    printed = [1.000000e-06, 5.050000e-05, 1.000000e-04, 9.996698e-05, 9.366645e-05]
    printed += [5.411327e-05, 1.000000e-06]
    for row, expected in zip(rows, printed, strict=True):
        assert row["lr"] == pytest.approx(design_formula(row["step"]), rel=1e-9)
        assert f"{row['lr']:.6e}" == f"{expected:.6e}"


def test_table_without_at_shows_the_key_steps() -> None:
    result = uprior("schedule", *ORIGINAL)
    assert result.returncode == 0, result.stderr
    for cell in ("20,000", "end of warmup", "1/4 of decay", "450,000", "1.000000e-06"):
        assert cell in result.stdout


def test_at_accepts_k_suffixes_and_rejects_steps_outside_the_run() -> None:
    ok = uprior("schedule", *ORIGINAL, "--at", "25k,90k", "--json")
    assert [r["step"] for r in json.loads(ok.stdout)] == [25_000, 90_000]
    bad = uprior("schedule", *ORIGINAL, "--at", "500k")
    assert bad.returncode == 2 and "outside" in bad.stderr


def test_warmup_longer_than_the_run_exits_2_naming_warmup_steps() -> None:
    result = uprior(
        "schedule", "--set", "schedule.warmup_steps=500000", "--set", "train.max_steps=450000"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "warmup_steps" in lines[0]


def test_misspelt_key_exits_2_and_suggests_the_right_one() -> None:
    result = uprior("schedule", "--set", "schedule.warmpu_steps=5")
    assert result.returncode == 2
    assert "did you mean 'schedule.warmup_steps'" in result.stderr


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "wsd.png"
    result = uprior(
        "schedule", "--set", "schedule.kind=wsd", "--set", "schedule.decay_shape=1-sqrt",
        "--set", "train.max_steps=1000", "--set", "schedule.warmup_steps=100", "--plot", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    bad = uprior("schedule", "--plot", str(tmp_path / "x.jpg"))
    assert bad.returncode == 2 and "png" in bad.stderr.lower()


def test_module_and_console_script_agree() -> None:
    script = Path(sys.executable).with_name("uprior")
    direct = subprocess.run(
        [str(script), "schedule", *ORIGINAL, "--at", "90000", "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert direct.returncode == 0, direct.stderr
    assert direct.stdout == uprior("schedule", *ORIGINAL, "--at", "90000", "--json").stdout
