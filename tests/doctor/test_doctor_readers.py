"""Each reader on a file written the way its producer writes it, normalised to step → loss,
val_loss, lr, grad_norm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from doctor_builders import write_tb_session

from unified_prior.doctor.readers import read_inputs


def _series(evidence, name):
    s = evidence.series[name]
    return dict(zip(s.steps.tolist(), s.values.tolist(), strict=True))


def test_text_log_original_format(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(
        "2025-09-23 06:07:29,000 - __main__ - INFO - Starting training on cuda\n"
        "2025-09-23 06:07:30,000 - __main__ - INFO - Step 24,500: Loss = 0.070587\n"
        "2025-09-23 06:07:31,000 - __main__ - INFO - Step 25,000: Loss = 0.060000\n"
        "2025-09-23 06:07:31,500 - __main__ - INFO - Validation Loss: 0.0612\n"
        "Traceback (most recent call last): junk line\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss") == {24_500: 0.070587, 25_000: 0.06}
    assert _series(ev, "val_loss") == {25_000: 0.0612}
    (summary,) = ev.inputs
    assert (summary.reader, summary.records, summary.skipped) == ("text-log", 3, 2)


@pytest.mark.parametrize(
    ("line", "step", "expected"),
    [
        ("iter 100: loss 2.3100, time 12.35ms, mfu 3.2%", 100, {"loss": 2.31}),
        ("step 100 | loss 2.31 | lr 1.0e-04", 100, {"loss": 2.31, "lr": 1e-4}),
        (
            "step=100 loss=2.31 lr=0.0001 grad_norm=0.8",
            100,
            {"loss": 2.31, "lr": 1e-4, "grad_norm": 0.8},
        ),
        ("[2024-01-01T10:00:00Z] global_step: 100, train_loss: 2.31", 100, {"loss": 2.31}),
        ("Epoch 1 Step 100 val_loss=1.5 eval_loss_raw=1.7", 100, {"val_loss": 1.5}),
    ],
)
def test_text_log_line_styles(tmp_path: Path, line: str, step: int, expected: dict) -> None:
    log = tmp_path / "run.log"
    log.write_text(line + "\n")
    ev = read_inputs([log])
    got = {name: _series(ev, name)[step] for name in ev.series if name != "epoch"}
    assert got == pytest.approx(expected)


def test_text_log_hf_console_dicts_use_their_order(tmp_path: Path) -> None:
    log = tmp_path / "stdout.txt"
    log.write_text(
        "{'loss': 2.31, 'grad_norm': 1.5, 'learning_rate': 1e-05, 'epoch': 0.5}\n"
        "{'loss': 2.1, 'grad_norm': 1.2, 'learning_rate': 2e-05, 'epoch': 1.0}\n"
        "{'eval_loss': 2.0, 'eval_runtime': 3.1, 'epoch': 1.0}\n"
        "{'train_runtime': 100.0, 'train_loss': 2.2}\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss")[1] == 2.31 and _series(ev, "loss")[2] == 2.1
    assert _series(ev, "lr") == {1: 1e-5, 2: 2e-5}
    assert _series(ev, "val_loss") == {2: 2.0}
    assert "order" in ev.inputs[0].note


def test_lightning_metrics_csv(tmp_path: Path) -> None:
    # CSVLogger writes train and validation rows apart, with empty cells.
    csv = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    csv.parent.mkdir(parents=True)
    csv.write_text(
        "epoch,lr-AdamW,step,train_loss_step,val_loss,train_loss_epoch\n"
        "0,0.001,49,0.9,,\n"
        "0,,99,0.7,,\n"
        "0,,99,,0.75,\n"
        "0,,99,,,0.8\n"
    )
    ev = read_inputs([tmp_path])
    assert _series(ev, "loss")[49] == 0.9
    assert _series(ev, "lr") == {49: 0.001}
    assert _series(ev, "val_loss") == {99: 0.75}
    assert ev.inputs[0].reader == "csv"


def test_timm_summary_csv_uses_epochs(tmp_path: Path) -> None:
    csv = tmp_path / "summary.csv"
    csv.write_text(
        "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr\n"
        "0,6.9,6.8,0.1,0.5,0.0001\n"
        "1,6.1,6.0,1.2,4.1,0.0002\n"
    )
    ev = read_inputs([csv])
    assert _series(ev, "loss") == {0: 6.9, 1: 6.1}
    assert _series(ev, "val_loss") == {0: 6.8, 1: 6.0}
    assert _series(ev, "lr") == {0: 1e-4, 1: 2e-4}
    assert "epoch" in ev.inputs[0].note


def test_jsonl_with_junk_lines_counts_them(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(
        json.dumps({"step": 1, "train/loss": 3.0, "lr": 1e-4}) + "\n"
        "not json\n"
        "[1, 2]\n"
        + json.dumps({"step": 2, "loss": 2.5, "learning_rate": 2e-4, "grad_norm": 0.3})
        + "\n"
        + '{"step": 3, "loss": "nan"}\n'
        + '{"step": 4, "loss": 2.0'  # cut short by a crash
    )
    ev = read_inputs([path])
    loss = _series(ev, "loss")
    assert loss[1] == 3.0 and loss[2] == 2.5 and np.isnan(loss[3])
    assert _series(ev, "grad_norm") == {2: 0.3}
    assert (ev.inputs[0].records, ev.inputs[0].skipped) == (3, 3)


def test_hf_trainer_state(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoint-500"
    folder.mkdir()
    state = {
        "global_step": 500,
        "max_steps": 1000,
        "log_history": [
            {"epoch": 0.1, "grad_norm": 2.0, "learning_rate": 5e-5, "loss": 2.5, "step": 100},
            {"epoch": 0.2, "grad_norm": 1.0, "learning_rate": 4e-5, "loss": 2.0, "step": 200},
            {"epoch": 0.2, "eval_loss": 2.1, "eval_runtime": 1.0, "step": 200},
            {"train_runtime": 10.0, "total_flos": 1.0},
        ],
    }
    (folder / "trainer_state.json").write_text(json.dumps(state))
    ev = read_inputs([tmp_path])
    assert _series(ev, "loss") == {100: 2.5, 200: 2.0}
    assert _series(ev, "lr") == {100: 5e-5, 200: 4e-5}
    assert _series(ev, "val_loss") == {200: 2.1}
    assert _series(ev, "grad_norm") == {100: 2.0, 200: 1.0}
    assert ("max_steps", 1000) in [(k, v) for _, c in ev.configs for k, v in c.items()]
    summary = next(i for i in ev.inputs if i.reader == "hf-trainer-state")
    assert (summary.records, summary.skipped) == (3, 1)


def test_tensorboard_keeps_every_point_and_the_newest_duplicate(tmp_path: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    logdir = tmp_path / "tb"
    n = 12_000
    write_tb_session(
        logdir,
        {
            "train/loss": [(s, 1.0 + 1.0 / (s + 1)) for s in range(n)],
            "train/lr": [(s, 1e-4) for s in range(0, n, 100)],
        },
    )
    # A resumed session re-logs steps 11,000-11,999 with other values: those win.
    write_tb_session(logdir, {"train/loss": [(s, 0.5) for s in range(11_000, n)]})
    ev = read_inputs([logdir])
    loss = ev.series["loss"]
    assert len(loss) == n
    assert np.array_equal(loss.steps, np.arange(n))
    assert loss.value_at(10_999) == pytest.approx(1.0 + 1.0 / 11_000)
    assert np.all(loss.values[11_000:] == 0.5)
    assert len(ev.series["lr"]) == n // 100
    assert [r.step for r in ev.resumes] == [11_000]
    # tensorboard's default accumulator samples 10,000 per tag: the reason we read raw records.
    acc = EventAccumulator(str(logdir))
    acc.Reload()
    assert len(acc.Scalars("train/loss")) < n


def test_our_run_dir_header_and_checkpoints(tmp_path: Path) -> None:
    from doctor_builders import cosine_plan, write_run_dir

    plan = cosine_plan(1e-3, warmup=50, max_steps=500)
    run = write_run_dir(tmp_path / "run", plan, last_step=200, checkpoint_steps=(100, 200))
    ev = read_inputs([run])
    assert ev.run_dirs == [run]
    (header,) = ev.headers
    assert header.plan == plan.to_list()
    assert len(ev.series["loss"]) == 20 and len(ev.series["lr"]) == 20
    ckpts = ev.usable_checkpoints
    assert [c.step for c in ckpts] == [100, 200]
    assert ckpts[0].plan == plan.to_list()
    assert ckpts[1].group_lrs == [pytest.approx(plan.lr_at(199))] * len(ckpts[1].group_lrs)
    readers = sorted({i.reader for i in ev.inputs})
    assert readers == ["checkpoint", "config", "jsonl"]


def test_lightning_checkpoint_with_scheduler_state(tmp_path: Path) -> None:
    import torch
    from doctor_builders import tiny_model_and_adamw

    model, optimizer = tiny_model_and_adamw(1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5)
    torch.save(
        {
            "epoch": 3,
            "global_step": 1200,
            "pytorch-lightning_version": "2.4.0",
            "state_dict": model.state_dict(),
            "optimizer_states": [optimizer.state_dict()],
            "lr_schedulers": [scheduler.state_dict()],
            "hyper_parameters": {"lr": 1e-3, "scheduler": "cosine", "warmup_steps": 100},
        },
        tmp_path / "epoch=3-step=1200.ckpt",
    )
    ev = read_inputs([tmp_path / "epoch=3-step=1200.ckpt"])
    (ckpt,) = ev.usable_checkpoints
    assert ckpt.layout == "lightning" and ckpt.step == 1200
    assert ckpt.has_scheduler_state
    assert ckpt.group_lrs == [pytest.approx(5e-4)]
    assert ckpt.group_initial_lrs == [pytest.approx(1e-3)]
    assert ckpt.config is not None and ckpt.config["scheduler"] == "cosine"


def test_config_files_beside_the_logs(tmp_path: Path) -> None:
    from unified_prior.doctor.declared import find_declared

    for name, text in {
        "config.json": json.dumps({"lr_scheduler_type": "cosine", "learning_rate": 2e-4}),
        "train.yaml": "scheduler:\n  name: cosine\nwarmup_steps: 100\n",
        "run.toml": "[train]\nmax_steps = 1000\n",
    }.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "log.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    ev = read_inputs([tmp_path])
    assert sorted(Path(s).name for s, _ in ev.configs) == ["config.json", "run.toml", "train.yaml"]
    # Each file alone is partial; the first complete declaration wins, partial ones say why.
    declared = find_declared(ev)
    assert declared is not None and declared.plan is None and declared.problem


def test_metric_logger_lines_make_a_global_step(tmp_path: Path) -> None:
    # torchvision/DETR MetricLogger: step = epoch x iterations + iteration; the Test: batches
    # are evaluation, and the Averaged stats line after them is the eval loss.
    log = tmp_path / "log.txt"
    log.write_text(
        "Namespace(lr=0.0001, lr_backbone=1e-05, batch_size=2, epochs=300, lr_drop=200)\n"
        "Epoch: [0]  [  0/128]  eta: 0:01:00  lr: 0.000100  loss: 43.39 (43.39)  "
        "loss_ce: 1.99 (1.99)  time: 0.5  data: 0.1  max mem: 1000\n"
        "Epoch: [0]  [100/128]  eta: 0:00:10  lr: 0.000100  loss: 30.10 (35.00)  "
        "loss_ce: 1.50 (1.70)  time: 0.5  data: 0.1  max mem: 1000\n"
        "Epoch: [0] Total time: 0:01:04 (0.5 s / it)\n"
        "Averaged stats: lr: 0.000100  loss: 35.00 (35.00)\n"
        "Test:  [ 0/20]  eta: 0:00:05  loss: 25.0 (25.0)  time: 0.2\n"
        "Test: Total time: 0:00:04\n"
        "Averaged stats: class_error: 80.0  loss: 26.5 (26.5)\n"
        "Epoch: [1]  [  0/128]  eta: 0:01:00  lr: 0.000100  loss: 28.00 (28.00)  "
        "loss_ce: 1.20 (1.20)  time: 0.5  data: 0.1  max mem: 1000\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss") == {0: 43.39, 100: 30.10, 128: 28.0}
    assert _series(ev, "val_loss") == {100: 26.5}
    assert _series(ev, "epoch") == {0: 0.0, 100: 0.0, 128: 1.0}
    (config,) = [c for s, c in ev.configs if s.endswith("log.txt:1")]
    assert config == {
        "lr": 1e-4,
        "lr_backbone": 1e-5,
        "batch_size": 2,
        "epochs": 300,
        "lr_drop": 200,
    }
    assert "epoch × iterations" in ev.inputs[0].note


def test_fairseq_train_and_valid_lines(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(
        "2021-01-01 10:00:00 | INFO | train_inner | epoch 001:    100 / 1000 loss=9.21, "
        "nll_loss=8.9, ppl=478.2, wps=1000, ups=2, wpb=4000, bsz=100, num_updates=100, "
        "lr=1.25e-05, gnorm=2.1, loss_scale=128, train_wall=50\n"
        "2021-01-01 10:01:00 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 8.1 | "
        "nll_loss 7.5 | ppl 181 | num_updates 100\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss") == {100: 9.21}
    assert _series(ev, "val_loss") == {100: 8.1}
    assert _series(ev, "lr") == {100: 1.25e-05} and _series(ev, "grad_norm") == {100: 2.1}


def test_two_runs_appended_to_one_jsonl_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    first = [{"step": s, "loss": 5.0 - s / 100} for s in range(0, 300, 10)]
    second = [{"step": s, "loss": 9.0 - s / 50} for s in range(0, 200, 10)]
    path.write_text("".join(json.dumps(r) + "\n" for r in first + second))
    ev = read_inputs([path])
    assert [(r.step, r.kind) for r in ev.resumes] == [(0, "restart")]
    assert [r.points for r in ev.runs] == [30, 20]
    assert _series(ev, "loss")[100] == 4.0  # the first (longer) run, not a splice of both


def test_a_resume_in_one_csv_is_a_resume_not_another_run(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    rows = [f"{s},{5.0 - s / 100}" for s in range(0, 300, 10)]
    rows += [f"{s},{5.0 - s / 100 + 0.01}" for s in range(200, 400, 10)]  # resumed at 200
    path.write_text("step,loss\n" + "\n".join(rows) + "\n")
    ev = read_inputs([path])
    assert [(r.step, r.kind) for r in ev.resumes] == [(200, "resume")]
    assert len(ev.runs) == 1 and len(ev.series["loss"]) == 40
    assert _series(ev, "loss")[250] == pytest.approx(2.51)  # the resumed session wins


def test_wandb_chart_export_csv(tmp_path: Path) -> None:
    # W&B's "Export CSV" of a chart: Step, then "<run> - <metric>" with __MIN/__MAX bands.
    path = tmp_path / "wandb_export_2024-05-01T10_00_00.csv"
    path.write_text(
        '"Step","fiery-sun-12 - train/loss","fiery-sun-12 - train/loss__MIN",'
        '"fiery-sun-12 - train/loss__MAX"\n'
        '"0","2.5","2.4","2.6"\n"50","2.1","2.0","2.2"\n"100","1.9","1.8","2.0"\n'
    )
    ev = read_inputs([path])
    assert _series(ev, "loss") == {0: 2.5, 50: 2.1, 100: 1.9}
    assert "fiery-sun-12 - train/loss__MIN" in ev.other


def test_steps_counted_within_each_epoch_become_global(tmp_path: Path) -> None:
    # The PyTorch tutorial form: the step restarts every epoch; it is not a restarted run.
    log = tmp_path / "train.log"
    log.write_text(
        "".join(
            f"Epoch [{e}/3], Step [{i}/600], Loss: {2.0 / (e * 600 + i):.6f}\n"
            for e in (1, 2, 3)
            for i in (100, 200, 300, 400, 500, 600)
        )
    )
    ev = read_inputs([log])
    loss = ev.series["loss"]
    assert len(loss) == 18 and not ev.resumes and len(ev.runs) == 1
    assert loss.steps[0] == 700 and loss.steps[-1] == 2400


def test_keras_epoch_line_above_its_progress_lines(tmp_path: Path) -> None:
    log = tmp_path / "keras.log"
    log.write_text(
        "Epoch 1/3\n"
        "100/100 [==============================] - 5s 50ms/step - loss: 0.9 - val_loss: 0.8\n"
        "Epoch 2/3\n"
        "100/100 [==============================] - 5s 50ms/step - loss: 0.7 - val_loss: 0.6\n"
        "Epoch 3/3\n"
        "100/100 [==============================] - 5s 50ms/step - loss: 0.5 - val_loss: 0.55\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss") == {1: 0.9, 2: 0.7, 3: 0.5}
    assert _series(ev, "val_loss") == {1: 0.8, 2: 0.6, 3: 0.55}
    assert ev.step_unit == "epoch"


def test_timm_train_lines(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(
        "Train: 0 [   0/1251 (  0%)]  Loss: 6.950 (6.95)  Time: 2.1s  LR: 1.000e-06  Data: 1.2\n"
        "Train: 0 [ 100/1251 (  8%)]  Loss: 6.900 (6.92)  Time: 0.3s  LR: 1.000e-06  Data: 0.0\n"
        "Train: 1 [   0/1251 (  0%)]  Loss: 6.700 (6.70)  Time: 2.0s  LR: 2.000e-04  Data: 1.1\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "loss") == {0: 6.95, 100: 6.9, 1251: 6.7}
    assert _series(ev, "lr")[1251] == 2e-4


def test_jsonl_non_finite_values_as_strings_or_bare_tokens(tmp_path: Path) -> None:
    # Our trainer writes NaN/inf as strings, other loggers bare NaN/Infinity; pyarrow refuses
    # both, so they are parsed through stand-ins (jsonl._stand_in) and must come back exact.
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        '{"step": 1, "loss": 2.5, "lr": 0.001}\n{"step": 2, "loss": "nan", "lr": 0.001}\n'
        '{"step": 3, "loss": "inf", "lr": 0.001}\n{"step": 4, "loss": -Infinity, "lr": NaN}\n'
    )
    ev = read_inputs([path])
    loss = _series(ev, "loss")
    assert loss[1] == 2.5 and np.isnan(loss[2]) and loss[3] == np.inf and loss[4] == -np.inf
    assert np.isnan(_series(ev, "lr")[4]) and ev.inputs[0].skipped == 0


@pytest.mark.parametrize("data", [b"\r\x00", b"step,loss\r1,2\r\x002,\r", b'"step\r",loss\n1,2\n'])
def test_csv_with_stray_carriage_returns_never_raises(tmp_path: Path, data: bytes) -> None:
    # Found by the fuzz test: a lone \r in the first line made csv.reader raise.
    path = tmp_path / "metrics.csv"
    path.write_bytes(data)
    ev = read_inputs([path])
    assert ev.inputs[0].reader == "csv"


def test_printed_yaml_config_is_a_config_not_metrics(tmp_path: Path) -> None:
    # maskrcnn-benchmark/detectron2 print the whole config as YAML inside the log; its
    # BASE_LR must not become an LR point of the last step.
    log = tmp_path / "log.txt"
    log.write_text(
        "2018-10-29 16:45:28,877 maskrcnn_benchmark.trainer INFO: eta: 1 day, 15:03:03  "
        "iter: 0  loss: 5.1841 (5.1841)  lr: 0.000833  max mem: 8788\n"
        "2018-10-29 16:47:42,925 maskrcnn_benchmark INFO: Running with config:\n"
        "SOLVER:\n  BASE_LR: 0.01\n  MAX_ITER: 180000\n  STEPS: (120000, 160000)\n"
        "  WARMUP_ITERS: 500\n"
        "2018-10-29 16:47:48,318 maskrcnn_benchmark.trainer INFO: eta: 1 day, 13:55:05  "
        "iter: 20  loss: 1.1604 (1.6132)  lr: 0.000900  max mem: 9486\n"
    )
    ev = read_inputs([log])
    assert _series(ev, "lr") == {0: 0.000833, 20: 0.0009}
    assert _series(ev, "loss") == {0: 5.1841, 20: 1.1604}
    (config,) = [c for s, c in ev.configs if s.endswith("log.txt:2")]
    assert config["SOLVER"]["BASE_LR"] == 0.01 and config["SOLVER"]["MAX_ITER"] == 180000


@pytest.mark.parametrize(
    ("lines", "loss", "lr"),
    [
        (  # mmdet 2.x
            [
                "2022-03-01 10:00:00,000 - mmdet - INFO - Epoch [1][50/1000]\tlr: 1.000e-02, "
                "eta: 1:00:00, time: 0.500, data_time: 0.010, memory: 3000, loss_cls: 1.0, "
                "loss_bbox: 0.5, loss: 1.5, grad_norm: 5.0",
                "2022-03-01 10:01:00,000 - mmdet - INFO - Epoch [2][50/1000]\tlr: 2.000e-02, "
                "eta: 0:59:00, time: 0.500, data_time: 0.010, memory: 3000, loss_cls: 0.8, "
                "loss_bbox: 0.4, loss: 1.2, grad_norm: 4.0",
            ],
            {1050: 1.5, 2050: 1.2},
            {1050: 0.01, 2050: 0.02},
        ),
        (  # MMEngine, epoch- and iteration-based, with an evaluation line between
            [
                "2023/05/01 10:00:00 - mmengine - INFO - Epoch(train)  [1][ 50/1000]  "
                "base_lr: 1.0000e-02 lr: 1.0000e-03  eta: 1:00:00  time: 0.5  data_time: 0.01  "
                "memory: 3000  grad_norm: 5.0  loss: 1.5  loss_cls: 1.0  loss_bbox: 0.5",
                "2023/05/01 10:05:00 - mmengine - INFO - Epoch(val) [1][500/500]  "
                "coco/bbox_mAP: 0.3000  data_time: 0.01  time: 0.1",
                "2023/05/01 10:06:00 - mmengine - INFO - Iter(train) [ 2050/90000]  "
                "base_lr: 1.0000e-02 lr: 2.0000e-03  eta: 1:00:00  loss: 1.2",
            ],
            {1050: 1.5, 2050: 1.2},
            {1050: 0.001, 2050: 0.002},
        ),
    ],
)
def test_mmdetection_lines(tmp_path: Path, lines: list[str], loss: dict, lr: dict) -> None:
    log = tmp_path / "20220301_100000.log"
    log.write_text("\n".join(lines) + "\n")
    ev = read_inputs([log])
    assert _series(ev, "loss") == loss and _series(ev, "lr") == lr


def test_mmdet_log_json_iter_within_epoch_and_val_rows(tmp_path: Path) -> None:
    # mmdet 2.x work_dirs/*.log.json: a first line of env info, iter counted within each
    # epoch (it goes back at every new epoch: not a restart), "mode": "val" rows.
    path = tmp_path / "20220301_100000.log.json"
    rows = [{"env_info": "sys.platform: linux", "config": "model = dict()", "seed": 0}]
    for epoch in (1, 2):
        for it in (50, 100, 150):
            loss = 2.0 / (epoch * 150 + it)
            train = {"mode": "train", "epoch": epoch, "iter": it, "lr": 0.01 * epoch}
            rows.append({**train, "memory": 3000, "loss_cls": loss / 2, "loss": loss})
        val = {"mode": "val", "epoch": epoch, "iter": 500, "lr": 0.01 * epoch}
        rows.append({**val, "bbox_mAP": 0.1 * epoch, "loss": 0.9 / epoch})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ev = read_inputs([path])
    assert not ev.resumes and len(ev.runs) == 1
    loss = ev.series["loss"]
    assert loss.steps.tolist() == [50, 100, 150, 250, 300, 350]  # 200 iterations per epoch
    assert _series(ev, "val_loss") == {150: 0.9, 350: 0.45}
    assert _series(ev, "lr")[250] == 0.02


def test_keras_history_json(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text(
        json.dumps(
            {"loss": [0.9, 0.7, 0.5], "val_loss": [0.8, 0.6, 0.55], "accuracy": [0.5, 0.6, 0.7]}
        )
    )
    ev = read_inputs([path])
    assert _series(ev, "loss") == {0: 0.9, 1: 0.7, 2: 0.5}
    assert _series(ev, "val_loss")[2] == 0.55 and "accuracy" in ev.other
    assert not ev.configs and ev.step_unit == "record"


def test_a_config_with_per_group_lrs_stays_a_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"lr": [1e-4, 1e-5], "milestones": [100, 200], "epochs": 300}))
    ev = read_inputs([path])
    assert not ev.series and ev.configs[0][1]["epochs"] == 300


def test_tensorboard_ui_csv_download_named_by_its_tag(tmp_path: Path) -> None:
    path = tmp_path / "run-version_0-tag-train_loss.csv"
    path.write_text("Wall time,Step,Value\n1700000000.0,0,2.5\n1700000010.0,100,2.1\n")
    ev = read_inputs([path])
    assert _series(ev, "loss") == {0: 2.5, 100: 2.1}


@pytest.mark.parametrize(
    ("lines", "loss", "lr"),
    [
        (  # YOLOX: iter counted within the epoch
            [
                "2023-01-01 10:00:00 | INFO | yolox.core.trainer:250 - epoch: 1/300, "
                "iter: 10/500, mem: 3000Mb, iter_time: 0.5s, data_time: 0.01s, "
                "total_loss: 10.5, iou_loss: 3.0, l1_loss: 0.0, conf_loss: 5.0, cls_loss: 2.5, "
                "lr: 1.250e-05, size: 640, ETA: 1 day, 2:00:00",
                "2023-01-01 10:10:00 | INFO | yolox.core.trainer:250 - epoch: 2/300, "
                "iter: 10/500, mem: 3000Mb, iter_time: 0.5s, data_time: 0.01s, "
                "total_loss: 9.5, iou_loss: 2.5, l1_loss: 0.0, conf_loss: 4.5, cls_loss: 2.5, "
                "lr: 2.500e-05, size: 640, ETA: 1 day, 1:50:00",
            ],
            {510: 10.5, 1010: 9.5},
            {510: 1.25e-05, 1010: 2.5e-05},
        ),
        (  # PaddleDetection: a bracketed date prefix before the MetricLogger form
            [
                "[05/01 10:00:00] ppdet.engine INFO: Epoch: [0] [  0/100] "
                "learning_rate: 0.000100 loss: 2.500000 loss_cls: 1.5 eta: 1:00:00 "
                "batch_cost: 0.5 ips: 10.0 images/s",
                "[05/01 10:01:00] ppdet.engine INFO: Epoch: [1] [ 20/100] "
                "learning_rate: 0.000200 loss: 2.000000 loss_cls: 1.2 eta: 0:59:00 "
                "batch_cost: 0.5 ips: 10.0 images/s",
            ],
            {0: 2.5, 120: 2.0},
            {0: 1e-4, 120: 2e-4},
        ),
        (  # detectron2's printed events
            [
                "[05/01 10:00:00 d2.utils.events]:  eta: 0:10:00  iter: 19  total_loss: 2.7  "
                "loss_cls: 1.9  loss_box_reg: 0.5  lr: 1.9e-06  max_mem: 3000M",
                "[05/01 10:00:10 d2.utils.events]:  eta: 0:09:50  iter: 39  total_loss: 2.5  "
                "loss_cls: 1.7  loss_box_reg: 0.5  lr: 3.9e-06  max_mem: 3000M",
            ],
            {19: 2.7, 39: 2.5},
            {19: 1.9e-06, 39: 3.9e-06},
        ),
    ],
)
def test_more_printed_forms(tmp_path: Path, lines: list[str], loss: dict, lr: dict) -> None:
    log = tmp_path / "train_log.txt"
    log.write_text("\n".join(lines) + "\n")
    ev = read_inputs([log])
    assert _series(ev, "loss") == loss and _series(ev, "lr") == lr


def test_wandb_export_of_two_runs_is_two_runs(tmp_path: Path) -> None:
    path = tmp_path / "wandb_export.csv"
    path.write_text(
        '"Step","run-a - train/loss","run-b - train/loss"\n'
        + "".join(f'"{s}","{3.0 - s / 100}","{9.0 - s / 50}"\n' for s in range(0, 200, 10))
    )
    ev = read_inputs([path])
    assert len(ev.runs) == 2 and "2 runs" in ev.inputs[0].note
    assert sorted(r.sources[0].rsplit("[", 1)[1] for r in ev.runs) == ["run-a]", "run-b]"]


def test_tensorboard_epoch_tag_gives_the_epoch_series(tmp_path: Path) -> None:
    # HF writes train/epoch next to train/loss; the checks map steps to epochs with it.
    write_tb_session(
        tmp_path / "runs",
        {
            "train/loss": [(s, 2.0 - s / 1000) for s in range(10, 110, 10)],
            "train/learning_rate": [(s, 1e-4) for s in range(10, 110, 10)],
            "train/epoch": [(s, s / 50) for s in range(10, 110, 10)],
        },
    )
    ev = read_inputs([tmp_path / "runs"])
    assert _series(ev, "epoch")[100] == pytest.approx(2.0)
    assert len(ev.series["loss"]) == 10


@pytest.mark.parametrize(
    ("text", "steps"),
    [
        ("[116900/200000] Train loss: 0.5\n[117000/200000] Train loss: 0.4\n", [116900, 117000]),
        (  # the PyTorch DCGAN tutorial: [epoch/epochs][iteration/iterations]
            "[0/5][0/1583]\tLoss_D: 1.8\tLoss_G: 4.0\tD(x): 0.5\n"
            "[1/5][50/1583]\tLoss_D: 0.9\tLoss_G: 3.0\tD(x): 0.6\n",
            [0, 1633],
        ),
    ],
)
def test_a_bracketed_counter_is_the_clock(tmp_path: Path, text: str, steps: list[int]) -> None:
    log = tmp_path / "train.log"
    log.write_text(text)
    ev = read_inputs([log])
    assert ev.series["loss"].steps.tolist() == steps and ev.step_unit == "step"
