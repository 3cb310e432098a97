"""How fast ``uprior doctor`` reads big runs, and what it finds next to the PyPI tools a user
might try instead.

1. Speed. Inputs are generated into a temporary folder:
   - a 1,000,000-line ``metrics.jsonl`` (our header with a warmup+cosine plan, then train and
     val records of a run that applies a constant LR and diverges), analysed by
     ``diagnose()`` — every reader, check and the recommendation — against the baseline
     "``json.loads`` of every line" (the least any JSONL reader does);
   - a TensorBoard event file with 200,000 scalars (``train/loss`` and ``train/lr``, written
     by ``torch.utils.tensorboard.SummaryWriter``), analysed by ``diagnose()`` against
     tensorboard's ``EventAccumulator(path, size_guidance={'scalars': 0}).Reload()`` (every
     point kept, as the doctor does) loading the same file.
   Each timing is the best of ``--repeat`` runs in this process; the ratios printed are
   ``doctor / baseline`` (below 1: the doctor is faster), for the readers alone
   (``read_inputs``: pyarrow for JSONL, our TFRecord framing + CRC-32C + the ``Event`` proto
   for event files) and for the whole ``diagnose()``.

2. Peers. The original run is re-created (a text log in its format, loss 6.0 → 0.06 at 25K →
   6.74 at 90K; ``config.json`` declaring cosine, 20K warmup, 1e-4, 450K steps; checkpoints
   every 5K in its key layout with a constant LR of 1e-4), plus the same series as CSV and
   JSONL (step, loss, val_loss, lr) for tools that cannot read text logs. ``runmedic``,
   ``gradsnitch`` and ``trainproof`` run on it from their own virtualenv, never the
   project's (their versions are pinned in ``bench/peers/requirements.txt``):

       python3 -m venv /tmp/peers-venv
       /tmp/peers-venv/bin/pip install -r bench/peers/requirements.txt

   Each peer's findings are printed, then a table of what each found of the four facts the
   doctor must establish: LR001 (declared schedule not applied), RUN001 (divergence after
   the best point, within 2 % of 25K), INF001 (the best checkpoint on disk), INF002 (the
   declared plan's LR vs the applied one, and whether that explains the failure). A peer
   that is not installed is reported as such and skipped.

    .venv/bin/python bench/doctor.py [--lines 1000000] [--scalars 200000] [--repeat 3]
                                     [--peers-venv /tmp/peers-venv] [--no-peers] [--no-speed]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unified_prior.doctor import Report, diagnose
from unified_prior.doctor.readers import read_inputs
from unified_prior.schedules import Plan, spec_from_dict
from unified_prior.schedules.plan import Segment

PEERS = ("runmedic", "gradsnitch", "trainproof")
PEER_TIMEOUT_S = 600

# The original run (DESIGN §1).
PEAK_LR, WARMUP, MAX_STEPS = 1e-4, 20_000, 450_000
BEST_STEP, LAST_STEP, CKPT_EVERY, LOG_EVERY = 25_000, 90_000, 5_000, 100
ORIGINAL_CONFIG = {
    "lr_scheduler": "cosine",
    "warmup_steps": WARMUP,
    "learning_rate": PEAK_LR,
    "max_steps": MAX_STEPS,
    "batch_size": 16,
}


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """(best wall time in seconds, last result) over ``repeat`` calls."""
    best, result = math.inf, None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def diverging_loss(steps: np.ndarray, best: float, last: float) -> np.ndarray:
    """6.0 → 0.06 log-linearly until ``best``, then up to 6.74 at ``last``, with 5 % noise."""
    rng = np.random.default_rng(0)
    down = 6.0 * (0.06 / 6.0) ** (np.minimum(steps, best) / best)
    up = (6.74 / 0.06) ** (np.maximum(steps - best, 0) / (last - best))
    return down * up * np.exp(rng.normal(0.0, 0.05, steps.size))


def cosine_plan(max_steps: int) -> Plan:
    spec = spec_from_dict({"kind": "cosine", "warmup_steps": max_steps // 20, "min_lr_ratio": 0.01})
    return Plan((Segment(0, max_steps, PEAK_LR, spec),))


# ---------------------------------------------------------------------------------------
# 1. Speed


def write_jsonl_run(path: Path, lines: int) -> int:
    """Our ``metrics.jsonl`` with exactly ``lines`` lines; returns the number of train steps."""
    val_every = 100
    # header + n train lines + ceil(n / val_every) val lines, topped up with train-only lines
    # where the ceiling jumps past the target.
    n = (lines - 1) * val_every // (val_every + 1)
    while 1 + (n + 1) + -(-(n + 1) // val_every) <= lines:
        n += 1
    while 1 + n + -(-n // val_every) > lines:
        n -= 1
    extra = lines - (1 + n + -(-n // val_every))
    train_steps = n + extra
    steps = np.arange(train_steps)
    loss = diverging_loss(steps, 0.28 * train_steps, train_steps - 1)
    header = {
        "kind": "header",
        "plan": cosine_plan(4 * train_steps).to_list(),
        "config": {"optim": {"learning_rate": PEAK_LR}},
        "version": "bench",
        "resume": None,
    }
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        written += 1
        chunk: list[str] = []
        for step, value in zip(steps.tolist(), loss.tolist(), strict=True):
            chunk.append(
                f'{{"kind": "train", "step": {step}, "loss": {value:.6f}, "lr": 0.0001, '
                f'"grad_norm": {1.0 + value / 10:.4f}}}\n'
            )
            if step % val_every == 0 and step < n:
                chunk.append(f'{{"kind": "val", "step": {step}, "val_loss": {value:.6f}}}\n')
            if len(chunk) >= 50_000:
                out.write("".join(chunk))
                written += len(chunk)
                chunk = []
        out.write("".join(chunk))
        written += len(chunk)
    assert written == lines, (written, lines)
    return train_steps


def write_event_file(folder: Path, scalars: int) -> Path:
    """One event file with ``scalars`` scalars: train/loss and train/lr at each step."""
    from torch.utils.tensorboard import SummaryWriter

    steps = np.arange(scalars // 2)
    loss = diverging_loss(steps, 0.28 * steps.size, steps.size - 1)
    writer = SummaryWriter(str(folder))
    for step, value in zip(steps.tolist(), loss.tolist(), strict=True):
        writer.add_scalar("train/loss", value, step)
        writer.add_scalar("train/lr", PEAK_LR, step)
    writer.close()
    (event_file,) = folder.glob("events.out.tfevents.*")
    return event_file


def json_lines_baseline(path: Path) -> int:
    """Baseline: parse every line with ``json.loads`` and do nothing else."""
    count = 0
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            json.loads(line)
            count += 1
    return count


def event_accumulator_baseline(path: Path) -> dict[str, int]:
    """Baseline: tensorboard's EventAccumulator keeping every scalar."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    accumulator = EventAccumulator(str(path), size_guidance={"scalars": 0})
    accumulator.Reload()
    return {tag: len(accumulator.Scalars(tag)) for tag in accumulator.Tags()["scalars"]}


def codes(report: Report) -> str:
    return " ".join(f.code for f in report.findings) or "(none)"


def speed(work: Path, lines: int, scalars: int, repeat: int, venv: Path | None) -> None:
    print(f"== speed (best of {repeat})")
    jsonl = work / "big" / "metrics.jsonl"
    jsonl.parent.mkdir(parents=True)
    started = time.perf_counter()
    train_steps = write_jsonl_run(jsonl, lines)
    print(
        f"generated {jsonl.name}: {lines:,} lines ({train_steps:,} train steps), "
        f"{jsonl.stat().st_size / 2**20:.0f} MiB in {time.perf_counter() - started:.1f} s"
    )
    base_s, count = best_of(repeat, lambda: json_lines_baseline(jsonl))
    read_s, evidence = best_of(repeat, lambda: read_inputs([jsonl]))
    doctor_s, report = best_of(repeat, lambda: diagnose([jsonl]))
    assert count == lines
    assert len(evidence.series["loss"]) == train_steps, len(evidence.series["loss"])
    print(f"  baseline json.loads per line : {base_s:8.2f} s")
    print(f"  doctor readers (read_inputs) : {read_s:8.2f} s  ({lines / read_s:,.0f} lines/s)")
    print(
        f"  uprior doctor diagnose()     : {doctor_s:8.2f} s  "
        f"({lines / doctor_s:,.0f} lines/s; findings: {codes(report)})"
    )
    print(f"  ratio readers / json.loads   : {read_s / base_s:8.2f}")
    print(f"  ratio doctor / json.loads    : {doctor_s / base_s:8.2f}")
    peer_speed(venv, jsonl, doctor_s, repeat)

    tb = work / "tb"
    started = time.perf_counter()
    event_file = write_event_file(tb, scalars)
    print(
        f"generated {event_file.name}: {scalars:,} scalars, "
        f"{event_file.stat().st_size / 2**20:.1f} MiB in {time.perf_counter() - started:.1f} s"
    )
    ea_s, per_tag = best_of(repeat, lambda: event_accumulator_baseline(event_file))
    read_s, _ = best_of(repeat, lambda: read_inputs([event_file]))
    doctor_s, report = best_of(repeat, lambda: diagnose([event_file]))
    loaded = sum(per_tag.values())
    read = len(report.evidence.series["loss"]) + len(report.evidence.series["lr"])
    assert loaded == read == scalars, (loaded, read, scalars)
    print(f"  baseline EventAccumulator    : {ea_s:8.2f} s  (Reload, size_guidance scalars=0)")
    print(
        f"  uprior doctor diagnose()     : {doctor_s:8.2f} s  "
        f"({scalars / doctor_s:,.0f} scalars/s; findings: {codes(report)})"
    )
    print(f"  doctor readers (read_inputs) : {read_s:8.2f} s  ({scalars / read_s:,.0f} scalars/s)")
    print(f"  ratio readers / EventAccumulator : {read_s / ea_s:.2f}")
    print(f"  ratio doctor / EventAccumulator : {doctor_s / ea_s:.2f}")
    peer_speed(venv, event_file, doctor_s, repeat)


_GRADSNITCH_JSONL = """
import json, sys
import pandas, gradsnitch
frame = pandas.read_json(sys.argv[1], lines=True)
# One row per step (train and val records merged), without our header line.
frame = frame[frame["kind"] != "header"].groupby("step", as_index=False).first()
frame = frame[["step", "loss", "val_loss", "lr", "grad_norm"]]
print(json.dumps([dict(vars(f)) for f in gradsnitch.lint(frame)]))
"""


def peer_speed(venv: Path | None, path: Path, doctor_s: float, repeat: int) -> None:
    """Each installed peer on the same big input, best of ``repeat`` runs like the doctor;
    their time includes starting the interpreter (tenths of a second)."""
    if venv is None:
        return
    is_tb = "tfevents" in path.name
    for name in PEERS:
        if peer_version(venv, name) is None:
            print(f"  {name:<28} : not installed in {venv}")
            continue
        if name == "gradsnitch" and is_tb:
            print(f"  {name:<28} : cannot read TensorBoard files")
            continue
        runs = [peer_once(venv, name, path) for _ in range(repeat)]
        failed = next((o for o in runs if not o.ok), None)
        if failed is not None:
            print(f"  {name:<28} : did not run ({failed.note})")
            continue
        seconds = min(o.seconds for o in runs)
        found = " ".join(line.split(" ", 1)[0] for line in runs[-1].findings) or "(none)"
        print(
            f"  {name:<28} : {seconds:8.2f} s  (findings: {found}); "
            f"ratio doctor / {name} {doctor_s / seconds:.2f}"
        )


def peer_once(venv: Path, name: str, path: Path) -> Outcome:
    if name == "runmedic":
        return runmedic(venv, path, path.name)
    if name == "trainproof":
        return trainproof(venv, path, path.name)
    # gradsnitch's documented API for an existing run is a DataFrame (lint) or a CSV
    # (lint_csv); pandas reads the JSONL for it.
    outcome, out = run_peer(
        [str(venv / "bin" / "python"), "-c", _GRADSNITCH_JSONL, str(path)],
        name,
        path.name,
        ok_codes=(0,),
    )
    if outcome.ok:
        outcome.findings = [f"{f['code']}" for f in json.loads(out)]
    return outcome


# ---------------------------------------------------------------------------------------
# 2. Peers on the original run


def write_original_run(root: Path) -> tuple[Path, Path]:
    """The original run as text log + config + checkpoints, and the same series as CSV and
    JSONL (with the applied LR) for tools that need structured logs."""
    import torch

    text_dir, structured = root / "original", root / "original-structured"
    (text_dir / "checkpoints").mkdir(parents=True)
    structured.mkdir()
    steps = np.arange(0, LAST_STEP + 1, LOG_EVERY)
    losses = diverging_loss(steps, BEST_STEP, LAST_STEP)
    rows: list[dict[str, Any]] = []
    log: list[str] = []
    for step, loss in zip(steps.tolist(), losses.tolist(), strict=True):
        seconds = 6 * 3600 + step // 10
        stamp = f"2025-09-23 {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d},000"
        log.append(f"{stamp} - __main__ - INFO - Step {step:,}: Loss = {loss:.6f}")
        row: dict[str, Any] = {"step": step, "loss": round(loss, 6), "lr": PEAK_LR}
        if step % CKPT_EVERY == 0 and step:
            log.append(f"{stamp} - __main__ - INFO - Validation Loss: {loss * 1.03:.6f}")
            row["val_loss"] = round(loss * 1.03, 6)
        rows.append(row)
    (text_dir / "train.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    for folder in (text_dir, structured):
        (folder / "config.json").write_text(json.dumps(ORIGINAL_CONFIG, indent=2), "utf-8")
    with (structured / "metrics.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=["step", "loss", "val_loss", "lr"])
        writer.writeheader()
        writer.writerows(rows)
    (structured / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8"
    )
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 8)
    optimizer = torch.optim.AdamW(model.parameters(), lr=PEAK_LR)  # no scheduler: the bug
    model(torch.randn(4, 8)).square().mean().backward()
    optimizer.step()
    by_step = dict(zip(steps.tolist(), losses.tolist(), strict=True))
    for step in range(CKPT_EVERY, LAST_STEP + 1, CKPT_EVERY):
        torch.save(
            {
                "model_state_dict": model.state_dict(),
                "optimizer_state_dict": optimizer.state_dict(),
                "step": step,
                "config": dict(ORIGINAL_CONFIG),
                "train_loss": by_step[step],
            },
            text_dir / "checkpoints" / f"checkpoint_step_{step}.pt",
        )
    return text_dir, structured


@dataclass
class Outcome:
    """What one tool said about one input."""

    tool: str
    input: str
    seconds: float
    ok: bool
    findings: list[str] = field(default_factory=list)  # one line each
    text: str = ""  # everything it said, for the fact checks
    note: str = ""


def ours(inputs: list[Path], label: str) -> Outcome:
    seconds, report = best_of(1, lambda: diagnose(inputs))
    lines = []
    for f in report.findings:
        lines.append(f"{f.code} [{f.severity}] {f.title}")
    text = json.dumps(report.to_dict())
    return Outcome("uprior doctor", label, seconds, True, lines, text)


def peer_version(venv: Path, name: str) -> str | None:
    python = venv / "bin" / "python"
    if not python.is_file():
        return None
    done = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({name!r}))"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() if done.returncode == 0 else None


def run_peer(
    command: list[str], tool: str, label: str, ok_codes: tuple[int, ...] = (0, 1)
) -> tuple[Outcome, str]:
    """Run a peer; exit 1 is their "found something", anything else outside ``ok_codes`` a
    failure to run."""
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PEER_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return Outcome(tool, label, PEER_TIMEOUT_S, False, note="timed out"), ""
    seconds = time.perf_counter() - started
    out = done.stdout
    outcome = Outcome(tool, label, seconds, True, text=out + done.stderr)
    if done.returncode not in ok_codes:
        outcome.ok = False
        last = (done.stderr.strip() or out.strip()).splitlines()[-1:] or ["no output"]
        outcome.note = f"exit {done.returncode}: {last[0][:200]}"
    return outcome, out


def runmedic(venv: Path, path: Path, label: str) -> Outcome:
    outcome, out = run_peer(
        [str(venv / "bin" / "runmedic"), "diagnose", str(path), "--json"], "runmedic", label
    )
    if outcome.ok:
        for run in json.loads(out):
            for f in run["findings"]:
                step = f" (step {f['step']:g})" if f.get("step") is not None else ""
                outcome.findings.append(f"{f['check']} [{f['severity']}] {f['title']}{step}")
    return outcome


def trainproof(venv: Path, path: Path, label: str) -> Outcome:
    outcome, out = run_peer(
        [str(venv / "bin" / "trainproof"), "doctor", str(path), "--json"], "trainproof", label
    )
    if out.strip().startswith("{"):
        data = json.loads(out)
        if data.get("error"):
            outcome.ok, outcome.note = False, str(data["error"])
        for report in data.get("reports", []):
            for f in report["findings"]:
                outcome.findings.append(
                    f"{f['id']} [{f['level']}] {f['message']} ({f.get('evidence', '')})"
                )
    return outcome


_GRADSNITCH = """
import json, sys
import gradsnitch
print(json.dumps([dict(vars(f)) for f in gradsnitch.lint_csv(sys.argv[1])]))
"""


def gradsnitch(venv: Path, path: Path, label: str) -> Outcome:
    # gradsnitch has no command line for files (``python -m gradsnitch`` runs its self-test);
    # its documented entry point for an existing run is ``lint_csv(path)``.
    outcome, out = run_peer(
        [str(venv / "bin" / "python"), "-c", _GRADSNITCH, str(path)],
        "gradsnitch",
        label,
        ok_codes=(0,),
    )
    if outcome.ok:
        for f in json.loads(out):
            outcome.findings.append(
                f"{f['code']} [{f['severity']}] {f['name']}: {f.get('evidence', '')}"
            )
    return outcome


def facts(outcome: Outcome) -> dict[str, str]:
    """Which of the four facts an outcome established, read from what it printed."""
    text = outcome.text
    if not outcome.ok:
        return dict.fromkeys(("LR001", "RUN001", "INF001", "INF002"), "could not run")
    found: dict[str, str] = {}
    # LR001: says the declared/configured schedule was not applied.
    found["LR001"] = (
        "yes"
        if re.search(
            r"LR001|(declared|configured|config)[^.\n]{0,80}schedul[^.\n]{0,80}"
            r"(not applied|never|ignored|constant)",
            text,
            re.IGNORECASE,
        )
        else "no"
    )
    # RUN001: a divergence finding, and the step it names as the best point / turn.
    if outcome.tool == "uprior doctor":
        best = json.loads(text)["best"]["step"]
        steps = [float(best)] if best is not None else []
        diverged = "RUN001" in text
    else:
        diverged = bool(re.search(r"diverg|sustained rise", text, re.IGNORECASE))
        steps = [
            float(s) for s in re.findall(r'(?:after step|"step":)\s*([\d.]+)', text) if float(s) > 0
        ]
    if not diverged:
        found["RUN001"] = "no"
    elif not steps:
        found["RUN001"] = "divergence, no step"
    else:
        off = abs(steps[0] - BEST_STEP) / BEST_STEP
        found["RUN001"] = f"{'yes' if off <= 0.02 else 'off'}: step {steps[0]:,.0f} ({off:.0%})"
    # INF001: names a checkpoint file as the one to use (ours: the report's best checkpoint).
    if outcome.tool == "uprior doctor":
        chosen = json.loads(text)["best"]["checkpoint"] or ""
        named = re.findall(r"checkpoint_step_(\d+)\.pt", chosen)
    else:
        named = re.findall(r"checkpoint_step_(\d+)\.pt", text)
    found["INF001"] = f"yes: step {int(named[0]):,}" if named else "no"
    # INF002: the declared plan's LR next to the applied one (0.937 at 90K), with a verdict.
    found["INF002"] = (
        "yes" if re.search(r"INF002|0\.93[67]|counterfactual", text, re.IGNORECASE) else "no"
    )
    return found


def peers(work: Path, venv: Path) -> None:
    print(f"\n== the original run: uprior doctor and its PyPI peers (peers from {venv})")
    text_dir, structured = write_original_run(work / "peers")
    print(
        f"inputs: {text_dir.name}/ (train.log, config.json, 18 checkpoints), "
        f"{structured.name}/ (metrics.csv, metrics.jsonl, config.json)"
    )
    outcomes = [
        ours([text_dir], "text log + config + checkpoints"),
        ours([structured / "metrics.jsonl", structured / "config.json"], "JSONL + config"),
    ]
    for name in PEERS:
        version = peer_version(venv, name)
        if version is None:
            print(
                f"  {name}: not installed in {venv} — skipped "
                f"(install: {venv}/bin/pip install -r bench/peers/requirements.txt)"
            )
            continue
        print(f"  {name} {version}: installed")
        if name == "runmedic":
            outcomes.append(runmedic(venv, text_dir, "text log + config + checkpoints"))
            outcomes.append(runmedic(venv, structured / "metrics.csv", "CSV"))
        elif name == "trainproof":
            outcomes.append(trainproof(venv, text_dir, "text log + config + checkpoints"))
            outcomes.append(trainproof(venv, structured / "metrics.jsonl", "JSONL"))
        else:
            outcomes.append(
                Outcome(
                    "gradsnitch",
                    "text log + config + checkpoints",
                    0.0,
                    False,
                    note="no reader for text logs, configs or checkpoints (API: lint_csv, lint)",
                )
            )
            outcomes.append(gradsnitch(venv, structured / "metrics.csv", "CSV"))
    for o in outcomes:
        status = f"{o.seconds:.2f} s" if o.ok else f"did not run: {o.note}"
        print(f"\n-- {o.tool} on {o.input} ({status})")
        for line in o.findings or (["(no findings)"] if o.ok else []):
            print(f"   {line}")
    print(
        "\n== facts established (LR001 schedule not applied; RUN001 best ≈ 25K;\n"
        "   INF001 best checkpoint on disk; INF002 declared-vs-applied counterfactual)"
    )
    header = f"{'tool':<15} {'input':<33} {'LR001':<14} {'RUN001':<22} {'INF001':<16} INF002"
    print(header)
    print("-" * len(header))
    for o in outcomes:
        f = facts(o)
        print(
            f"{o.tool:<15} {o.input:<33} {f['LR001']:<14} {f['RUN001']:<22} "
            f"{f['INF001']:<16} {f['INF002']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="JSONL lines")
    parser.add_argument("--scalars", type=int, default=200_000, help="TensorBoard scalars")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per measurement")
    parser.add_argument(
        "--peers-venv",
        type=Path,
        default=Path(os.environ.get("PEERS_VENV", "/tmp/peers-venv")),
        help="virtualenv holding runmedic, gradsnitch and trainproof",
    )
    parser.add_argument("--no-peers", action="store_true", help="skip the peer comparison")
    parser.add_argument("--no-speed", action="store_true", help="skip the timings")
    args = parser.parse_args()
    print(
        f"python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPU(s), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    with tempfile.TemporaryDirectory(prefix="uprior-bench-doctor-") as tmp:
        work = Path(tmp)
        if not args.no_speed:
            venv = None if args.no_peers else args.peers_venv
            speed(work, args.lines, args.scalars, args.repeat, venv)
        if not args.no_peers:
            peers(work, args.peers_venv)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
