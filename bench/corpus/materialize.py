"""Materialize a corpus case list into a git-ignored folder from local repository snapshots.

    python bench/corpus/materialize.py CASES.tsv OUT [--mirror /work/.mirror]

CASES.tsv is in the format of ``shared/corpus/audit-dev.tsv`` (id, repo, path, commit, ...)
or ``doctor-dev.tsv`` (case, repo, comma-separated paths, commit, ...). Each file is written
with ``git show COMMIT:PATH`` to ``OUT/<id>/<path>``. The snapshots come from the session's
``fetch`` tool (``/work/.mirror/<owner>+<name>/repo``); a repository that is not there is
listed at the end so that it can be fetched, and nothing else is downloaded. Third-party
files must never be committed: keep OUT out of git (``.corpus/`` is ignored).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def git_dir(mirror: Path, repo: str) -> Path | None:
    root = mirror / repo.replace("/", "+") / "repo"
    for candidate in (root / ".git", root):
        if (candidate / "HEAD").exists():
            return candidate
    return None


def read_cases(cases: Path) -> list[tuple[str, str, list[str], str]]:
    rows = []
    for line in cases.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) < 4:
            continue
        case, repo, paths, commit = fields[:4]
        rows.append((case, repo, [p for p in paths.split(",") if p], commit))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    args = parser.parse_args()
    missing: set[str] = set()
    written = failed = 0
    for case, repo, paths, commit in read_cases(args.cases):
        gd = git_dir(args.mirror, repo)
        if gd is None:
            missing.add(repo)
            continue
        for path in paths:
            target = args.out / case / path
            shown = subprocess.run(
                ["git", f"--git-dir={gd}", "show", f"{commit}:{path}"],
                capture_output=True,
            )
            if shown.returncode != 0:
                failed += 1
                print(f"{case}: {repo}@{commit}:{path}: {shown.stderr.decode().strip()}")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(shown.stdout)
            written += 1
    print(f"wrote {written} files under {args.out}; {failed} failed")
    for repo in sorted(missing):
        print(f"not in the mirror (fetch github:{repo} first): {repo}")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
