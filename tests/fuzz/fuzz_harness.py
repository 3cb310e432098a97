"""The fuzz suite's harness: a persistent ``uprior`` process, the outcome checks every case
shares (exit code in {0, 1, 2}, no traceback, ``--out`` untouched on error) and a snapshot
of a folder to compare before and after."""

from __future__ import annotations

import hashlib
import json
import os
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

WORKER = Path(__file__).with_name("cli_worker.py")


@dataclass(frozen=True)
class Outcome:
    argv: list[str]
    code: int | None  # None: it hung and was killed
    stdout: str
    stderr: str

    def describe(self) -> str:
        return f"uprior {' '.join(self.argv)} → exit {self.code}\n{self.stderr[-3000:]}"


class CliWorker:
    """Runs ``uprior`` command lines in one long-lived subprocess (see cli_worker.py)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        proc = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        assert proc.stdout is not None
        assert json.loads(proc.stdout.readline()) == {"ready": True}
        return proc

    def __call__(self, *argv: str | Path, cwd: Path, timeout_s: float = 60) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = self._start()
        assert self.proc.stdin is not None and self.proc.stdout is not None
        args = [str(a) for a in argv]
        self.proc.stdin.write(json.dumps({"argv": args, "cwd": str(cwd)}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
        if not ready:  # a hang: kill it; the next call starts a fresh worker
            self.close()
            return Outcome(args, None, "", f"no answer within {timeout_s} s")
        line = self.proc.stdout.readline()
        if not line:
            code = self.proc.wait()
            self.proc = None
            return Outcome(args, code, "", f"worker died with code {code}")
        answer = json.loads(line)
        return Outcome(args, answer["code"], answer["stdout"], answer["stderr"])

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path → sha256); {} when it does not exist."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def assert_well_behaved(outcome: Outcome, *, out: Path | None = None, before=None) -> None:
    """Exit 0, 1 or 2; no traceback; a one-line error; ``out`` unchanged when it failed."""
    assert outcome.code in (0, 1, 2), outcome.describe()
    assert "Traceback (most recent call last)" not in outcome.stderr, outcome.describe()
    if outcome.code == 2:
        errors = [ln for ln in outcome.stderr.splitlines() if ln.startswith("uprior: error:")]
        assert len(errors) == 1, outcome.describe()
        if out is not None:
            assert snapshot(out) == (before or {}), outcome.describe()
