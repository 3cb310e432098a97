"""Throughput of ``uprior audit`` (lines/s) against TorchFix on the same files.

TorchFix (``pip install torchfix``; a bench-only peer, not a project dependency) is the
PyTorch linter the issue names: libcst visitors, rules like TOR102. Both tools get the same
in-memory sources (file reading is not timed) and run their whole pipeline from text to
findings, one process, one thread: ``audit_source`` for us, TorchFix's flake8 checker
(``TorchChecker(...).run()``, libcst parse + every visitor) for it. ``ast.parse`` alone is
printed too, as the floor any ast-based tool pays.

    .venv/bin/python bench/audit.py                       # installed torch package, 50k lines
    .venv/bin/python bench/audit.py --tree DIR --max-lines 0   # a whole tree

The files are those under ``--tree`` (sorted, skipping virtualenvs and ``.git`` like the
audit does) that mention ``torch`` (TorchFix skips the others unparsed, so they would flatter
it) and that parse under this Python.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path


def default_tree() -> Path:
    import torch

    return Path(torch.__file__).parent


def collect(tree: Path, max_lines: int) -> list[tuple[str, str]]:
    from unified_prior.audit import iter_python_files

    out: list[tuple[str, str]] = []
    total = 0
    for path in iter_python_files([tree]):
        try:
            text = path.read_text(encoding="utf-8")
            ast.parse(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        if "torch" not in text:
            continue
        out.append((str(path), text))
        total += text.count("\n")
        if max_lines and total >= max_lines:
            break
    return out


def timed(label: str, run, sources: list[tuple[str, str]], lines: int) -> float:
    """Lines per CPU second of this process (the machine is shared: wall time is printed
    too, but CPU time is what the ratio uses)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(sources)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    rate = lines / cpu
    print(f"{label:<26} cpu {cpu:7.2f} s  wall {wall:7.2f} s  {rate:10,.0f} lines/s  {result}")
    return rate


def run_parse(sources: list[tuple[str, str]]) -> str:
    for path, text in sources:
        ast.parse(text, filename=path)
    return ""


def run_uprior(sources: list[tuple[str, str]]) -> str:
    from unified_prior.audit import audit_source

    n = sum(len(audit_source(text, path)) for path, text in sources)
    return f"{n} findings"


def run_torchfix(sources: list[tuple[str, str]]) -> str:
    from torchfix.torchfix import TorchChecker

    n = failed = 0
    for _, text in sources:
        try:
            n += len(list(TorchChecker(None, text.splitlines(keepends=True)).run()))
        except Exception:  # libcst rejects a few files ast accepts; count, keep going
            failed += 1
    return f"{n} findings" + (f", {failed} files failed" if failed else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=None, help="default: installed torch")
    # TorchFix runs at a few hundred lines per CPU second here: 50k lines keep it near 2 min.
    parser.add_argument("--max-lines", type=int, default=50_000, help="0 = every file")
    args = parser.parse_args()
    tree = args.tree or default_tree()
    if not tree.is_dir():
        print(f"--tree {tree}: not a folder; pass a source tree", file=sys.stderr)
        return 2
    sources = collect(tree, args.max_lines)
    lines = sum(text.count("\n") for _, text in sources)
    print(f"tree: {tree}")
    print(f"files: {len(sources)}  lines: {lines:,}  python {sys.version.split()[0]}")
    parse = timed("ast.parse only (floor)", run_parse, sources, lines)
    ours = timed("uprior audit", run_uprior, sources, lines)
    print(f"ratio uprior/ast.parse: {ours / parse:.3f}")
    try:
        import torchfix  # noqa: F401
    except ImportError:
        print("TorchFix is not installed: `pip install torchfix` to compare against it.")
        return 0
    theirs = timed("TorchFix (flake8 checker)", run_torchfix, sources, lines)
    print(f"ratio uprior/TorchFix: {ours / theirs:.2f}x (lines/s, higher = uprior faster)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
