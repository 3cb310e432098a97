"""Score ``uprior doctor`` (and, with ``--peers``, its PyPI peers) on materialized real logs.

    python bench/doctor_corpus.py CASES.tsv DIR [--uprior [LABEL=]PATH ...] [--peers VENV]
                                  [--timeout-s N] [--only ID] [--reuse-peers OLD.json]
                                  [--json | --md] [--load OLD.json]

CASES.tsv is a case list in the format of ``shared/corpus/doctor-dev.tsv``: tab-separated
``case, repo, paths (comma-separated), commit, expected, quiet, truth`` and an optional 8th
column ``framework``; ``#`` lines are comments. DIR holds the logs as
``bench/materialize_corpus.py CASES.tsv DIR`` writes them (``DIR/<case>/<path>``).

Truth, the same for every tool:
- ``expected``: codes (comma-separated, ``-`` for none) that must be reported at warning or
  error severity;
- ``quiet``: ``quiet`` when the run is healthy: no warning or error at all;
- a case with neither only has to be read (its truth line says what a reader should see).
A tool is *right* on a case when it read the log and meets both; otherwise the verdict says
why: ``unreadable``, ``missed CODE``, ``false alarm`` (on a quiet case).

The doctor runs as ``uprior doctor PATHS... --format json`` (every path of the case at once, as
a user would pass them); exit 2, output that is not JSON (a crash) or a report with neither a
loss nor an eval-loss series is "unreadable". ``--uprior`` may be given several times
(``main=/work/main/.venv/bin/uprior``) to score several builds side by side.

Output: a per-case table with totals (right / read per tool), then, for each doctor build, the
logs where some peer is right and that build is not (the Must-show asks for none); ``--json``
keeps every finding and reader note instead. ``--reuse-peers OLD.json`` judges the peers' stored
output again instead of rerunning them (their output does not change); ``--load OLD.json`` only
prints the table of a stored run.

Peers (``--peers VENV``, a virtualenv with ``bench/peers/requirements.txt`` installed; never the
project's own): ``runmedic diagnose PATH --json``, ``trainspotter analyze PATH --output json``,
``trainproof doctor PATH --json``. Each gets the case's single file, or for a case with several
files their common folder; when a peer cannot read that, it is given each file in turn and what
it read is pooled (a user would try that too); trainspotter and trainproof, which ask for
``--format`` when a file's name does not tell, are retried with ``--format jsonl|csv`` when the
content says so. A peer has *read* the case when it found a loss
series (runmedic: a ``train_loss``/``val_loss`` role; trainspotter: a metric named ``*loss*``;
trainproof: a ``loss``/``eval_loss`` column in ``used_mapping``).

Peers do not speak our codes, so their findings at warning level or above (runmedic
``warning``/``critical``, trainspotter ``warning``/``error``, trainproof ``WARN``/``FAIL``)
are mapped to the problem class our codes name, generously (any finding of the class counts):
- RUN001 (divergence after the best point, overfitting): divergence, overfitting,
  TP-DIVERGE, TP-OVERFIT, TP-NEG-IMPROVE, TP-END-RATIO;
- RUN002 (loss spikes): loss_spikes, spikes, TP-STEP-CLIFF;
- RUN003 (non-finite loss): non_finite, TP-NAN;
- RUN004 (no progress): no_learning, plateau, loss_floor, TP-FLAT, TP-DEAD-RUN, TP-STALL,
  TP-IMPROVE-DEFICIT, TP-FLOOR-RATIO;
- LR001, LR002, LR004 (the LR is not the declared schedule): any LR finding
  (constant_lr_plateau, lr_schedule, TP-ZERO-LR, TP-ZERO-LR-PARTIAL);
- LR003 (LR jump or warmup restart at a resume): an LR finding about a jump, i.e. trainspotter's
  "LR discontinuity" / "LR increased after its peak" (no other peer has one).
A quiet case is a false alarm for a peer when it raises any warning about the training
dynamics (the classes above, gradient and eval-noise findings); findings about the machine
(throughput, slow steps, input-bound, memory, GPU use, log patterns such as DDP messages) are
left out for peers, as the doctor does not look at those at all.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PEERS = ("runmedic", "trainspotter", "trainproof")
WARN_LEVELS = {"warning", "error", "critical", "warn", "fail"}

# Peer finding name -> our code family (see the module docstring).
FAMILY = {
    "divergence": "RUN001",
    "overfitting": "RUN001",
    "TP-DIVERGE": "RUN001",
    "TP-OVERFIT": "RUN001",
    "TP-NEG-IMPROVE": "RUN001",
    "TP-END-RATIO": "RUN001",
    "loss_spikes": "RUN002",
    "spikes": "RUN002",
    "TP-STEP-CLIFF": "RUN002",
    "non_finite": "RUN003",
    "TP-NAN": "RUN003",
    "no_learning": "RUN004",
    "plateau": "RUN004",
    "loss_floor": "RUN004",
    "TP-FLAT": "RUN004",
    "TP-DEAD-RUN": "RUN004",
    "TP-STALL": "RUN004",
    "TP-IMPROVE-DEFICIT": "RUN004",
    "TP-FLOOR-RATIO": "RUN004",
    "constant_lr_plateau": "LR",
    "lr_schedule": "LR",
    "TP-ZERO-LR": "LR",
    "TP-ZERO-LR-PARTIAL": "LR",
    "grad_spikes": "GRAD",
    "grad_norm": "GRAD",
    "TP-GRAD-SPIKE": "GRAD",
    "TP-NAN-GRAD": "GRAD",
    "TP-ZERO-GRAD": "GRAD",
    "TP-GRADNORM-RATIO": "GRAD",
    "eval_noise": "EVAL",
}
# Findings about the machine, not the training dynamics: never an alarm (see docstring).
MACHINE = {
    "throughput",
    "slow_steps",
    "slowdown",
    "input_bound",
    "memory_growth",
    "TP-THROUGHPUT",
    "TP-LOADER-BOUND",
    "TP-GPU-UTIL",
    "TP-NO-LOSS",
    "TP-PASS",
}
LR_JUMP_WORDS = ("discontinu", "jump", "increased after", "restart", "resum")


@dataclass
class Case:
    case: str
    repo: str
    paths: list[str]
    commit: str
    expected: list[str]
    quiet: bool
    truth: str
    framework: str


@dataclass
class Outcome:
    """What one tool did on one case."""

    tool: str
    read: bool
    doctor: bool = False  # uprior speaks our codes; peers are mapped to code families
    alarms: list[str] = field(default_factory=list)  # codes / families at warning or above
    detail: list[str] = field(default_factory=list)  # the tool's own names, for the notes
    note: str = ""
    verdict: str = ""
    right: bool = False


def guess_framework(paths: list[str]) -> str:
    names = " ".join(paths).lower()
    for needle, name in (
        ("trainer_state", "HF Trainer"),
        ("lightning_logs", "Lightning"),
        ("metrics.json", "detectron2"),
        ("results.csv", "YOLO"),
        ("events.out", "TensorBoard"),
        ("main.log", "llm.c"),
        ("log.txt", "DETR"),
    ):
        if needle in names:
            return name
    return "text log"


def read_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 7:
            raise SystemExit(f"{path}: a case needs 7 tab-separated fields: {line[:80]!r}")
        paths = [p for p in fields[2].split(",") if p]
        expected = [c for c in fields[4].split(",") if c and c != "-"]
        framework = fields[7] if len(fields) > 7 and fields[7] else guess_framework(paths)
        cases.append(
            Case(
                fields[0],
                fields[1],
                paths,
                fields[3],
                expected,
                fields[5].strip() == "quiet",
                fields[6],
                framework,
            )
        )
    return cases


def judge(case: Case, out: Outcome) -> Outcome:
    if not out.read:
        out.verdict, out.right = "unreadable", False
        return out
    missed = [code for code in case.expected if not covers(out, code)]
    if missed:
        out.verdict = "missed " + ",".join(missed)
    elif case.quiet and out.alarms:
        out.verdict = "false alarm " + ",".join(sorted(set(out.alarms)))
    else:
        out.verdict = "right"
    out.right = out.verdict == "right"
    return out


def covers(out: Outcome, code: str) -> bool:
    if out.doctor:
        return code in out.alarms
    if code == "LR003":
        return any(
            FAMILY.get(name.split(":")[0]) == "LR" and any(w in name.lower() for w in LR_JUMP_WORDS)
            for name in out.detail
        )
    family = "LR" if code.startswith("LR") else code
    return family in out.alarms


def run(cmd: list[str], timeout_s: float) -> tuple[int, str, str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return 124, "", f"timed out after {timeout_s:.0f} s"
    return done.returncode, done.stdout, done.stderr


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else ""


def run_doctor(label: str, uprior: str, files: list[Path], timeout_s: float) -> Outcome:
    out = Outcome(label, read=False, doctor=True)
    rc, stdout, stderr = run([uprior, "doctor", *map(str, files), "--format", "json"], timeout_s)
    if rc not in (0, 1):
        out.note = f"exit {rc}: {last_line(stderr) or last_line(stdout)}"
        return out
    try:
        report = json.loads(stdout)
    except json.JSONDecodeError:
        out.note = f"exit {rc}, output is not JSON: {last_line(stderr)}"
        return out
    series = report.get("series", {})
    # A report without a loss series has not read the run, whatever the exit code.
    out.read = bool(series.get("loss") or series.get("val_loss"))
    for finding in report.get("findings", []):
        name = f"{finding.get('code')}:{finding.get('severity')}"
        out.detail.append(name)
        if finding.get("severity") in ("warning", "error"):
            out.alarms.append(str(finding.get("code")))
    out.note = (
        f"readers {sorted({i.get('reader') for i in report.get('inputs', [])})}; "
        f"loss {series.get('loss')}, val {series.get('val_loss')}, lr {series.get('lr')}; "
        f"lr_verdict {report.get('lr_verdict')}; best {report.get('best', {}).get('step')}"
    )
    return out


def peer_command(venv: Path, tool: str, path: Path, fmt: str | None = None) -> list[str]:
    exe = str(venv / "bin" / tool)
    forced = ["--format", fmt] if fmt else []
    if tool == "runmedic":
        return [exe, "diagnose", str(path), "--json"]
    if tool == "trainspotter":
        return [exe, "analyze", str(path), "--output", "json", *forced]
    return [exe, "doctor", str(path), "--json", *forced]


def sniff_format(path: Path) -> str | None:
    """jsonl or csv by content, for the peers that ask for ``--format`` when a file's name does
    not tell (a detectron2 ``metrics.json`` is JSON lines, a DETR ``log.txt`` too)."""
    if not path.is_file():
        return None
    with path.open(errors="replace") as fh:
        lines = [ln for ln in (fh.readline() for _ in range(3)) if ln.strip()]
    if not lines:
        return None
    if lines[0].lstrip().startswith("{"):
        return "jsonl"
    if len(lines) > 1 and lines[0].count(",") >= 1 and lines[0].count(",") == lines[1].count(","):
        return "csv"
    return None


def parse_peer(tool: str, stdout: str) -> tuple[bool, list[tuple[str, str, str]]]:
    """(read a loss?, [(name, severity, title)]) from a peer's JSON output."""
    try:
        data: Any = json.loads(stdout)
    except json.JSONDecodeError:
        return False, []
    found: list[tuple[str, str, str]] = []
    read = False
    if tool == "runmedic":
        for run_ in data if isinstance(data, list) else []:
            roles = run_.get("roles", {})
            read = read or bool(roles.get("train_loss") or roles.get("val_loss"))
            for f in run_.get("findings", []):
                found.append((f["check"], f["severity"], f.get("title", "")))
    elif tool == "trainspotter":
        metrics = data.get("run", {}).get("metrics", {})
        read = any("loss" in name for name in metrics)
        for f in data.get("findings", []):
            found.append((f["detector"], f["severity"], f.get("title", "")))
    else:
        for report in data.get("reports", []):
            mapping = report.get("used_mapping", {})
            read = read or "loss" in mapping or "eval_loss" in mapping
            for f in report.get("findings", []):
                found.append((f["id"], f["level"], f.get("message", "")))
    return read, found


def run_peer(venv: Path, tool: str, case_dir: Path, case: Case, timeout_s: float) -> Outcome:
    files = [case_dir / p for p in case.paths]
    first = files[0] if len(files) == 1 else Path(os.path.commonpath(files))
    attempts = [first] + ([f for f in files if f != first] if len(files) > 1 else [])
    out = Outcome(tool, read=False)
    notes = []
    for i, path in enumerate(attempts):
        if i == 1 and out.read:
            break  # the folder was read: no need to try the files one by one
        _rc, stdout, stderr = run(peer_command(venv, tool, path), timeout_s)
        read, found = parse_peer(tool, stdout)
        fmt = sniff_format(path) if tool != "runmedic" else None
        if not read and fmt:
            # The peer could not tell the format itself; name it, as its message asks.
            _rc, stdout, stderr = run(peer_command(venv, tool, path, fmt), timeout_s)
            read, found = parse_peer(tool, stdout)
        rel = path.relative_to(case_dir) if path != case_dir else Path(".")
        if not read:
            notes.append(f"{rel}: not read ({last_line(stderr) or 'no loss series'})")
            continue
        out.read = True
        notes.append(f"{rel}: read")
        for name, severity, title in found:
            if severity.lower() not in WARN_LEVELS or name in MACHINE or name.startswith("log:"):
                continue
            family = FAMILY.get(name, "OTHER")
            out.alarms.append(family)
            out.detail.append(f"{name}:{title}")
    out.note = "; ".join(notes)
    return out


def score_case(case: Case, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    case_dir = root / case.case
    outcomes = []
    missing = [p for p in case.paths if not (case_dir / p).exists()]
    tools = [(label, path) for label, path in args.uprior]
    for label, uprior in tools:
        if missing:
            out = Outcome(label, read=False, doctor=True, note=f"not materialized: {missing}")
        else:
            out = run_doctor(label, uprior, [case_dir / p for p in case.paths], args.timeout_s)
        outcomes.append(judge(case, out))
    if args.peers is not None and not missing:
        for tool in PEERS:
            kept = args.reused.get((case.case, tool))
            if kept is not None:
                # The peers' output does not change between runs: judge it again by the truth.
                fields = {k: kept[k] for k in ("tool", "read", "alarms", "detail", "note")}
                outcomes.append(judge(case, Outcome(**fields)))
                continue
            outcomes.append(judge(case, run_peer(args.peers, tool, case_dir, case, args.timeout_s)))
    return {"case": asdict(case), "outcomes": [asdict(o) for o in outcomes]}


def uprior_arg(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep:
        path, label = text, "uprior"
    return label, path


def print_table(results: list[dict[str, Any]], markdown: bool) -> None:
    tools = [o["tool"] for o in results[0]["outcomes"]] if results else []
    head = ["case", "framework", "truth", *tools]
    rows = []
    for r in results:
        c = r["case"]
        truth = ",".join(c["expected"]) or ("quiet" if c["quiet"] else "read")
        rows.append([c["case"], c["framework"], truth, *(cell(o) for o in r["outcomes"])])
    totals = ["total right/read", "", f"{len(results)} cases"]
    for i, _tool in enumerate(tools):
        outs = [r["outcomes"][i] for r in results]
        right = sum(o["right"] for o in outs)
        read = sum(o["read"] for o in outs)
        totals.append(f"{right}/{len(outs)} right, {read}/{len(outs)} read")
    rows.append(totals)
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    else:
        widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
        for row in [head, *rows]:
            print("  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip())
    print_behind_peers(results)


def print_behind_peers(results: list[dict[str, Any]]) -> None:
    """The Must-show asks the doctor to be right at least as often as the best peer on every
    log: name each log where some peer is right and a doctor build is not."""
    for r0 in results[:1]:
        for i, own in enumerate(r0["outcomes"]):
            if not own.get("doctor"):
                continue
            behind = []
            for r in results:
                if r["outcomes"][i]["right"]:
                    continue
                peers = [o["tool"] for o in r["outcomes"] if not o.get("doctor") and o["right"]]
                if peers:
                    behind.append(f"{r['case']['case']} ({', '.join(peers)})")
            print(
                f"\n{own['tool']}: behind a peer on {len(behind)} log(s)"
                + (": " if behind else "")
                + "; ".join(behind)
            )


def cell(o: dict[str, Any]) -> str:
    if o["verdict"] == "right":
        return "ok" + (f" ({','.join(sorted(set(o['alarms'])))})" if o["alarms"] else "")
    if o["verdict"] == "unreadable":
        return "UNREAD"
    if o["verdict"].startswith("missed"):
        got = ",".join(sorted(set(o["alarms"]))) or "nothing"
        return f"MISS {o['verdict'][7:]} (got {got})"
    return "FALSE " + o["verdict"][12:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path)
    parser.add_argument("dir", type=Path)
    parser.add_argument(
        "--uprior",
        type=uprior_arg,
        action="append",
        help="[LABEL=]PATH of an uprior executable (repeatable; default: .venv/bin/uprior)",
    )
    parser.add_argument("--peers", type=Path, help="virtualenv with the peers installed")
    parser.add_argument("--timeout-s", type=float, default=300.0, help="per tool run")
    parser.add_argument(
        "--reuse-peers",
        type=Path,
        help="a --json output of an earlier run: take the peers' findings from it instead of "
        "running them again (they are judged again by the current case list)",
    )
    parser.add_argument("--only", action="append", help="only this case id (repeatable)")
    parser.add_argument(
        "--load",
        type=Path,
        help="print the table of an earlier --json output instead of running anything",
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print the full results as JSON")
    fmt.add_argument("--md", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()
    if args.load is not None:
        print_table(json.loads(args.load.read_text()), args.md)
        return 0
    if not args.cases.is_file():
        print(f"doctor_corpus: {args.cases}: no such case list", file=sys.stderr)
        return 2
    if not args.dir.is_dir():
        print(
            f"doctor_corpus: {args.dir}: not a folder; run bench/materialize_corpus.py first",
            file=sys.stderr,
        )
        return 2
    args.reused = {}
    if args.reuse_peers is not None:
        for old in json.loads(args.reuse_peers.read_text()):
            for o in old["outcomes"]:
                if o["tool"] in PEERS:
                    args.reused[(old["case"]["case"], o["tool"])] = o
    if not args.uprior:
        args.uprior = [("uprior", str(Path(sys.executable).parent / "uprior"))]
    cases = [c for c in read_cases(args.cases) if not args.only or c.case in args.only]
    results = []
    for case in cases:
        results.append(score_case(case, args.dir, args))
        if not (args.json or args.md):
            print(f"scored {case.case}", file=sys.stderr)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()
    else:
        print_table(results, args.md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
