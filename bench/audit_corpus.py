"""Score ``uprior audit`` on a folder of materialized real training scripts.

    python bench/audit_corpus.py CASES.tsv DIR [--uprior PATH] [--projects DIR] [--json]
                                 [--only ID[,ID...]] [--timeout-s 120]

CASES.tsv is a case list in the format of ``shared/corpus/audit-dev.tsv`` (id, repo,
comma-separated paths, commit, expected, reason); DIR is where
``bench/materialize_corpus.py CASES.tsv DIR`` wrote it (``DIR/<id>/<path>``). Each case is
audited in its own subprocess, ``uprior audit --format json`` on the case's file, or on the
case's folder when the case names several files or ``.`` (the whole repository tree): a
project case, where the audit resolves imports and reads configs among them.
``--projects`` names a folder of whole-project trees (``PROJECTS/<id>/``, e.g. a full
``git archive`` of the repository); a case found there is audited as that project instead.

Scoring (the header of the case lists): ``expected`` is a comma-separated list of codes;
a buggy case is *found* when any one of them is reported, or all of them for the cases named
by ``--all-of`` (the original script's two versions, S1 and S2, by default). ``-`` marks a
correct script: any SCH/OPT/CKP001/CKP002/CFG finding on it is a *false alarm* (SEC001 and
CKP003 are not counted: the first is a real but unrelated finding, the second is advice on an
ordinary resume). ``stretch`` cases are beyond today's rules and reported apart.

Stdlib only, so that it runs in any virtual environment, including one of another branch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Codes whose presence on a correct script is a false alarm (issue 10, "Must show").
FALSE_ALARM_PREFIXES = ("SCH", "OPT", "CKP001", "CKP002", "CFG")
DEFAULT_ALL_OF = "S1,S2"


@dataclass
class Case:
    case_id: str
    repo: str
    paths: list[str]
    commit: str
    expected: str
    reason: str

    @property
    def kind(self) -> str:
        if self.expected == "-":
            return "correct"
        if self.expected == "stretch":
            return "stretch"
        return "buggy"

    @property
    def expected_codes(self) -> list[str]:
        if self.kind != "buggy":
            return []
        return [c.strip() for c in self.expected.split(",") if c.strip()]


@dataclass
class Result:
    case_id: str
    kind: str
    expected: str
    target: str
    # found | missed | ok | false-alarm | stretch-found | stretch-missed | error | timeout | absent
    verdict: str
    got: list[str] = field(default_factory=list)
    findings: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    detail: str = ""


def read_cases(path: Path) -> list[Case]:
    cases = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 5:
            continue
        case_id, repo, paths, commit, expected = (f.strip() for f in fields[:5])
        reason = fields[5].strip() if len(fields) > 5 else ""
        cases.append(
            Case(case_id, repo, [p for p in paths.split(",") if p], commit, expected, reason)
        )
    return cases


def target_of(case: Case, corpus: Path, projects: Path | None) -> Path | None:
    """What to audit: a whole-project tree, the case folder (several files) or the one file."""
    if projects is not None and (projects / case.case_id).is_dir():
        return projects / case.case_id
    folder = corpus / case.case_id
    if len(case.paths) > 1 or case.paths == ["."]:
        return folder if folder.is_dir() else None
    single = folder / case.paths[0]
    return single if single.is_file() else None


def parse_findings(stdout: str) -> list[dict[str, object]]:
    """DESIGN §7: a JSON list of findings; tolerate an object holding ``findings`` too."""
    data = json.loads(stdout) if stdout.strip() else []
    if isinstance(data, dict):
        data = data.get("findings", [])
    return [f for f in data if isinstance(f, dict)]


def is_false_alarm(code: str) -> bool:
    return code.startswith(FALSE_ALARM_PREFIXES)


def score(case: Case, codes: set[str], all_of: set[str]) -> str:
    if case.kind == "correct":
        return "false-alarm" if any(is_false_alarm(c) for c in codes) else "ok"
    if case.kind == "stretch":
        # Informational: did any rule of the listed classes fire at all?
        return "stretch-found" if any(is_false_alarm(c) for c in codes) else "stretch-missed"
    wanted = case.expected_codes
    need_all = case.case_id in all_of
    hit = all(c in codes for c in wanted) if need_all else any(c in codes for c in wanted)
    return "found" if hit else "missed"


def run_case(
    case: Case, uprior: str, corpus: Path, projects: Path | None, timeout_s: float, all_of: set[str]
) -> Result:
    target = target_of(case, corpus, projects)
    result = Result(case.case_id, case.kind, case.expected, str(target or ""), "absent")
    if target is None:
        result.detail = f"not materialized under {corpus / case.case_id}"
        return result
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [uprior, "audit", "--format", "json", str(target)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        result.verdict, result.seconds = "timeout", time.perf_counter() - started
        result.detail = f"over {timeout_s:g} s"
        return result
    result.seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        result.verdict = "error"
        result.detail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return result
    try:
        findings = parse_findings(done.stdout)
    except json.JSONDecodeError as exc:
        result.verdict, result.detail = "error", f"output is not JSON: {exc}"
        return result
    if done.returncode == 1 and not findings:
        # DESIGN §6: the audit exits 1 only when it reports something.
        result.verdict = "error"
        result.detail = (done.stderr.strip().splitlines() or ["exit 1 without findings"])[-1]
        return result
    for f in findings:
        # Paths relative to the case target keep the table readable.
        path = str(f.get("path", ""))
        with contextlib.suppress(ValueError):
            f["path"] = str(Path(path).relative_to(target if target.is_dir() else target.parent))
    result.findings = findings
    result.got = sorted({str(f.get("code", "")) for f in findings})
    result.verdict = score(case, set(result.got), all_of)
    return result


def totals(results: list[Result]) -> dict[str, object]:
    buggy = [r for r in results if r.kind == "buggy"]
    correct = [r for r in results if r.kind == "correct"]
    stretch = [r for r in results if r.kind == "stretch"]
    found = sum(r.verdict == "found" for r in buggy)
    alarms = sum(r.verdict == "false-alarm" for r in correct)
    return {
        "buggy": len(buggy),
        "found": found,
        "recall": found / len(buggy) if buggy else None,
        "correct": len(correct),
        "false_alarms": alarms,
        "stretch": len(stretch),
        "stretch_found": sum(r.verdict == "stretch-found" for r in stretch),
        "errors": sum(r.verdict in ("error", "timeout", "absent") for r in results),
        "seconds": round(sum(r.seconds for r in results), 2),
    }


def print_table(results: list[Result], summary: dict[str, object]) -> None:
    rows = [("id", "expected", "got", "verdict", "s")]
    for r in results:
        got = ",".join(r.got) or "-"
        verdict = r.verdict + (f" ({r.detail})" if r.detail else "")
        rows.append((r.case_id, r.expected, got, verdict, f"{r.seconds:.1f}"))
    widths = [max(len(row[i]) for row in rows[:]) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) if i < 4 else cell for i, cell in enumerate(row)))
    recall = summary["recall"]
    recall_text = f"{recall:.0%}" if isinstance(recall, float) else "n/a"
    print(
        f"\nrecall on buggy: {summary['found']}/{summary['buggy']} ({recall_text}); "
        f"false alarms on correct: {summary['false_alarms']}/{summary['correct']}; "
        f"stretch with a finding: {summary['stretch_found']}/{summary['stretch']}; "
        f"errors/timeouts: {summary['errors']}; audit time {summary['seconds']} s"
    )


def print_markdown(results: list[Result], summary: dict[str, object], title: str) -> None:
    """The same table in Markdown, findings with their lines, for bench/results and notes."""
    print(f"### {title}\n")
    print("| id | expected | got (code:line) | verdict |")
    print("| --- | --- | --- | --- |")
    for r in results:
        got = ", ".join(
            f"{f.get('code')}:{f.get('line')}"
            + (f" ({f.get('path')})" if "/" in str(f.get("path")) else "")
            for f in r.findings
        )
        verdict = r.verdict + (f" ({r.detail})" if r.detail else "")
        print(f"| {r.case_id} | {r.expected} | {got or '-'} | {verdict} |")
    recall = summary["recall"]
    recall_text = f"{recall:.0%}" if isinstance(recall, float) else "n/a"
    print(
        f"\nRecall on buggy {summary['found']}/{summary['buggy']} ({recall_text}); false alarms "
        f"{summary['false_alarms']}/{summary['correct']} correct; stretch with a finding "
        f"{summary['stretch_found']}/{summary['stretch']}; errors {summary['errors']}.\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path, help="case list (TSV)")
    parser.add_argument("corpus", type=Path, help="folder written by bench/materialize_corpus.py")
    parser.add_argument("--uprior", default=None, help="uprior executable (default: on PATH)")
    parser.add_argument("--projects", type=Path, default=None, help="whole-project trees by id")
    parser.add_argument("--only", default=None, help="comma-separated case ids")
    parser.add_argument("--all-of", default=DEFAULT_ALL_OF, help="ids needing every code")
    parser.add_argument("--timeout-s", type=float, default=120.0, help="per case")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--markdown", default=None, metavar="TITLE", help="print a Markdown table")
    args = parser.parse_args()

    uprior = args.uprior or shutil.which("uprior")
    if uprior is None or not Path(uprior).exists():
        print(f"--uprior {args.uprior or ''}: no uprior executable; pass its path", file=sys.stderr)
        return 2
    if not args.cases.is_file():
        print(
            f"{args.cases}: no such case list (a TSV like shared/corpus/audit-dev.tsv)",
            file=sys.stderr,
        )
        return 2
    if not args.corpus.is_dir():
        print(
            f"{args.corpus}: not a folder; materialize it first: "
            f"bench/materialize_corpus.py {args.cases} {args.corpus}",
            file=sys.stderr,
        )
        return 2
    cases = read_cases(args.cases)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c.case_id in wanted]
    all_of = set(args.all_of.split(",")) if args.all_of else set()
    results = [
        run_case(c, uprior, args.corpus, args.projects, args.timeout_s, all_of) for c in cases
    ]
    summary = totals(results)
    if args.json:
        json.dump({"totals": summary, "cases": [asdict(r) for r in results]}, sys.stdout, indent=1)
        print()
    elif args.markdown:
        print_markdown(results, summary, args.markdown)
    else:
        print_table(results, summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
