"""Materialize a corpus case list into a git-ignored folder from local repository snapshots.

    python bench/materialize_corpus.py CASES.tsv OUT [--mirror /work/.mirror]

CASES.tsv is in the format of ``shared/corpus/audit-dev.tsv`` (id, repo, path, commit, ...)
or ``doctor-dev.tsv`` (case, repo, comma-separated paths, commit, ...). Each file is written
with ``git show COMMIT:PATH`` to ``OUT/<id>/<path>``; the path ``.`` stands for the whole
repository tree at COMMIT (``git archive``), for cases that audit a project as a user
would. The snapshots come from the session's ``fetch`` tool
(``/work/.mirror/<owner>+<name>/repo``); a repository that is not there is listed at the
end so that it can be fetched, and nothing else is downloaded. Third-party files must never
be committed: keep OUT out of git (``.corpus/`` is ignored).
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


def whole_tree(gd: Path, commit: str, out: Path, case: str) -> bool:
    """The repository's tree at COMMIT under OUT/<id>/, blob by blob.

    Not ``git archive``: snapshots leave out files of 4 MiB and more, and archive stops at the
    first missing blob; here a missing blob (a dataset, a weight file) is skipped and counted.
    """
    listed = subprocess.run(
        ["git", f"--git-dir={gd}", "ls-tree", "-r", "-z", commit], capture_output=True
    )
    if listed.returncode != 0:
        print(f"{case}: ls-tree {commit}: {listed.stderr.decode().strip()}")
        return False
    entries = []  # (object id, path) of regular files; links and submodules are left out
    for record in listed.stdout.decode().split("\0"):
        if not record:
            continue
        meta, path = record.split("\t", 1)
        mode, kind, oid = meta.split()
        if kind == "blob" and mode in ("100644", "100755"):
            entries.append((oid, path))
    batch = subprocess.run(
        ["git", f"--git-dir={gd}", "cat-file", "--batch"],
        input="".join(f"{oid}\n" for oid, _ in entries).encode(),
        capture_output=True,
    )
    data, pos, missing = batch.stdout, 0, 0
    for _oid, path in entries:
        header_end = data.index(b"\n", pos)
        header = data[pos:header_end].split()
        pos = header_end + 1
        if header[-1] == b"missing":
            missing += 1
            continue
        size = int(header[2])
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data[pos : pos + size])
        pos += size + 1
    if missing:
        print(f"{case}: {missing} file(s) absent from the snapshot (large files), left out")
    return True


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
            if path == ".":
                if whole_tree(gd, commit, args.out / case, case):
                    written += 1
                else:
                    failed += 1
                continue
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
