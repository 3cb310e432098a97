"""Issue 14's doctor inputs that crashed or hung on main: a huge integer step, a folder of
symlinks to itself, a FIFO (and a device) named on the command line. Each runs the real CLI
in a subprocess with a timeout, so a hang fails the test instead of the suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TIMEOUT_S = 60


def _doctor(*args: str | Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from unified_prior.cli import main; sys.argv[0] = 'uprior'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, "doctor", *map(str, args), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _no_traceback(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode in (0, 1, 2), done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def _log(folder: Path) -> Path:
    log = folder / "train.log"
    log.write_text("".join(f"step {s} loss {2.0 / (s + 1):.4f} lr 0.001\n" for s in range(50)))
    return log


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "log"])
def test_huge_integer_step_and_value(tmp_path: Path, suffix: str) -> None:
    # JSON and CSV allow integers of any length; float() of one past 1e308 raised
    # OverflowError (exit 1 with a traceback on main).
    huge = "9" * 400
    path = tmp_path / f"run.{suffix}"
    if suffix == "jsonl":
        lines = [f'{{"step": {s}, "loss": {1.0 / (s + 1)}}}' for s in range(20)]
        lines += [f'{{"step": {huge}, "loss": 1.0}}', f'{{"step": 21, "loss": {huge}}}']
    elif suffix == "csv":
        lines = ["step,loss"] + [f"{s},{1.0 / (s + 1)}" for s in range(20)]
        lines += [f"{huge},1.0", f"21,{huge}"]
    else:
        lines = [f"step {s} loss {1.0 / (s + 1)}" for s in range(20)]
        lines += [f"step {huge} loss 1.0", f"step 21 loss {huge}"]
    path.write_text("\n".join(lines) + "\n")
    done = _doctor(path)
    _no_traceback(done)
    assert done.returncode in (0, 1)


def test_folder_of_symlinks_to_itself(tmp_path: Path) -> None:
    # Ten links to the folder itself: a walk that follows them visits 10**6 folders.
    run = tmp_path / "run"
    run.mkdir()
    _log(run)
    for i in range(10):
        (run / f"self{i}").symlink_to(run, target_is_directory=True)
    (run / "up").symlink_to(tmp_path, target_is_directory=True)
    done = _doctor(run)
    _no_traceback(done)
    assert done.returncode in (0, 1)
    import json

    report = json.loads(done.stdout)
    assert [Path(i["path"]).name for i in report["inputs"]] == ["train.log"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_on_the_command_line_is_skipped_with_a_note(tmp_path: Path) -> None:
    fifo = tmp_path / "live.log"
    os.mkfifo(fifo)
    link = tmp_path / "link.log"
    link.symlink_to(fifo)
    done = _doctor(fifo, link, _log(tmp_path))
    _no_traceback(done)
    assert done.returncode in (0, 1)
    import json

    notes = {Path(i["path"]).name: i.get("note", "") for i in json.loads(done.stdout)["inputs"]}
    assert "FIFO" in notes["live.log"] and "FIFO" in notes["link.log"]


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_device_alone_is_an_input_error(tmp_path: Path) -> None:
    # /dev/zero never ends: reading it as a log filled memory. Alone, nothing is readable.
    link = tmp_path / "zero.log"
    link.symlink_to("/dev/zero")
    done = _doctor(link)
    _no_traceback(done)
    assert done.returncode == 2
    assert "zero.log: cannot read it (a device, not a regular file)" in done.stderr
