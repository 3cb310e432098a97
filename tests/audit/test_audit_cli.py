"""``uprior audit`` as users run it: a real subprocess on files the test writes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

BROKEN = """
import torch
config = {"lr": 1e-4, "lr_scheduler": "cosine"}
optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"])
for batch in loader:
    optimizer.step()
state = torch.load("ckpt.pt")
"""

CLEAN = """
import torch
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10)
for epoch in range(30):
    train_one_epoch(model, optimizer)
    scheduler.step()
state = torch.load("ckpt.pt", weights_only=True)
"""

TEXT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d{3}) (?P<msg>.+)$"
)


def uprior(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project: one broken script, one clean one, one with a syntax error, and folders
    that must be skipped (a virtualenv, ``.git``, an env marked only by ``pyvenv.cfg``)."""
    (tmp_path / "train.py").write_text(BROKEN)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "clean.py").write_text(CLEAN)
    (tmp_path / "pkg" / "notes.txt").write_text("torch.load('x')\n")
    (tmp_path / "pkg" / "half_written.py").write_text("def train(:\n    pass\n")
    for skipped in (".venv/lib", ".git/hooks", "myenv/lib"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "vendored.py").write_text(BROKEN)
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return tmp_path


def test_text_output_is_path_line_col_code_message(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BROKEN)
    result = uprior(script)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1] == f"Found {len(lines) - 1} problems."
    parsed = [TEXT_LINE.match(line) for line in lines[:-1]]
    assert all(parsed), lines
    seen = {(m["code"], int(m["line"]), int(m["col"])) for m in parsed if m}
    assert ("SCH001", 3, 23) in seen  # the "lr_scheduler" key
    assert ("SEC001", 7, 9) in seen  # torch.load(...)
    assert {m["path"] for m in parsed if m} == {str(script)}


def test_clean_file_exits_zero(tmp_path: Path) -> None:
    script = tmp_path / "clean.py"
    script.write_text(CLEAN)
    result = uprior(script)
    assert (result.returncode, result.stdout) == (0, "All checks passed.\n")


def test_json_format_is_design_shape(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BROKEN)
    result = uprior(script, "--format", "json")
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert isinstance(data, list) and data
    for item in data:
        assert {"path", "line", "col", "code", "severity", "message"} <= set(item)
        assert item["path"] == str(script)
        assert isinstance(item["line"], int) and isinstance(item["col"], int)
        assert item["severity"] in {"error", "warning", "info"}
    assert {"SCH001", "SEC001"} <= {item["code"] for item in data}
    usage = uprior(script, "--format", "json", "--select", "X")
    assert (usage.returncode, usage.stdout) == (2, "")  # a usage error prints no JSON


def test_sarif_format_has_the_2_1_0_structure(tree: Path) -> None:
    result = uprior(tree, "--format", "sarif")
    assert result.returncode == 1
    log = json.loads(result.stdout)
    assert log["version"] == "2.1.0"
    assert "sarif" in log["$schema"] and "2.1.0" in log["$schema"]
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] and isinstance(driver["version"], str)
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in {"error", "warning", "note"}
    assert {"CFG001", "SCH001", "SEC001", "E999"} <= set(rule_ids)
    assert run["results"]
    for res in run["results"]:
        assert res["ruleId"] == rule_ids[res["ruleIndex"]]
        assert res["level"] in {"none", "note", "warning", "error"}
        assert res["message"]["text"]
        (loc,) = res["locations"]
        phys = loc["physicalLocation"]
        assert phys["artifactLocation"]["uri"]
        assert phys["region"]["startLine"] >= 1 and phys["region"]["startColumn"] >= 1
        for rel in res.get("relatedLocations", []):
            assert isinstance(rel["id"], int)
            assert rel["physicalLocation"]["region"]["startLine"] >= 1
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    }
    assert any(uri.endswith("train.py") for uri in uris)


def test_select_and_ignore_take_codes_and_prefixes(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BROKEN)

    def codes(*opts: str) -> set[str]:
        result = uprior(script, "--format", "json", *opts)
        assert result.returncode in {0, 1}, result.stderr
        return {item["code"] for item in json.loads(result.stdout)}

    everything = codes()
    assert {"SCH001", "SEC001", "CFG001"} <= everything
    assert codes("--select", "SCH001") == {"SCH001"}
    assert codes("--select", "SEC,SCH001") == {"SEC001", "SCH001"}
    assert codes("--select", "sec001") == {"SEC001"}  # case-insensitive like ruff
    assert codes("--ignore", "SEC001", "--ignore", "CFG") == everything - {"SEC001", "CFG001"}
    assert uprior(script, "--select", "SEC001", "--ignore", "SEC").returncode == 0


def test_unknown_code_and_format_are_usage_errors(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BROKEN)
    for opts in (("--select", "XYZ999"), ("--format", "xml")):
        result = uprior(script, *opts)
        assert result.returncode == 2
        assert result.stdout == ""
        (line,) = result.stderr.strip().splitlines()
        assert opts[1] in line


def test_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "no_such_train.py"
    result = uprior(missing)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert str(missing) in line and "no such file" in line


def test_noqa_suppresses_the_named_code_on_its_line(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(
        BROKEN.replace(
            '"lr_scheduler": "cosine"}', '"lr_scheduler": "cosine"}  # noqa: SCH001'
        ).replace('torch.load("ckpt.pt")', 'torch.load("ckpt.pt")  # noqa')
    )
    data = json.loads(uprior(script, "--format", "json").stdout)
    found = {(item["code"], item["line"]) for item in data}
    assert ("SCH001", 3) not in found
    assert ("CFG001", 3) in found  # another code on the same line is not suppressed
    assert not any(code == "SEC001" for code, _ in found)  # a bare noqa suppresses all


def test_noqa_inside_a_string_suppresses_nothing(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(BROKEN.replace('torch.load("ckpt.pt")', 'torch.load("ckpt.pt # noqa")'))
    result = uprior(script, "--select", "SEC001")
    assert result.returncode == 1 and "SEC001" in result.stdout


def test_folder_recursion_skips_virtualenvs_and_reports_syntax_errors(tree: Path) -> None:
    result = uprior(tree)
    assert result.returncode == 1, result.stderr
    paths = {m["path"] for line in result.stdout.splitlines() if (m := TEXT_LINE.match(line))}
    assert paths == {str(tree / "train.py"), str(tree / "pkg" / "half_written.py")}
    (syntax,) = [line for line in result.stdout.splitlines() if "half_written.py" in line]
    assert ":1:" in syntax and " E999 " in syntax and "SyntaxError" in syntax
    assert "Traceback" not in result.stderr


def test_relative_paths_print_as_given(tree: Path) -> None:
    result = uprior("train.py", "pkg", cwd=tree)
    assert result.returncode == 1
    assert result.stdout.startswith("train.py:")
    assert "pkg/half_written.py:1:" in result.stdout
