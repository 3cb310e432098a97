"""Hostile but valid inputs (issue 14): none may abort the audit of a folder, hang it, or
print a traceback. Each file gets at most one note (E998 / E902); the others are audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: A real finding in a neighbour file proves the folder was still audited.
UNSAFE_LOAD = "import torch\nstate = torch.load('last.pt')\n"


def uprior_json(*args: str | Path, timeout: float = 60) -> tuple[int, list[dict], str]:
    result = subprocess.run(
        [sys.executable, "-m", "unified_prior", "audit", "--format", "json", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def by_file(findings: list[dict]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in findings:
        out.setdefault(Path(f["path"]).name, set()).add(f["code"])
    return out


DEEP = {
    # CPython's parser gives up on these with RecursionError ...
    "deep_add.py": "x = a" + " + a" * 3000 + "\n",
    "deep_attr.py": "x = a" + ".b" * 3000 + "\n",
    "deep_elif.py": "if x == 0:\n    y = 0\n"
    + "".join(f"elif x == {i}:\n    y = {i}\n" for i in range(1, 3000)),
    # ... and with MemoryError on this one.
    "deep_lambda.py": "f = " + "lambda: " * 3000 + "0\n",
}


def test_files_too_deep_to_analyse_are_reported_and_the_rest_audited(tmp_path: Path) -> None:
    for name, text in DEEP.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "train.py").write_text(UNSAFE_LOAD)
    rc, findings, stderr = uprior_json(tmp_path)
    assert "Traceback" not in stderr
    assert rc == 1
    files = by_file(findings)
    assert files.pop("train.py") == {"SEC001"}
    assert files == {name: {"E998"} for name in DEEP}


def test_analysis_recursion_is_caught_per_file(tmp_path: Path) -> None:
    """A tree that parses but is nested deeper than the analysis can walk (here: a long
    attribute chain, analysed under a lowered recursion limit) is one E998 for that file;
    the next file is still audited."""
    from unified_prior.audit.project import Project

    deep = tmp_path / "a_deep.py"
    deep.write_text(
        "import torch\nopt = torch.optim.SGD(p, lr=0.1)\nopt" + ".b" * 600 + ".step()\n"
    )
    (tmp_path / "b_train.py").write_text(UNSAFE_LOAD)
    project = Project(tmp_path, sorted(tmp_path.glob("*.py")))
    for path in project.sources:
        project.facts(path)  # parsed (and kept) at the normal limit
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        found = project.audit(None, None)
    finally:
        sys.setrecursionlimit(limit)
    assert [(Path(f.path).name, f.code) for f in found] == [
        ("a_deep.py", "E998"),
        ("b_train.py", "SEC001"),
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_fifo_and_symlink_to_a_device_are_skipped_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "train.py").write_text(UNSAFE_LOAD)
    rc, findings, stderr = uprior_json(tmp_path, timeout=30)
    assert "Traceback" not in stderr
    files = by_file(findings)
    assert files == {"train.py": {"SEC001"}, "pipe.py": {"E902"}, "zero.py": {"E902"}}
    notes = {Path(f["path"]).name: f["message"] for f in findings if f["code"] == "E902"}
    assert "FIFO" in notes["pipe.py"] and "regular file" in notes["zero.py"]
    # Named on the command line, too.
    rc, findings, _ = uprior_json(tmp_path / "pipe.py", timeout=30)
    assert (rc, [f["code"] for f in findings]) == (1, ["E902"])


def test_pep263_latin1_file_is_decoded_and_audited(tmp_path: Path) -> None:
    text = "# -*- coding: latin-1 -*-\n# Entra\xeenement (caf\xe9)\n" + UNSAFE_LOAD
    (tmp_path / "train_fr.py").write_bytes(text.encode("latin-1"))
    rc, findings, stderr = uprior_json(tmp_path / "train_fr.py")
    assert "Traceback" not in stderr
    assert (rc, [f["code"] for f in findings]) == (1, ["SEC001"])


def test_symlink_cycle_is_not_walked(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_text(UNSAFE_LOAD)
    (tmp_path / "pkg" / "loop").symlink_to(tmp_path)  # pkg/loop -> .. -> pkg/loop -> ...
    (tmp_path / "self").symlink_to(".")
    rc, findings, stderr = uprior_json(tmp_path, timeout=30)
    assert "Traceback" not in stderr
    assert rc == 1
    assert [(Path(f["path"]).name, f["code"]) for f in findings] == [("train.py", "SEC001")]
