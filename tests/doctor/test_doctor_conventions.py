"""Declared schedules from the files other frameworks write, with their conventions:
YOLOv8 ``args.yaml`` / YOLOv5 ``opt.yaml`` + ``hyp.yaml`` (per-epoch LambdaLR to ``lrf``),
detectron2 ``config.yaml`` (``SOLVER.*``: warmup factor × multistep), DETR's printed
``Namespace(lr=…, lr_drop=…)``, Lightning ``hparams.yaml``."""

from __future__ import annotations

import json
import math
from pathlib import Path

import yaml

from unified_prior.doctor import diagnose
from unified_prior.doctor.conventions.detr import parse_namespace


def _codes(report, severities=("error", "warning")):
    return {f.code for f in report.findings if f.severity in severities}


def _yolo_lf(epoch: int, epochs: int, lrf: float) -> float:
    return (1 - epoch / epochs) * (1.0 - lrf) + lrf


def _write_yolov5(folder: Path, lr_for_epoch) -> None:
    """results.csv as YOLOv5 writes it (x/lr0 is the bias group, x/lr1 and x/lr2 weights)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = ["epoch", "train/box_loss", "train/obj_loss", "train/cls_loss", "metrics/precision",
             "metrics/recall", "metrics/mAP_0.5", "metrics/mAP_0.5:0.95", "val/box_loss",
             "val/obj_loss", "val/cls_loss", "x/lr0", "x/lr1", "x/lr2"]  # fmt: skip
    rows = [",".join(f"{n:>20}" for n in names)]
    for e in range(60):
        loss = 0.05 * math.exp(-e / 30) + 0.01
        lr = lr_for_epoch(e)
        values = [e, loss, loss / 2, loss / 3, 0.5, 0.5, 0.5, 0.3, loss, loss / 2, loss / 3,
                  lr * (1 + 10 * (e < 3)), lr, lr]  # fmt: skip
        rows.append(",".join(f"{v:>20.5g}" for v in values))
    (folder / "results.csv").write_text("\n".join(rows) + "\n")
    hyp = {"lr0": 0.01, "lrf": 0.01, "momentum": 0.937, "warmup_epochs": 3.0,
           "warmup_bias_lr": 0.1}  # fmt: skip
    (folder / "hyp.yaml").write_text(yaml.safe_dump(hyp))
    opt = {"weights": "yolov5s.pt", "epochs": 60, "batch_size": 16, "cos_lr": False, "hyp": hyp}
    (folder / "opt.yaml").write_text(yaml.safe_dump(opt))


def _needs_epoch_clock(report) -> None:
    # results.csv logs no step: the readers count its epochs (issue 11, item 1), and the
    # schedule is judged in epochs; a reader that lost the epoch clock fails here.
    assert report.evidence.step_unit == "epoch"


def test_yolov5_linear_schedule_is_applied(tmp_path: Path) -> None:
    def lr(e: int) -> float:
        return 0.01 * _yolo_lf(e, 60, 0.01) * (min(1.0, (e + 1) / 3))  # warmup epochs differ

    _write_yolov5(tmp_path / "exp", lr)
    report = diagnose([tmp_path / "exp"])
    _needs_epoch_clock(report)
    d = report.declared
    assert d is not None and d.convention == "yolo" and d.unit == "epoch"
    assert d.compare_from == 4  # warmup epochs are logged per epoch: not compared
    assert d.plan.lr_at(59) == 0.01 * _yolo_lf(59, 60, 0.01)
    assert report.lr_verdict == "applied"
    assert {"LR001", "LR002", "LR003"}.isdisjoint(_codes(report))


def test_yolov5_resumed_with_more_epochs_is_lr003(tmp_path: Path) -> None:
    # Trained for 40 epochs of a 40-epoch plan, resumed at 25 with --epochs 60.
    def lr(e: int) -> float:
        return 0.01 * _yolo_lf(e, 40 if e < 25 else 60, 0.01)

    _write_yolov5(tmp_path / "exp", lr)
    report = diagnose([tmp_path / "exp"])
    _needs_epoch_clock(report)
    lr003 = [f for f in report.findings if f.code == "LR003"]
    assert lr003, [(f.code, f.title) for f in report.findings]
    assert lr003[0].evidence["events"][0]["step"] == 25
    assert "LR001" not in _codes(report)


def _write_d2(folder: Path, gamma_applied: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    solver = {"BASE_LR": 0.00025, "GAMMA": 0.1, "STEPS": [3000], "MAX_ITER": 4000,
              "WARMUP_ITERS": 1000, "WARMUP_FACTOR": 0.001, "WARMUP_METHOD": "linear",
              "LR_SCHEDULER_NAME": "WarmupMultiStepLR", "IMS_PER_BATCH": 2}  # fmt: skip
    (folder / "config.yaml").write_text(yaml.safe_dump({"SOLVER": solver, "MODEL": {}}))
    lines = []
    for it in range(19, 4000, 20):
        warm = 0.001 * (1 - it / 1000) + it / 1000 if it < 1000 else 1.0
        lr = 0.00025 * warm * (gamma_applied if it >= 3000 else 1.0)
        record = {"data_time": 0.01, "iteration": it, "lr": lr,
                  "total_loss": 2.5 * math.exp(-it / 1500) + 0.5}  # fmt: skip
        lines.append(json.dumps(record))
    (folder / "metrics.json").write_text("\n".join(lines) + "\n")


def test_detectron2_warmup_multistep_is_applied(tmp_path: Path) -> None:
    _write_d2(tmp_path / "output", 0.1)
    report = diagnose([tmp_path / "output"])
    d = report.declared
    assert d is not None and d.convention == "detectron2" and d.kind == "multistep"
    assert d.plan.lr_at(0) == 0.00025 * 0.001
    assert abs(d.plan.lr_at(3500) - 0.000025) < 1e-12
    assert report.lr_verdict == "applied" and _codes(report) == set()


def test_detectron2_drop_not_applied_is_reported(tmp_path: Path) -> None:
    _write_d2(tmp_path / "output", 1.0)  # the drop at 3000 never happened
    report = diagnose([tmp_path / "output"])
    assert report.lr_verdict != "applied"
    assert _codes(report) & {"LR001", "LR002"}


NAMESPACE = (
    "Namespace(lr=0.0001, lr_backbone=1e-05, batch_size=2, weight_decay=0.0001, epochs=30, "
    "lr_drop=20, clip_max_norm=0.1, frozen_weights=None, backbone='resnet50', dilation=False, "
    "position_embedding='sine', enc_layers=6, dec_layers=6, dim_feedforward=2048, "
    "hidden_dim=256, dropout=0.1, nheads=8, num_queries=100, pre_norm=False, masks=False, "
    "aux_loss=True, set_cost_class=1, dataset_file='coco', coco_path='/data/coco', "
    "output_dir='output', device='cuda', seed=42, resume='', start_epoch=0, eval=False, "
    "num_workers=2, world_size=1, dist_url='env://', distributed=False)"
)


def test_namespace_is_parsed_without_evaluating_it() -> None:
    values = parse_namespace("| distributed init (rank 0)\n" + NAMESPACE)
    assert values is not None and values["lr"] == 1e-4 and values["lr_drop"] == 20
    assert parse_namespace("Namespace(lr=__import__('os').system('true'), epochs=3)") == {
        "epochs": 3
    }


def test_detr_step_drop_declared_by_the_printed_namespace(tmp_path: Path) -> None:
    (tmp_path / "train.out").write_text("Not using distributed mode\n" + NAMESPACE + "\n")
    lines = []
    for epoch in range(30):
        lr = 1e-4 * (0.1 if epoch >= 20 else 1.0)
        loss = 3.0 * math.exp(-epoch / 10) + 1.0
        record = {"train_lr": lr, "train_loss": loss, "test_loss": loss * 1.1,
                  "epoch": epoch, "n_parameters": 41302368}  # fmt: skip
        lines.append(json.dumps(record))
    (tmp_path / "log.txt").write_text("\n".join(lines) + "\n")
    report = diagnose([tmp_path])
    d = report.declared
    assert d is not None and d.convention == "detr" and d.unit == "epoch"
    assert d.plan.lr_at(19) == 1e-4 and abs(d.plan.lr_at(20) - 1e-5) < 1e-15


def test_lightning_hparams_declare_a_schedule(tmp_path: Path) -> None:
    folder = tmp_path / "lightning_logs" / "version_0"
    folder.mkdir(parents=True)
    hparams = {"lr": 1e-3, "warmup_steps": 100, "max_steps": 2000, "scheduler": "cosine",
               "hidden": 128}  # fmt: skip
    (folder / "hparams.yaml").write_text(yaml.safe_dump(hparams))
    rows = ["epoch,lr-AdamW,step,train_loss"]
    for step in range(0, 2000, 20):
        warm = step / 100 if step < 100 else 0.5 * (1 + math.cos(math.pi * (step - 100) / 1900))
        rows.append(f"{step // 200},{1e-3 * warm:.8g},{step},{1.0 + math.exp(-step / 300):.5f}")
    (folder / "metrics.csv").write_text("\n".join(rows) + "\n")
    report = diagnose([folder])
    d = report.declared
    assert d is not None and d.convention == "lightning" and d.kind == "cosine"
    assert any("Lightning" in a for a in d.assumed)
    assert report.lr_verdict == "applied" and _codes(report) == set()


def test_expect_counts_the_logs_own_clock(tmp_path: Path) -> None:
    # --expect on a per-epoch log: the numbers typed are epochs, as the log counts.
    def lr(e: int) -> float:
        return 0.01 * _yolo_lf(e, 60, 0.01)

    _write_yolov5(tmp_path / "exp", lr)
    report = diagnose([tmp_path / "exp" / "results.csv"], expect="linear lr=0.01 max_steps=60")
    _needs_epoch_clock(report)
    assert report.declared.unit == "epoch" and report.declared.convention == "yolo"
    assert report.lr_verdict == "applied"
    assert "LR001" not in _codes(report)
