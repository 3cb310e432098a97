"""The audit parses scripts; it never imports or runs them (DESIGN §8)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from unified_prior.audit import audit_paths

#: Writes a marker next to itself at import time, in every way a script can run code on
#: import: module-level statements, a decorator, a class body, a default argument, and
#: an ``if __name__ == "__main__"`` block. It also carries findings, so the audit reads it.
BOOBY_TRAP = """
import pathlib
import torch

MARKER = pathlib.Path(__file__).with_name("MARKER_" + pathlib.Path(__file__).stem)
MARKER.write_text("module level ran")


def _decorate(fn):
    MARKER.write_text("decorator ran")
    return fn


class Config:
    MARKER.write_text("class body ran")


@_decorate
def train(model, loader, lr=MARKER.write_text("default argument ran")):
    config = {"lr_scheduler": "cosine", "warmup_steps": 100}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    for batch in loader:
        optimizer.step()
    return torch.load("ckpt.pt")


if __name__ == "__main__":
    MARKER.write_text("main ran")
"""


def _write(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "trap.py"
    script.write_text(BOOBY_TRAP)
    return script, folder / "MARKER_trap"


def test_the_trap_really_fires_when_run(tmp_path: Path) -> None:
    """Control: executing the file does write the marker, so its absence below means
    something (torch is imported by the trap, which the venv has)."""
    script, marker = _write(tmp_path / "control")
    subprocess.run([sys.executable, str(script)], check=True, timeout=120)
    assert marker.exists()


def test_audit_in_process_never_runs_the_script(tmp_path: Path) -> None:
    script, marker = _write(tmp_path / "audited")
    found = audit_paths([script])
    assert {"SCH001", "SEC001"} <= {f.code for f in found}
    assert not marker.exists()
    assert not (script.parent / "__pycache__").exists()  # not even compiled to bytecode


def test_cli_never_runs_the_script_or_the_folder(tmp_path: Path) -> None:
    script, marker = _write(tmp_path / "cli")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for target in (script, script.parent):
        result = subprocess.run(
            [sys.executable, "-m", "unified_prior", "audit", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert result.returncode == 1, result.stderr
        assert "SCH001" in result.stdout
    assert not marker.exists()
