"""The readers on trimmed real logs (tests/doctor/fixtures/real/README.md names each source):
one mapping of names whatever the format, the clock each log has, runs told apart."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from unified_prior.doctor.readers import explain_unreadable, read_inputs

REAL = Path(__file__).parent / "fixtures" / "real"


def _dict(series) -> dict[int, float]:
    return dict(zip(series.steps.tolist(), series.values.tolist(), strict=True))


def _csv_rows(path: Path) -> list[dict[str, float]]:
    with path.open() as handle:
        rows = list(csv.reader(handle))
    names = [n.strip() for n in rows[0]]
    return [dict(zip(names, map(float, r), strict=True)) for r in rows[1:]]


def test_yolov5_csv_and_its_event_file_give_the_same_series() -> None:
    folder = REAL / "yolov5-helmet-csv-and-tb"
    from_csv = read_inputs([folder / "results.csv"])
    (event,) = folder.glob("events.out.tfevents.*")
    from_tb = read_inputs([event])
    rows = _csv_rows(folder / "results.csv")
    for name in ("loss", "val_loss", "lr"):
        a, b = from_csv.series[name], from_tb.series[name]
        assert np.array_equal(a.steps, b.steps) and len(a) == 40
        # TensorBoard stores float32, results.csv five significant digits.
        np.testing.assert_allclose(a.values, b.values, rtol=2e-4, atol=1e-7)
    # Training loss: YOLO's own total, the sum of its parts.
    expected = [r["train/box_loss"] + r["train/obj_loss"] + r["train/cls_loss"] for r in rows]
    np.testing.assert_allclose(from_csv.series["loss"].values, expected)
    # LR: group 1 (weights), not group 0 (biases, warmed down from warmup_bias_lr=0.1).
    assert rows[0]["x/lr0"] > 10 * rows[0]["x/lr1"]
    assert from_csv.series["lr"].values[0] == pytest.approx(rows[0]["x/lr1"])
    assert "x/lr0" in from_csv.other and "x/lr0" in from_tb.other
    assert from_csv.step_unit == from_tb.step_unit == "epoch"
    # Given together (the run folder), they are one run logged twice, not two runs.
    both = read_inputs([folder])
    assert len(both.runs) == 1 and len(both.series["loss"]) == 40


def test_yolov8_parts_summed_and_main_group_lr() -> None:
    ev = read_inputs([REAL / "yolov8-fire" / "results.csv"])
    rows = _csv_rows(REAL / "yolov8-fire" / "results.csv")
    val = [r["val/box_loss"] + r["val/cls_loss"] + r["val/dfl_loss"] for r in rows]
    np.testing.assert_allclose(ev.series["val_loss"].values, val)
    np.testing.assert_allclose(ev.series["lr"].values, [r["lr/pg1"] for r in rows])
    assert sorted(k for k in ev.series if k.startswith("val_loss/")) == [
        "val_loss/val/box_loss",
        "val_loss/val/cls_loss",
        "val_loss/val/dfl_loss",
    ]
    assert "metrics/mAP50-95(B)" in ev.other
    assert ev.inputs[0].clock == "epoch" and len(ev.series["loss"]) == 25


def test_yolov5_resume_shows_the_lr_jump() -> None:
    ev = read_inputs([REAL / "yolov5-resume" / "results.csv"])
    lr = _dict(ev.series["lr"])
    assert len(lr) == 130
    assert lr[112] / lr[111] == pytest.approx(1.39, abs=0.02)  # the +39% at the resume


def test_detr_two_runs_appended_in_one_file_are_told_apart() -> None:
    path = REAL / "detr-appended" / "log.txt"
    ev = read_inputs([path])
    assert [r.kind for r in ev.resumes] == ["restart"]
    assert len(ev.runs) == 2
    main, other = ev.runs
    assert main.points == 12 and other.points == 10  # epochs 0-11 of run 2; 0-9 of run 1
    assert len(ev.series["loss"]) == 12 and ev.step_unit == "epoch"
    first = json.loads(path.read_text().splitlines()[10])
    assert ev.series["loss"].values[0] == pytest.approx(first["train_loss"])
    assert ev.series["val_loss"].values[0] == pytest.approx(first["test_loss"])
    assert "different run" in other.reason and ev.notes


def test_llmc_lines() -> None:
    ev = read_inputs([REAL / "llmc" / "main.log"])
    loss, lr = _dict(ev.series["loss"]), _dict(ev.series["lr"])
    assert loss[0] == 11.0091 and lr[0] == 1e-6 and _dict(ev.series["grad_norm"])[0] == 15.37
    assert _dict(ev.series["val_loss"]) == {0: 11.0092, 250: 6.1710}
    assert ev.step_unit == "step" and len(loss) == 298


def test_epoch_lines_use_the_epoch_as_the_clock() -> None:
    ev = read_inputs([REAL / "epoch-lines" / "train.log"])
    assert ev.step_unit == "epoch"
    assert _dict(ev.series["loss"])[1] == 4.0520 and _dict(ev.series["val_loss"])[1] == 3.2508
    assert len(ev.series["loss"]) == 17
    assert ev.inputs[0].clock == "epoch" and "epoch" in ev.inputs[0].note


def test_tsv_printed_to_a_log() -> None:
    ev = read_inputs([REAL / "tsv-log" / "train.log"])
    loss = ev.series["loss"]
    assert len(loss) == 120 and loss.steps[0] == 10 and loss.values[0] == 8.460716


def test_detectron2_metrics_json() -> None:
    ev = read_inputs([REAL / "d2-metrics" / "metrics.json"])
    first = json.loads((REAL / "d2-metrics" / "metrics.json").read_text().splitlines()[0])
    assert ev.series["loss"].values[0] == pytest.approx(first["total_loss"])
    assert ev.series["lr"].values[0] == pytest.approx(first["lr"])
    assert ev.series["loss"].steps[0] == first["iteration"] == 19
    assert "fast_rcnn/cls_accuracy" in ev.other and "loss_cls" in ev.other


def test_hf_stdout_beside_trainer_state_is_not_merged(tmp_path: Path) -> None:
    ev = read_inputs([REAL / "hf-cpt"])
    state = json.loads((REAL / "hf-cpt" / "trainer_state.json").read_text())
    stepped = [e for e in state["log_history"] if "loss" in e]
    assert len(ev.series["loss"]) == len(stepped) and ev.step_unit == "step"
    assert ev.series["loss"].steps[0] == stepped[0]["step"]
    (aside,) = ev.runs[1:]
    assert aside.clock == "record" and aside.sources[0].endswith("cmd.txt")
    # The printed Seq2SeqTrainingArguments block is configuration, not metrics.
    args = next(c for s, c in ev.configs if "cmd.txt:" in s)
    assert args["learning_rate"] == 2e-05 and args["lr_scheduler_type"] == "linear"


def test_one_point_is_not_enough_data() -> None:
    ev = read_inputs([REAL / "hf-1entry" / "trainer_state.json"])
    assert ev.loss_points == 1 and not ev.enough_data


def test_lightning_resume_in_a_later_version_folder() -> None:
    ev = read_inputs([REAL / "pl-resume"])
    assert len(ev.runs) == 1
    assert [(r.step, r.kind) for r in ev.resumes] == [(140_749, "resume")]
    loss = ev.series["loss"]
    assert loss.steps[0] == 49 and 140_749 in loss.steps.tolist()
    assert loss.values[0] == pytest.approx(7.628580570220947)  # train_loss_step
    assert _dict(ev.series["epoch"])[140_749] == 10


def test_hf_checkpoint_state_and_final_state_are_one_run() -> None:
    ev = read_inputs([REAL / "hf-whisper"])
    assert len(ev.runs) == 1 and not ev.notes
    facts = next(c for s, c in ev.configs if s.endswith("hf-whisper/trainer_state.json"))
    assert facts["best_model_checkpoint"].endswith("checkpoint-3000")
    assert "best_metric" in facts and facts["max_steps"] == 5000


def test_two_unrelated_runs_given_together_are_kept_apart(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    shutil.copytree(REAL / "hf-cpt", a)
    (a / "cmd.txt").unlink()
    shutil.copytree(REAL / "hf-whisper", b)
    ev = read_inputs([a, b])
    assert len(ev.runs) == 2
    assert len(ev.series["loss"]) == max(r.points for r in ev.runs)
    assert "different run" in ev.runs[1].reason and ev.notes


def test_an_unreadable_log_says_what_was_tried(tmp_path: Path) -> None:
    prose = tmp_path / "notes.txt"
    prose.write_text("We trained the model for a while.\nIt went well, mostly.\n")
    ev = read_inputs([prose])
    assert not ev.series
    message = explain_unreadable(ev)
    assert "notes.txt" in message and "tried 2 lines" in message
    assert "We trained the model" in message and "Epoch 1/10 - Train Loss" in message


def test_two_seeds_side_by_side_are_two_runs(tmp_path: Path) -> None:
    # Two runs of one setup whose losses agree within 2%: folders side by side, both from
    # step 0, so not one run logged twice.
    rows = _csv_rows(REAL / "yolov8-fire" / "results.csv")
    for name, scale in (("seed0", 1.0), ("seed1", 1.02)):
        folder = tmp_path / name
        folder.mkdir()
        lines = ["epoch,train/box_loss,lr/pg1"]
        lines += [f"{int(r['epoch'])},{r['train/box_loss'] * scale},{r['lr/pg1']}" for r in rows]
        (folder / "results.csv").write_text("\n".join(lines) + "\n")
    ev = read_inputs([tmp_path / "seed0", tmp_path / "seed1"])
    assert len(ev.runs) == 2 and "side by side" in ev.runs[1].reason


def test_coloured_swin_style_epoch_lines() -> None:
    # "[date name](main.py 194): INFO Train: [0/50]\tlr 0.000300 ... loss 1.4072 (1.7318)",
    # " * Train Acc … Train Loss 1.732", "Validate: … Loss 1.2919 (1.2955)", " * Val … Val Loss
    # 1.296", in ANSI colours: epoch e's numbers stay at epoch e and an eval loss is not a
    # train loss.
    ev = read_inputs([REAL / "swin-style-ansi" / "output.log"])
    assert ev.step_unit == "epoch"
    loss, val = _dict(ev.series["loss"]), _dict(ev.series["val_loss"])
    assert sorted(loss) == list(range(7)) and sorted(val) == list(range(6))  # cut in epoch 6
    assert loss[0] == pytest.approx(1.732) and val[0] == pytest.approx(1.296)
    assert _dict(ev.series["lr"])[0] == pytest.approx(3e-4)


def test_the_inputs_say_which_run_is_analysed() -> None:
    # The report prints each input's note: runs kept apart are said there, with the reason.
    (summary,) = read_inputs([REAL / "detr-appended" / "log.txt"]).inputs
    assert "run 2 of this log is the run analysed (12 points)" in summary.note
    assert "run 1 of this log is not analysed (10 points): both start at step 0" in summary.note
    notes = {Path(i.path).name: i.note for i in read_inputs([REAL / "hf-cpt"]).inputs}
    assert "not analysed" in notes["cmd.txt"] and "counts records" not in notes["cmd.txt"]
    assert "its steps count records" in notes["cmd.txt"]
    assert "is the run analysed" in notes["trainer_state.json"]


def test_hf_eval_metrics_pass_through_by_name() -> None:
    # The trainer's best checkpoint is chosen by eval_wer here, not by a loss.
    ev = read_inputs([REAL / "hf-whisper" / "trainer_state.json"])
    state = json.loads((REAL / "hf-whisper" / "trainer_state.json").read_text())
    (entry,) = [e for e in state["log_history"] if "eval_wer" in e]
    assert _dict(ev.other["eval_wer"]) == {entry["step"]: entry["eval_wer"]}
    assert _dict(ev.series["val_loss"]) == {entry["step"]: entry["eval_loss"]}
    assert "eval_runtime" not in ev.series
