"""``uprior demo``: the main job end to end on the bundled sample data.

Builds tiles from scikit-image's sample images, trains the tiny prior of
``configs/demo.toml`` on CPU, evaluates it with fixed noise, plots the run, draws samples
from the prior and restores a noisy val tile with it, and ends with the doctor's report on
the run — the same path a production run takes, small enough for 2 cores.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from unified_prior.config import load_config
from unified_prior.data.sample import write_sample_dataset
from unified_prior.train.loop import train
from unified_prior.train.plots import plot_run


@dataclass(frozen=True)
class DemoResult:
    run_dir: Path
    best_checkpoint: Path | None
    first_val_loss: float
    last_val_loss: float
    plots: list[Path]
    report_dir: Path | None
    report_exit_code: int | None
    sample_grids: list[Path]
    restoration_figure: Path | None


def demo_config_path() -> Path:
    return Path(str(resources.files("unified_prior") / "configs" / "demo.toml"))


def run_demo(out: Path, *, overrides: list[str] | None = None) -> DemoResult:
    """Run the whole demo into ``out`` (``out/data`` tiles, ``out/run`` the run)."""
    data_dir = out / "data"
    if not any(data_dir.glob("*/*/*.pt")):
        print(write_sample_dataset(data_dir).describe())
    run_dir = out / "run"
    if run_dir.exists():
        print(f"replacing the previous demo run in {run_dir}")
        shutil.rmtree(run_dir)
    config = load_config(demo_config_path(), [f"data.root={data_dir}", *(overrides or [])])
    result = train(config, run_dir)
    val = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        if '"kind": "val"' in line
    ]
    plots = plot_run(run_dir)
    from unified_prior.doctor import diagnose, write_reports

    report = diagnose([run_dir])
    write_reports(report, run_dir / "report")
    best = run_dir / "checkpoints" / "best.pt"
    # Use the prior: a sample grid per domain and one restoration figure, from the EMA
    # weights the run ends with (its last checkpoint). Written beside the run, not in it, so
    # that the sample tiles are never taken for the run's checkpoints by a later doctor.
    from unified_prior.prior.figures import write_demo_figures
    from unified_prior.train.checkpoint import list_checkpoints

    saved = list_checkpoints(run_dir / "checkpoints")
    figures = write_demo_figures(saved[-1][1], data_dir, out / "prior") if saved else None
    return DemoResult(
        run_dir=run_dir,
        best_checkpoint=best if best.exists() and result.best_step is not None else None,
        first_val_loss=float(val[0]["val_loss"]),
        last_val_loss=float(val[-1]["val_loss"]),
        plots=plots,
        report_dir=run_dir / "report",
        report_exit_code=report.exit_code,
        sample_grids=figures.sample_grids if figures else [],
        restoration_figure=figures.restoration if figures else None,
    )
