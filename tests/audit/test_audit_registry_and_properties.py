"""The rule registry matches DESIGN §7, the hook file is usable, and no input crashes the audit."""

from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unified_prior.audit import RULES, Finding, audit_source
from unified_prior.audit.engine import READ_ERROR, SYNTAX_ERROR

ROOT = Path(__file__).resolve().parents[2]
STATIC_CODES = [
    "CFG001", "CFG002", "SCH001", "SCH002", "SCH003", "SCH004", "SCH005",
    "OPT001", "OPT002", "CKP001", "CKP002", "CKP003", "SEC001",
]  # fmt: skip


def test_registry_holds_exactly_the_design_codes() -> None:
    assert sorted(RULES) == sorted(STATIC_CODES)


def test_every_rule_is_documented_in_its_own_file() -> None:
    rules_dir = ROOT / "src" / "unified_prior" / "audit" / "rules"
    for code, rule in RULES.items():
        assert rule.code == code
        assert rule.severity in {"error", "warning", "info"}
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)+", rule.name), rule.name
        assert len(rule.description) > len(rule.summary) > 10
        (module_file,) = rules_dir.glob(f"{code.lower()}_*.py")
        assert type(rule).__module__.endswith(module_file.stem)


def test_finding_json_keeps_the_public_fields() -> None:
    """The doctor and DESIGN §7 consumers read these keys."""
    finding = Finding("t.py", 3, 5, "SCH001", "error", "msg", fix="do x", related=((1, 2),))
    data = finding.to_dict()
    assert {k: data[k] for k in ("path", "line", "col", "code", "severity", "message")} == {
        "path": "t.py", "line": 3, "col": 5, "code": "SCH001", "severity": "error",
        "message": "msg",
    }  # fmt: skip
    assert data["related"] == [{"line": 1, "col": 2}]


def test_pre_commit_hook_runs_uprior_audit_on_the_files_it_is_given(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "uprior-audit"
    assert hook["language"] == "python" and hook["types"] == ["python"]
    command = shlex.split(hook["entry"])
    assert command == ["uprior", "audit"]
    # ``pip install`` of the repo provides the entry point.
    assert 'uprior = "unified_prior.cli:main"' in (ROOT / "pyproject.toml").read_text()
    # pre-commit appends the staged file names to the entry.
    good, bad = tmp_path / "good.py", tmp_path / "bad.py"
    good.write_text("import torch\nx = torch.load('a.pt', weights_only=True)\n")
    bad.write_text("import torch\nx = torch.load('a.pt')\n")
    exe = shutil.which(command[0], path=str(Path(sys.executable).parent))
    argv = [exe, *command[1:]] if exe else [sys.executable, "-m", "unified_prior", "audit"]
    ok = subprocess.run([*argv, str(good)], capture_output=True, text=True, timeout=120)
    failing = subprocess.run(
        [*argv, str(good), str(bad)], capture_output=True, text=True, timeout=120
    )
    assert ok.returncode == 0, ok.stderr
    assert failing.returncode == 1 and f"{bad}:2:5: SEC001" in failing.stdout


def _snippet_lines() -> list[str]:
    """Lines of the original-script re-creation: shuffled subsets make odd but real code."""
    spec = importlib.util.spec_from_file_location(
        "original_script", Path(__file__).with_name("test_audit_original_script.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [*module.ORIGINAL.splitlines(), *module.FIXED.splitlines()]


LINES = _snippet_lines()
KNOWN = set(RULES) | {SYNTAX_ERROR, READ_ERROR}


def _check(found: list[Finding], source: str) -> None:
    n_lines = max(1, source.count("\n") + 1)
    for f in found:
        assert f.code in KNOWN
        assert 1 <= f.line <= n_lines + 1 and f.col >= 1
        assert f.message and f.severity in {"error", "warning", "info"}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_gives_findings_not_exceptions(source: str) -> None:
    _check(audit_source(source, "fuzz.py"), source)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(LINES), max_size=40))
def test_recombined_training_code_gives_findings_not_exceptions(lines: list[str]) -> None:
    source = "\n".join(lines) + "\n"
    _check(audit_source(source, "fuzz.py"), source)
